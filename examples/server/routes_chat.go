package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

func (s *Server) chatRoutes() {
	// Client.
	s.handle("POST", "/api/client/chat/start", roleClient, s.chatStart)
	s.handle("POST", "/api/client/chat/returning", roleClient, s.chatReturning)
	s.handle("POST", "/api/client/chat/cancel", roleClient, s.chatCancel)
	s.handle("POST", "/api/client/chat/fallback-to-blast", roleClient, s.chatFallback)
	s.handle("GET", "/api/client/pairings/{id}", roleClient, s.clientPairing)
	s.handle("GET", "/api/client/payments/{id}", roleClient, s.clientPayment)
	s.handle("GET", "/api/client/chat-sessions/{id}", roleClient, s.clientSession)
	s.handle("POST", "/api/client/chat-sessions/{id}/end", roleClient, s.clientEndSession)
	s.handle("POST", "/api/client/chat-sessions/{id}/extensions", roleClient, s.requestExtension)
	s.handle("POST", "/api/client/chat-sessions/{id}/reroute", roleClient, s.reroute)
	s.handle("GET", "/api/client/events", roleClient, s.serveSSE)
	// Mitra.
	s.handle("GET", "/api/mitra/pairing-offers", roleMitra, s.listOffers)
	s.handle("POST", "/api/mitra/pairing-offers/{pairing_id}/accept", roleMitra, s.acceptOffer)
	s.handle("POST", "/api/mitra/pairing-offers/{pairing_id}/decline", roleMitra, s.declineOffer)
	s.handle("GET", "/api/mitra/chat-sessions", roleMitra, s.mitraSessions)
	s.handle("POST", "/api/mitra/chat-sessions/{id}/end", roleMitra, s.mitraEndSession)
	s.handle("POST", "/api/mitra/extensions/{id}/approve", roleMitra, s.approveExtension)
	s.handle("POST", "/api/mitra/extensions/{id}/reject", roleMitra, s.rejectExtension)
	s.handle("GET", "/api/mitra/events", roleMitra, s.serveSSE)
	// Operators.
	s.handle("GET", "/api/internal/failed-pairings", roleViewer, s.listFailures)
	s.handle("POST", "/api/internal/failed-pairings/{id}/actions", roleSupport, s.failureAction)
}

// ---- shapes ----

type pairingJSON struct {
	ID            uuid.UUID  `json:"id"`
	Type          string     `json:"type"`
	Status        string     `json:"status"`
	TargetMitraID *uuid.UUID `json:"target_mitra_id"`
	Minutes       int        `json:"minutes"`
	Prepaid       bool       `json:"prepaid"`
	ExpiresAt     *time.Time `json:"expires_at"`
	ChatSessionID *uuid.UUID `json:"chat_session_id"`
	FailureReason *string    `json:"failure_reason"`
	CreatedAt     time.Time  `json:"created_at"`
	// QueuePosition and EstimatedWaitSeconds: while queued (GET /api/client/pairings/{id}),
	// its 1-based place and the estimated wait; null otherwise, and the estimate until
	// known.
	QueuePosition        *int   `json:"queue_position"`
	EstimatedWaitSeconds *int64 `json:"estimated_wait_seconds"`
	// Preferences are the client's (null: none); RoutingStep the 0-based routing step the
	// blast is at (SPEC §26).
	Preferences *preferencesJSON `json:"preferences"`
	RoutingStep int              `json:"routing_step"`
}

// preferencesJSON is a client's preferences (SPEC §26) on chat/start and on a pairing.
type preferencesJSON struct {
	Language string   `json:"language,omitempty"`
	Topics   []string `json:"topics,omitempty"`
	Gender   string   `json:"gender,omitempty"`
}

func toPreferencesJSON(p *pairing.Preferences) *preferencesJSON {
	if p == nil {
		return nil
	}
	return &preferencesJSON{Language: p.Language, Topics: p.Topics, Gender: p.Gender}
}

func (p *preferencesJSON) sdk() *pairing.Preferences {
	if p == nil {
		return nil
	}
	return &pairing.Preferences{Language: p.Language, Topics: p.Topics, Gender: p.Gender}
}

