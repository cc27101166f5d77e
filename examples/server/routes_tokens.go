package main

import (
	"errors"
	"net/http"

	"github.com/curhat/curhat"
)

// Token revocation: a client or a mitra signs out (its own token), an operator revokes
// every token of a subject. Either way every instance forgets the tokens at once (Valkey
// pub/sub) and closes the event streams opened with them.

func (s *Server) tokenRoutes() {
	s.handle("POST", "/api/client/logout", roleClient, s.logout)
	s.handle("POST", "/api/mitra/logout", roleMitra, s.logout)
	s.handle("POST", "/api/internal/tokens/revoke", roleSupport, s.revokeSubjectTokens)
}

// logout revokes the token the request came with: 204, no body.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.app.auth.revokeToken(r.Context(), c.token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeSubjectTokens revokes every token of {subject_kind, subject_id}: 204, no body.
// Revoking a subject without tokens is not an error; an unknown subject is 404.
func (s *Server) revokeSubjectTokens(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		SubjectKind string `json:"subject_kind"`
		SubjectID   string `json:"subject_id"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	kind := SubjectKind(body.SubjectKind)
	if kind != SubjectClient && kind != SubjectMitra && kind != SubjectOperator {
		return curhat.Invalid("subject_kind", "must be client, mitra or operator")
	}
	if kind == SubjectOperator && c.Role < roleAdmin {
		return errNeedsRole(roleAdmin, c.Role) // only an admin acts on operators' tokens
	}
	id, err := bodyID("subject_id", body.SubjectID)
	if err != nil {
		return err
	}
	if err := s.app.subjectExists(r, kind, id); err != nil && !errors.Is(err, errOperatorDeactivated) {
		return err
	}
	if err := s.app.auth.revokeSubject(r.Context(), kind, id); err != nil {
		return err
	}
	s.audit(r, c, "token.revoke", string(kind), id.String(), nil, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
