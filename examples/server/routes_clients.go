package main

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// Clients for operators: find one, see it at a glance, suspend and reinstate it.
//
// A suspension (PATCH …/status {is_active: false}) revokes the client's tokens (in
// Postgres in the same transaction as the flag), every instance forgets them at once, and
// the client's event streams get account_closed {reason: client_suspended} and close.
// While suspended, every token of the client — one minted since included — answers 403
// CLIENT_SUSPENDED, and the SDK refuses the client new chats. Reinstating restores access
// for tokens minted afterwards; the ones the suspension revoked stay revoked.

func (s *Server) clientRoutes() {
	s.handle("GET", "/api/internal/clients", roleViewer, s.listClients)
	s.handle("GET", "/api/internal/clients/{id}", roleViewer, s.getClientOverview)
	s.handle("PATCH", "/api/internal/clients/{id}/status", roleSupport, s.setClientStatus)
}

// errClientSuspended refuses a token of a client that an operator suspended.
var errClientSuspended = newAPIError(http.StatusForbidden, "CLIENT_SUSPENDED", "this client account is suspended")

// listClients is GET /api/internal/clients?q=&page=&page_size=: newest first; q matches
// the display name (ignoring case) or is a client's id.
func (s *Server) listClients(w http.ResponseWriter, r *http.Request, _ caller) error {
	page, size, err := pageQuery(r, pairing.DefaultFailurePageSize, pairing.MaxFailurePageSize)
	if err != nil {
		return err
	}
	q := r.URL.Query().Get("q")
	if err := validText("q", q); err != nil {
		return err
	}
	items, total, err := s.app.pairer.ListClients(r.Context(), pairing.ClientQuery{Query: q, Page: page, PageSize: size})
	if err != nil {
		return err
	}
	out := make([]Client, 0, len(items))
	warned := make([]*Client, len(items))
	for i, c := range items {
		out = append(out, toClient(c))
		warned[i] = &out[i]
	}
	if err := s.app.clientWarnings(r.Context(), warned...); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": page, "page_size": size, "total": total})
	return nil
}

// clientOverviewJSON is GET /api/internal/clients/{id}: the client and what an agent
// needs at a glance.
type clientOverviewJSON struct {
	Client Client `json:"client"`
	// WaitingPairings are the client's pairings waiting now, as GET /api/internal/pairings
	// lists them (at most a few: one open pairing, and a "Curhat lagi" waiting for its
	// payment).
	WaitingPairings []waitingPairingJSON `json:"waiting_pairings"`
	// OpenChatSessions are the client's chats holding a mitra: active, or accepted and
	// waiting for the payment (pending_payment).
	OpenChatSessions []clientSessionJSON `json:"open_chat_sessions"`
	// ChatSessions counts every chat session the client had; ChatSessionsCompleted those
	// that ended expired, client_ended or mitra_ended.
	ChatSessions          int `json:"chat_sessions"`
	ChatSessionsCompleted int `json:"chat_sessions_completed"`
}

// clientSessionJSON is one open chat session of a client's overview.
type clientSessionJSON struct {
	ID          uuid.UUID  `json:"id"`
	Status      string     `json:"status"`
	MitraID     uuid.UUID  `json:"mitra_id"`
	MitraName   string     `json:"mitra_name"`
	Minutes     int        `json:"minutes"`
	StartedAt   *time.Time `json:"started_at"`
	EndsAt      *time.Time `json:"ends_at"`
	SecondsLeft int64      `json:"seconds_left"`
}

// completedReasons are the end reasons of a chat that ran its course (SPEC §24).
var completedReasons = []pairing.EndReason{pairing.EndExpired, pairing.EndClientEnded, pairing.EndMitraEnded}

// getClientOverview reads the client, its waiting pairings (one indexed query) and its
// chat sessions (one indexed query, counted here), and the name of each open session's
// mitra (one primary-key read each; a client holds one or two at most).
func (s *Server) getClientOverview(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	c, err := s.app.getClient(ctx, id)
	if err != nil {
		return err
	}
	waiting, _, err := s.app.pairer.ListWaitingPairings(ctx, pairing.WaitingQuery{ClientID: &id, PageSize: pairing.MaxFailurePageSize})
	if err != nil {
		return err
	}
	sessions, err := s.app.pairer.ListChatSessions(ctx, pairing.ListSessionsParams{ClientID: &id})
	if err != nil {
		return err
	}
	now := s.app.clock.Now()
	out := clientOverviewJSON{Client: c, WaitingPairings: make([]waitingPairingJSON, 0, len(waiting)),
		OpenChatSessions: []clientSessionJSON{}, ChatSessions: len(sessions)}
	for _, p := range waiting {
		out.WaitingPairings = append(out.WaitingPairings, toWaitingPairingJSON(p, now))
	}
	for _, cs := range sessions {
		if cs.Status == pairing.SessionEnded && slices.Contains(completedReasons, cs.EndReason) {
			out.ChatSessionsCompleted++
		}
		if !cs.Holds() {
			continue
		}
		js := clientSessionJSON{ID: cs.ID, Status: string(cs.Status), MitraID: cs.MitraID, Minutes: cs.Minutes,
			StartedAt: utcPtr(cs.StartedAt), EndsAt: utcPtr(cs.EndsAt)}
		if cs.EndsAt != nil {
			js.SecondsLeft = secondsBetween(now, *cs.EndsAt)
		}
		m, err := s.app.mirror.GetMitra(ctx, cs.MitraID)
		if err != nil {
			return err
		}
		js.MitraName = m.DisplayName
		out.OpenChatSessions = append(out.OpenChatSessions, js)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// setClientStatus is PATCH /api/internal/clients/{id}/status {is_active}: suspend or
// reinstate a client (audited client.status, the client before and after).
func (s *Server) setClientStatus(w http.ResponseWriter, r *http.Request, c caller) error {
	id, active, err := activeRequest(w, r)
	if err != nil {
		return err
	}
	before, err := s.app.getClient(r.Context(), id)
	if err != nil {
		return err
	}
	after, err := s.app.setClientActive(r.Context(), id, active)
	if err != nil {
		return err
	}
	after.WarningsCount = before.WarningsCount // a status change warns nobody
	s.audit(r, c, "client.status", "client", id.String(), before, after)
	writeJSON(w, http.StatusOK, after)
	return nil
}

// setClientActive suspends or reinstates a client. A suspension committed (with the
// client's tokens revoked in the same Postgres transaction; the in-memory accounts revoke
// them here): every instance forgets the client's cached tokens and closes its event
// streams, each with an account_closed event saying why. A reinstatement tells every
// instance to forget that the client's tokens were refused as suspended: the ones minted
// since answer at once, the ones the suspension revoked say 401.
func (a *App) setClientActive(ctx context.Context, id uuid.UUID, active bool) (Client, error) {
	c, err := a.pairer.SetClientActive(ctx, id, active)
	if err != nil {
		return Client{}, err
	}
	if active {
		a.auth.revoked(ctx, SubjectClient, id)
		return toClient(c), nil
	}
	if m, ok := a.accounts.(*memAccounts); ok {
		if err := m.RevokeSubject(ctx, SubjectClient, id, a.clock.Now()); err != nil {
			a.log.WarnContext(ctx, "revoke the tokens of a suspended client", "client", id, "err", err)
		}
	}
	a.auth.accountClosed(ctx, SubjectClient, id, reasonClientSuspended)
	return toClient(c), nil
}
