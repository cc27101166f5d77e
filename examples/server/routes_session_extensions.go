package main

import (
	"net/http"

	"github.com/curhat/curhat/extension"
)

// The extensions of a chat session, for its two parties: what an app re-reads after its
// event stream reconnected (events are best effort), an extension request waiting for the
// mitra's answer among them.

func (s *Server) sessionExtensionRoutes() {
	s.handle("GET", "/api/client/chat-sessions/{id}/extensions", roleClient, s.sessionExtensions)
	s.handle("GET", "/api/mitra/chat-sessions/{id}/extensions", roleMitra, s.sessionExtensions)
}

// sessionExtensions answers the extensions of a chat session of the caller's, oldest
// first; a session of somebody else is 404.
func (s *Server) sessionExtensions(w http.ResponseWriter, r *http.Request, c caller) error {
	cs, err := s.ownSession(r, c)
	if err != nil {
		return err
	}
	list, err := s.app.exts.ListForSession(r.Context(), cs.ID)
	if err != nil {
		return err
	}
	timeout := s.app.runtime.TargetedTimeout(r.Context())
	out := make([]extensionJSON, 0, len(list))
	for _, e := range list {
		js := toExtensionJSON(e)
		if e.Status == extension.StatusRequested {
			js.ExpiresAt = new(e.CreatedAt.Add(timeout).UTC())
		}
		out = append(out, js)
	}
	writeJSON(w, http.StatusOK, map[string]any{"extensions": out})
	return nil
}
