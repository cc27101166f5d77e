package main

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pairing"
)

// Live work for operators: who is waiting, and which chats are running.
//
//   - GET /api/internal/pairings?status=&page=&page_size= lists the waiting pairings, the
//     client waiting longest first. status is one of pairing.WaitingStatuses (none: every
//     one); awaiting_payment covers a blast before it is paid and a "Curhat lagi" the
//     mitra accepted whose chat waits for the client's payment (that pairing is matched,
//     its chat session pending_payment).
//   - GET /api/internal/chat-sessions?status=active&page=&page_size= lists the running
//     chats, the one ending soonest first.
//
// Ages and time left are counted on the server's clock when the list is read.

// workRoutes registers the live lists, the clients (routes_clients.go) and the mitra
// profile edits (routes_mitra_profile.go).
func (s *Server) workRoutes() {
	s.handle("GET", "/api/internal/pairings", roleViewer, s.listWaitingPairings)
	s.handle("GET", "/api/internal/chat-sessions", roleViewer, s.listActiveSessions)
	s.clientRoutes()
	s.mitraProfileRoutes()
}

// waitingPairingJSON is one row of GET /api/internal/pairings.
type waitingPairingJSON struct {
	ID uuid.UUID `json:"id"`
	// Status is what the pairing waits in (pairing.WaitingPairing.Waiting).
	Status     string    `json:"status"`
	Type       string    `json:"type"`
	ClientID   uuid.UUID `json:"client_id"`
	ClientName string    `json:"client_name"`
	Minutes    int       `json:"minutes"`
	// AgeSeconds is how long the client has waited: since the pairing was created.
	AgeSeconds int64     `json:"age_seconds"`
	CreatedAt  time.Time `json:"created_at"`
	// OffersSent counts the mitras offered the pairing so far.
	OffersSent    int        `json:"offers_sent"`
	TargetMitraID *uuid.UUID `json:"target_mitra_id"`
	PaymentID     *uuid.UUID `json:"payment_id"`
	// ChatSessionID is the accepted chat of a "Curhat lagi" waiting for its payment.
	ChatSessionID *uuid.UUID `json:"chat_session_id"`
	// ExpiresAt is the deadline of a searching, targeted_waiting or queued pairing.
	ExpiresAt *time.Time `json:"expires_at"`
	// RoutingStep is the blast's 0-based routing step, RoutingMatch what that step asks
	// of a mitra (all, language or any; SPEC §26).
	RoutingStep  int    `json:"routing_step"`
	RoutingMatch string `json:"routing_match"`
}

func toWaitingPairingJSON(w pairing.WaitingPairing, now time.Time) waitingPairingJSON {
	return waitingPairingJSON{ID: w.ID, Status: string(w.Waiting), Type: string(w.Type), ClientID: w.ClientID,
		ClientName: w.ClientName, Minutes: w.Minutes, AgeSeconds: secondsBetween(w.CreatedAt, now),
		CreatedAt: w.CreatedAt.UTC(), OffersSent: w.Offers, TargetMitraID: w.TargetMitraID, PaymentID: w.PaymentSessionID,
		ChatSessionID: w.ChatSessionID, ExpiresAt: utcPtr(w.ExpiresAt),
		RoutingStep: w.RoutingStep, RoutingMatch: string(w.StepMatch())}
}

// secondsBetween is the whole seconds from a to b, never below 0.
func secondsBetween(a, b time.Time) int64 { return max(int64(b.Sub(a)/time.Second), 0) }

func (s *Server) listWaitingPairings(w http.ResponseWriter, r *http.Request, _ caller) error {
	page, size, err := pageQuery(r, pairing.DefaultFailurePageSize, pairing.MaxFailurePageSize)
	if err != nil {
		return err
	}
	q := pairing.WaitingQuery{Page: page, PageSize: size}
	if st := r.URL.Query().Get("status"); st != "" {
		q.Statuses = []pairing.Status{pairing.Status(st)}
	}
	items, total, err := s.app.pairer.ListWaitingPairings(r.Context(), q)
	if err != nil {
		return err
	}
	now := s.app.clock.Now()
	out := make([]waitingPairingJSON, 0, len(items))
	for _, it := range items {
		out = append(out, toWaitingPairingJSON(it, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": page, "page_size": size, "total": total})
	return nil
}

// activeSessionJSON is one row of GET /api/internal/chat-sessions.
type activeSessionJSON struct {
	ID         uuid.UUID  `json:"id"`
	ClientID   uuid.UUID  `json:"client_id"`
	ClientName string     `json:"client_name"`
	MitraID    uuid.UUID  `json:"mitra_id"`
	MitraName  string     `json:"mitra_name"`
	Minutes    int        `json:"minutes"`
	StartedAt  *time.Time `json:"started_at"`
	EndsAt     *time.Time `json:"ends_at"`
	// SecondsLeft is the time until ends_at (0 once it passed and before the expiry runs).
	SecondsLeft int64 `json:"seconds_left"`
}

func toActiveSessionJSON(a pairing.ActiveSession, now time.Time) activeSessionJSON {
	out := activeSessionJSON{ID: a.ID, ClientID: a.ClientID, ClientName: a.ClientName, MitraID: a.MitraID,
		MitraName: a.MitraName, Minutes: a.Minutes, StartedAt: utcPtr(a.StartedAt), EndsAt: utcPtr(a.EndsAt)}
	if a.EndsAt != nil {
		out.SecondsLeft = secondsBetween(now, *a.EndsAt)
	}
	return out
}

func (s *Server) listActiveSessions(w http.ResponseWriter, r *http.Request, _ caller) error {
	if st := r.URL.Query().Get("status"); st != "" && st != string(pairing.SessionActive) {
		return curhat.Invalid("status", "must be active")
	}
	page, size, err := pageQuery(r, pairing.DefaultFailurePageSize, pairing.MaxFailurePageSize)
	if err != nil {
		return err
	}
	items, total, err := s.app.pairer.ListActiveSessions(r.Context(), pairing.ActiveSessionQuery{Page: page, PageSize: size})
	if err != nil {
		return err
	}
	now := s.app.clock.Now()
	out := make([]activeSessionJSON, 0, len(items))
	for _, it := range items {
		out = append(out, toActiveSessionJSON(it, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": page, "page_size": size, "total": total})
	return nil
}