func toPairingJSON(p pairing.Pairing) pairingJSON {
	return pairingJSON{ID: p.ID, Type: string(p.Type), Status: string(p.Status), TargetMitraID: p.TargetMitraID,
		Minutes: p.Minutes, Prepaid: p.Prepaid, ExpiresAt: utcPtr(p.ExpiresAt), ChatSessionID: p.ChatSessionID,
		FailureReason: strPtr(string(p.FailureReason)), CreatedAt: p.CreatedAt.UTC(),
		Preferences: toPreferencesJSON(p.Preferences), RoutingStep: p.RoutingStep}
}

type sessionJSON struct {
	ID        uuid.UUID  `json:"id"`
	ClientID  uuid.UUID  `json:"client_id"`
	MitraID   uuid.UUID  `json:"mitra_id"`
	Status    string     `json:"status"`
	Minutes   int        `json:"minutes"`
	StartedAt *time.Time `json:"started_at"`
	EndsAt    *time.Time `json:"ends_at"`
	EndedAt   *time.Time `json:"ended_at"`
	EndReason *string    `json:"end_reason"`
	// MitraDisplayName is the mitra's name in the client's answers, ClientDisplayName the
	// client's in the mitra's (routes_client_history.go); neither in the others.
	MitraDisplayName  string `json:"mitra_display_name,omitempty"`
	ClientDisplayName string `json:"client_display_name,omitempty"`
}

func toSessionJSON(c pairing.ChatSession) sessionJSON {
	return sessionJSON{ID: c.ID, ClientID: c.ClientID, MitraID: c.MitraID, Status: string(c.Status), Minutes: c.Minutes,
		StartedAt: utcPtr(c.StartedAt), EndsAt: utcPtr(c.EndsAt), EndedAt: utcPtr(c.EndedAt), EndReason: strPtr(string(c.EndReason))}
}

type extensionJSON struct {
	ID            uuid.UUID `json:"id"`
	ChatSessionID uuid.UUID `json:"chat_session_id"`
	Minutes       int       `json:"minutes"`
	Amount        int64     `json:"amount"`
	Status        string    `json:"status"`
	DecidedBy     *string   `json:"decided_by"`
	RejectReason  *string   `json:"reject_reason"`
	// ExpiresAt is when a request waiting for the mitra's answer lapses (the lists of a
	// session's extensions only).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func toExtensionJSON(e extension.Extension) extensionJSON {
	return extensionJSON{ID: e.ID, ChatSessionID: e.ChatSessionID, Minutes: e.Minutes, Amount: e.Amount,
		Status: string(e.Status), DecidedBy: strPtr(string(e.DecidedBy)), RejectReason: strPtr(e.RejectReason)}
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// validMinutes checks a minutes field of a request body.
func validMinutes(m *int) (int, error) {
	if m == nil {
		return 0, curhat.Invalid("minutes", "is required")
	}
	if *m < 1 || *m > 1440 {
		return 0, curhat.Invalid("minutes", "must be 1..1440")
	}
	return *m, nil
}

// ---- client: pairing ----

func (s *Server) chatStart(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		Minutes     *int             `json:"minutes"`
		Preferences *preferencesJSON `json:"preferences"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	minutes, err := validMinutes(body.Minutes)
	if err != nil {
		return err
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if len(key) > 200 {
		return curhat.Invalid("Idempotency-Key", "must be at most 200 characters")
	}
	p, pay, err := s.app.pairer.StartBlast(r.Context(), pairing.StartParams{
		ClientID: c.ID, Minutes: minutes, IdempotencyKey: key, Preferences: body.Preferences.sdk(),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"pairing": toPairingJSON(p), "payment": toPaymentJSON(pay)})
	return nil
}

func (s *Server) chatReturning(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		MitraID string `json:"mitra_id"`
		Minutes *int   `json:"minutes"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	mitraID, err := bodyID("mitra_id", body.MitraID)
	if err != nil {
		return err
	}
	minutes, err := validMinutes(body.Minutes)
	if err != nil {
		return err
	}
	p, err := s.app.pairer.StartTargeted(r.Context(), c.ID, mitraID, minutes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"pairing": toPairingJSON(p)})
	return nil
}

// pairingBody reads {"pairing_id": "…"}.
func pairingBody(w http.ResponseWriter, r *http.Request) (uuid.UUID, error) {
	var body struct {
		PairingID string `json:"pairing_id"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return uuid.Nil, err
	}
	return bodyID("pairing_id", body.PairingID)
}

func (s *Server) chatCancel(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pairingBody(w, r)
	if err != nil {
		return err
	}
	p, err := s.app.pairer.Cancel(r.Context(), c.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"pairing": toPairingJSON(p)})
	return nil
}

func (s *Server) chatFallback(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pairingBody(w, r)
	if err != nil {
		return err
	}
	p, pay, err := s.app.pairer.FallbackToBlast(r.Context(), c.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"pairing": toPairingJSON(p), "payment": toPaymentJSON(pay)})
	return nil
}

func (s *Server) clientPairing(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := s.app.pairer.GetPairing(r.Context(), id)
	if err != nil {
		return err
	}
	if p.ClientID != c.ID {
		return curhat.ErrNotFound
	}
	out, err := s.pairingView(r.Context(), s.namesFor(c), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) clientPayment(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := s.app.payments.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if p.ClientID != c.ID {
		return curhat.ErrNotFound
	}
	writeJSON(w, http.StatusOK, toPaymentJSON(p))
	return nil
}

// ownSession returns the chat session {id} if the caller is its client or its mitra.
func (s *Server) ownSession(r *http.Request, c caller) (pairing.ChatSession, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return pairing.ChatSession{}, err
	}
	cs, err := s.app.pairer.GetChatSession(r.Context(), id)
	if err != nil {
		return cs, err
	}
	if (c.Kind == SubjectClient && cs.ClientID != c.ID) || (c.Kind == SubjectMitra && cs.MitraID != c.ID) {
		return pairing.ChatSession{}, curhat.ErrNotFound
	}
	return cs, nil
}

func (s *Server) clientSession(w http.ResponseWriter, r *http.Request, c caller) error {
	cs, err := s.ownSession(r, c)
	if err != nil {
		return err
	}
	js, err := s.namesFor(c).session(r.Context(), cs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, js)
	return nil
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request, c caller, by pairing.Party) error {
	cs, err := s.ownSession(r, c)
	if err != nil {
		return err
	}
	out, err := s.app.pairer.EndSession(r.Context(), pairing.EndParams{SessionID: cs.ID, By: by, CallerID: c.ID})
	if err != nil {
		return err
	}
	js, err := s.namesFor(c).session(r.Context(), out)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"chat_session": js})
	return nil
}

func (s *Server) clientEndSession(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.endSession(w, r, c, pairing.PartyClient)
}

func (s *Server) mitraEndSession(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.endSession(w, r, c, pairing.PartyMitra)
}

func (s *Server) reroute(w http.ResponseWriter, r *http.Request, c caller) error {
	cs, err := s.ownSession(r, c)
	if err != nil {
		return err
	}
	p, err := s.app.pairer.Reroute(r.Context(), c.ID, cs.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"pairing": toPairingJSON(p)})
	return nil
}

// ---- extensions ----

func (s *Server) requestExtension(w http.ResponseWriter, r *http.Request, c caller) error {
	cs, err := s.ownSession(r, c)
	if err != nil {
		return err
	}
	var body struct {
		Minutes *int `json:"minutes"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	minutes, err := validMinutes(body.Minutes)
	if err != nil {
		return err
	}
	ext, pay, err := s.app.exts.Request(r.Context(), extension.RequestParams{ClientID: c.ID, ChatSessionID: cs.ID, Minutes: minutes})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"extension": toExtensionJSON(ext), "payment": optPayment(pay)})
	return nil
}

func (s *Server) approveExtension(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ext, pay, err := s.app.exts.Approve(r.Context(), c.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"extension": toExtensionJSON(ext), "payment": toPaymentJSON(pay)})
	return nil
}

func (s *Server) rejectExtension(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ext, err := s.app.exts.Reject(r.Context(), c.ID, id, extension.RejectMitraDeclined)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"extension": toExtensionJSON(ext)})
	return nil
}

// ---- mitra: offers and sessions ----

func (s *Server) listOffers(w http.ResponseWriter, r *http.Request, c caller) error {
	offers, err := s.app.pairer.ListOffers(r.Context(), c.ID)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(offers))
	for _, o := range offers {
		out = append(out, map[string]any{"pairing_id": o.PairingID, "type": o.Type, "minutes": o.Minutes,
			"expires_at": o.ExpiresAt.UTC(), "queued": o.Queued, "client_display_name": o.ClientDisplayName})
	}
	writeJSON(w, http.StatusOK, map[string]any{"offers": out})
	return nil
}

func (s *Server) acceptOffer(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "pairing_id")
	if err != nil {
		return err
	}
	a, err := s.app.pairer.AcceptOffer(r.Context(), c.ID, id)
	if err != nil {
		return err
	}
	// The client's name comes back with the accept: no lookup of its own.
	js := toSessionJSON(a.Session)
	js.ClientDisplayName = a.ClientDisplayName
	writeJSON(w, http.StatusOK, map[string]any{"chat_session": js})
	return nil
}

func (s *Server) declineOffer(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "pairing_id")
	if err != nil {
		return err
	}
	if err := s.app.pairer.Decline(r.Context(), c.ID, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"declined": true})
	return nil
}

var sessionStatuses = map[string]bool{"pending_payment": true, "active": true, "ended": true, "cancelled": true}

func (s *Server) mitraSessions(w http.ResponseWriter, r *http.Request, c caller) error {
	q := pairing.ListSessionsParams{MitraID: &c.ID, Limit: 100}
	if st := r.URL.Query().Get("status"); st != "" {
		if !sessionStatuses[st] {
			return curhat.Invalid("status", "must be pending_payment, active, ended or cancelled")
		}
		q.Status = pairing.SessionStatus(st)
	}
	list, err := s.app.pairer.ListChatSessions(r.Context(), q)
	if err != nil {
		return err
	}
	names := s.namesFor(c)
	out := make([]sessionJSON, 0, len(list))
	for _, cs := range list {
		js, err := names.session(r.Context(), cs)
		if err != nil {
			return err
		}
		out = append(out, js)
	}
	writeJSON(w, http.StatusOK, map[string]any{"chat_sessions": out})
	return nil
}

// ---- operators: failed pairings ----

func (s *Server) listFailures(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	f := pairing.FailureFilter{Reason: q.Get("reason"), Status: q.Get("status"),
		Type: q.Get("type"), Page: 1, PageSize: 20}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &f.Page, 1_000_000}, {"page_size", &f.PageSize, 100}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				return curhat.Invalid(p.name, "must be an integer in 1..%d", p.max)
			}
			*p.dst = n
		}
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseTime(p.name, v)
			if err != nil {
				return err
			}
			*p.dst = &t
		}
	}
	for _, p := range []struct {
		name, value string
		allowed     []string
	}{
		{"reason", f.Reason, []string{"no_mitra_available", "timeout", "targeted_declined", "targeted_timeout", "queue_timeout"}},
		{"status", f.Status, []string{"open", "resolved"}},
		{"type", f.Type, []string{"blast", "targeted"}},
	} {
		if p.value != "" && !slices.Contains(p.allowed, p.value) {
			return curhat.Invalid(p.name, "must be one of %s", strings.Join(p.allowed, ", "))
		}
	}
	items, total, err := s.app.pairer.ListFailures(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]failureJSON, len(items))
	for i, f := range items {
		out[i] = failureJSON(f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": f.Page, "page_size": f.PageSize, "total": total})
	return nil
}

func (s *Server) failureAction(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Action string `json:"action"`
		Note   string `json:"note"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Action != pairing.ActionRefund && body.Action != pairing.ActionResolve {
		return curhat.Invalid("action", "must be refund or resolve")
	}
	if len(body.Note) > 2000 {
		return curhat.Invalid("note", "must be at most 2000 characters")
	}
	if err := validText("note", body.Note); err != nil {
		return err
	}
	before, err := s.app.pairer.GetFailure(r.Context(), id)
	if err != nil {
		return err
	}
	f, err := s.app.pairer.FailureAction(r.Context(), pairing.FailureActionParams{
		ID: id, Action: body.Action, Note: body.Note, Operator: c.changedBy(),
	})
	if errors.Is(err, curhat.ErrInvalidState) && body.Action == pairing.ActionRefund && s.failureRefundIsManual(r.Context(), id) {
		return errRefundManual
	}
	if err != nil {
		return err
	}
	s.audit(r, c, "failed_pairing."+body.Action, "failed_pairing", id.String(), failureJSON(before), failureJSON(f))
	writeJSON(w, http.StatusOK, failureJSON(f))
	return nil
}

// failureRefundIsManual reports whether a failed pairing's refund is one the provider
// cannot make (manual): its refund action then says to settle it by hand.
func (s *Server) failureRefundIsManual(ctx context.Context, failureID uuid.UUID) bool {
	f, err := s.app.pairer.GetFailure(ctx, failureID)
	if err != nil {
		return false
	}
	refunds, _, err := s.app.payments.ListRefunds(ctx, payment.RefundFilter{Cause: pairing.RefundCause(f.PairingID), Status: payment.RefundManual})
	return err == nil && len(refunds) > 0
}
