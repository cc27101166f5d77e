package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/safety"
)

// Reports (SPEC §25): a party reports the other party of a chat session; operators work
// the queue, read the reported session's messages and resolve each report with an outcome
// that acts. The SDK's safety.Reports owns the rules (who may report, one open report per
// reporter and session, due 72 hours after filing, act first then mark, one resolution);
// this file maps them to HTTP and does the acts the SDK leaves to the host (reportActs).
//
//   - POST /api/client/reports, POST /api/mitra/reports {chat_session_id, reason, message_ids?,
//     note?} → 201 the report. Not the caller's session: 404. Message ids that are not the
//     session's messages: 400 VALIDATION_FAILED on message_ids. An open report of the
//     caller about the session already: 409 REPORT_ALREADY_OPEN with error.report_id.
//   - GET /api/internal/reports?status=open|resolved&page=&page_size= → {items, page,
//     page_size, total}: open oldest due first, resolved newest resolution first; each
//     with due_at and overdue.
//   - POST /api/internal/reports/{id}/resolve {outcome, note} → 200 the report, audited
//     report.resolve (the report before and after). Resolved already: 409 INVALID_STATE; an
//     outcome that does not fit the reported party (mitra_deactivated of a report against
//     a client, client_suspended of one against a mitra): 400 on outcome.
//   - GET /api/internal/chat-sessions/{id}/messages?after_seq=&limit= → the session's
//     parties and messages: a read that is audited (chat_session.read_messages).

func (s *Server) reportRoutes() {
	s.handle("POST", "/api/client/reports", roleClient, s.fileReport)
	s.handle("POST", "/api/mitra/reports", roleMitra, s.fileReport)
	s.handle("GET", "/api/internal/reports", roleViewer, s.listReports)
	s.handle("POST", "/api/internal/reports/{id}/resolve", roleSupport, s.resolveReport)
	s.handle("GET", "/api/internal/chat-sessions/{id}/messages", roleSupport, s.readSessionMessages)
}

// reportJSON is a report as the API answers it.
type reportJSON struct {
	ID            uuid.UUID   `json:"id"`
	ChatSessionID uuid.UUID   `json:"chat_session_id"`
	Reporter      string      `json:"reporter"`
	ReporterID    uuid.UUID   `json:"reporter_id"`
	Reported      string      `json:"reported"`
	ReportedID    uuid.UUID   `json:"reported_id"`
	Reason        string      `json:"reason"`
	MessageIDs    []uuid.UUID `json:"message_ids"`
	Note          *string     `json:"note"`
	Status        string      `json:"status"`
	DueAt         time.Time   `json:"due_at"`
	// Overdue: open past its due_at, when it was read.
	Overdue        bool       `json:"overdue"`
	Outcome        *string    `json:"outcome"`
	ResolutionNote *string    `json:"resolution_note"`
	ResolvedBy     *uuid.UUID `json:"resolved_by"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func toReportJSON(r safety.Report, now time.Time) reportJSON {
	out := reportJSON{ID: r.ID, ChatSessionID: r.ChatSessionID, Reporter: string(r.Reporter), ReporterID: r.ReporterID,
		Reported: string(r.Reported), ReportedID: r.ReportedID, Reason: string(r.Reason), MessageIDs: r.MessageIDs,
		Note: strPtr(r.Note), Status: string(r.Status), DueAt: r.DueAt.UTC(), Overdue: r.Overdue(now),
		Outcome: strPtr(string(r.Outcome)), ResolutionNote: strPtr(r.ResolutionNote), ResolvedBy: r.ResolvedBy,
		ResolvedAt: utcPtr(r.ResolvedAt), CreatedAt: r.CreatedAt.UTC()}
	if out.MessageIDs == nil {
		out.MessageIDs = []uuid.UUID{}
	}
	return out
}

// errReportOpen refuses a second open report of one reporter about one session; the
// answer (errorTable's REPORT_ALREADY_OPEN) names the open one.
func errReportOpen(err *safety.ReportOpenError) error {
	ae, _ := toAPIError(err)
	ae.Details = map[string]any{"report_id": err.ReportID}
	return ae
}

// fileReport is POST /api/client/reports and POST /api/mitra/reports: the caller reports
// the other party of one of its chat sessions (see the file's doc).
func (s *Server) fileReport(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		ChatSessionID *string  `json:"chat_session_id"`
		Reason        *string  `json:"reason"`
		MessageIDs    []string `json:"message_ids"`
		Note          *string  `json:"note"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	switch {
	case body.ChatSessionID == nil:
		return curhat.Invalid("chat_session_id", "is required")
	case body.Reason == nil:
		return curhat.Invalid("reason", "is required: harassment, inappropriate, spam, safety or other")
	}
	sessionID, err := bodyID("chat_session_id", *body.ChatSessionID)
	if err != nil {
		return err
	}
	p := safety.FileParams{ChatSessionID: sessionID, Reporter: party(c), ReporterID: c.ID,
		Reason: safety.ReportReason(*body.Reason)}
	if len(body.MessageIDs) > safety.MaxReportMessages {
		return curhat.Invalid("message_ids", "must name at most %d messages", safety.MaxReportMessages)
	}
	for _, v := range body.MessageIDs {
		id, err := parseID(v)
		if err != nil {
			return curhat.Invalid("message_ids", "must be UUIDs of messages of this chat session")
		}
		p.MessageIDs = append(p.MessageIDs, id)
	}
	if body.Note != nil {
		p.Note = *body.Note
	}
	rep, err := s.app.client.Reports().File(r.Context(), p)
	var open *safety.ReportOpenError
	if errors.As(err, &open) {
		return errReportOpen(open)
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "report filed", "report_id", rep.ID, "chat_session_id", rep.ChatSessionID,
		"reporter", rep.Reporter, "reason", rep.Reason)
	writeJSON(w, http.StatusCreated, toReportJSON(rep, s.app.client.Reports().Now()))
	return nil
}

// listReports is GET /api/internal/reports?status=open|resolved&page=&page_size= (status
// defaults to open).
func (s *Server) listReports(w http.ResponseWriter, r *http.Request, _ caller) error {
	page, size, err := pageQuery(r, safety.DefaultReportPageSize, safety.MaxReportPageSize)
	if err != nil {
		return err
	}
	status := safety.ReportOpen
	if v := r.URL.Query().Get("status"); v != "" {
		status = safety.ReportStatus(v)
	}
	if !status.Valid() {
		return curhat.Invalid("status", "must be open or resolved")
	}
	reports := s.app.client.Reports()
	items, total, err := reports.List(r.Context(), safety.ReportQuery{Status: status, Page: page, PageSize: size})
	if err != nil {
		return err
	}
	now := reports.Now()
	out := make([]reportJSON, len(items))
	for i, it := range items {
		out[i] = toReportJSON(it, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": page, "page_size": size, "total": total})
	return nil
}

// resolveReport is POST /api/internal/reports/{id}/resolve {outcome, note}: the act, then
// the mark (safety.Reports.Resolve), audited report.resolve with the report before and
// after.
func (s *Server) resolveReport(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Outcome *string `json:"outcome"`
		Note    *string `json:"note"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	switch {
	case body.Outcome == nil:
		return curhat.Invalid("outcome", "is required: no_action, warned, mitra_deactivated, client_suspended or refunded")
	case body.Note == nil:
		return curhat.Invalid("note", "is required: say what was decided (a warning sends it to the reported party)")
	}
	reports := s.app.client.Reports()
	before, err := reports.Get(r.Context(), id)
	if err != nil {
		return err
	}
	after, err := reports.Resolve(r.Context(), safety.ResolveParams{ReportID: id, Outcome: safety.Outcome(*body.Outcome),
		Note: *body.Note, OperatorID: c.ID})
	if err != nil {
		return err
	}
	now := reports.Now()
	out := toReportJSON(after, now)
	s.audit(r, c, "report.resolve", "report", id.String(), toReportJSON(before, now), out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// transcriptJSON is GET /api/internal/chat-sessions/{id}/messages.
type transcriptJSON struct {
	ChatSessionID uuid.UUID     `json:"chat_session_id"`
	ClientID      uuid.UUID     `json:"client_id"`
	MitraID       uuid.UUID     `json:"mitra_id"`
	Status        string        `json:"status"`
	Items         []messageJSON `json:"items"`
}

// readSessionMessages is GET /api/internal/chat-sessions/{id}/messages?after_seq=&limit=:
// a page of any chat session's messages, oldest first, for support and admins. Every
// answered read is audited (chat_session.read_messages: what was read, no text).
func (s *Server) readSessionMessages(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	after, limit, err := seqPage(r, safety.DefaultTranscriptLimit, safety.MaxTranscriptLimit)
	if err != nil {
		return err
	}
	t, err := s.app.client.Reports().Transcript(r.Context(), safety.TranscriptQuery{ChatSessionID: id, AfterSeq: after, Limit: limit})
	if err != nil {
		return err
	}
	out := transcriptJSON{ChatSessionID: t.ChatSessionID, ClientID: t.ClientID, MitraID: t.MitraID, Status: string(t.Status),
		Items: make([]messageJSON, len(t.Messages))}
	var seqs []int64
	for i, m := range t.Messages {
		out.Items[i] = toMessageJSON(m)
		seqs = append(seqs, m.Seq)
	}
	read := map[string]any{"after_seq": after, "limit": limit, "messages": len(seqs)}
	if len(seqs) > 0 {
		read["first_seq"], read["last_seq"] = seqs[0], seqs[len(seqs)-1]
	}
	s.audit(r, c, "chat_session.read_messages", "chat_session", id.String(), nil, read)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ---- the acts of a resolution (safety.ReportActs) ----

// reportActs does what a resolution does to the reported party, through the same paths as
// the operators' own routes, so that tokens, event streams and sessions behave as they do
// there. Each is idempotent: a resolution retried after its mark failed acts again.
type reportActs struct{ app *App }

var _ safety.ReportActs = reportActs{}

// DeactivateMitra is PATCH /api/internal/mitras/{id}/status {is_active: false}: the mitra
// goes offline, its tokens are revoked and its streams closed (account_closed), its
// sessions end and continue as prepaid blasts. Deactivating a deactivated mitra changes
// nothing.
func (a reportActs) DeactivateMitra(ctx context.Context, r safety.Report) error {
	_, err := a.app.setMitraActive(ctx, r.ReportedID, false)
	return err
}

// SuspendClient is PATCH /api/internal/clients/{id}/status {is_active: false}: the
// client's tokens are revoked and its streams closed (account_closed); it starts no chat.
func (a reportActs) SuspendClient(ctx context.Context, r safety.Report) error {
	_, err := a.app.setClientActive(ctx, r.ReportedID, false)
	return err
}

// RefundClient gives the session's client back what is left of what it paid for the
// session, with the operators' refund machinery:
//
//   - a session still active ends operator_ended with the full refund
//     (pairing.Pairer.EndByOperator, refund full: the chat_start payment or the carry-over
//     of a continued session, and the paid extensions; recorded before the session's value
//     is posted, so nothing is earned of it);
//   - a session over already: each payment made for it — its pairing's chat_start payment
//     and its paid extensions — refunds what is left of it (its amount less every refund),
//     as an operator's refund (payment.Service.OperatorRefund) whose key names the report,
//     reversing the mitra's earning where the session earned it.
//
// A retry finds what it refunded before (by the key's cause) and refunds nothing twice.
// The money a rerouted session carried over from an earlier payment is refunded by the
// first branch only: once such a session is over, refund its original payment by hand.
func (a reportActs) RefundClient(ctx context.Context, r safety.Report) error {
	cs, err := a.app.pairer.GetChatSession(ctx, r.ChatSessionID)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("report %s resolved: refunded", r.ID)
	if cs.Status == pairing.SessionActive {
		_, _, err := a.app.pairer.EndByOperator(ctx, pairing.OperatorEndParams{SessionID: cs.ID, Refund: pairing.EndRefundFull,
			Reason: reason})
		if !errors.Is(err, curhat.ErrInvalidState) {
			return err // ended and refunded, or failed
		}
		// It ended meanwhile: refund what is left of its payments.
	}
	payments, err := a.sessionPayments(ctx, cs)
	if err != nil {
		return err
	}
	key := "report:" + r.ID.String()
	cause := payment.OperatorRefundCause(key)
	for _, id := range payments {
		pay, err := a.app.payments.Get(ctx, id)
		if err != nil {
			return err
		}
		if !pay.Status.Charged() {
			continue // never paid: nothing to give back
		}
		refunds, err := a.app.refundsOf(ctx, id)
		if err != nil {
			return err
		}
		left, done := pay.Amount, false
		for _, ref := range refunds {
			left -= ref.Amount
			done = done || ref.Cause == cause
		}
		if done || left <= 0 {
			continue
		}
		_, _, err = a.app.payments.OperatorRefund(ctx, payment.OperatorRefundParams{PaymentID: id, Key: key, Amount: left,
			Reason: reason, ReverseEarning: true})
		var limit *payment.RefundLimitError
		if errors.As(err, &limit) && limit.Remaining == 0 {
			continue // another refund took the rest meanwhile
		}
		if err != nil {
			return fmt.Errorf("refund payment %s of chat session %s: %w", id, cs.ID, err)
		}
	}
	return nil
}

// sessionPayments are the payments made for a chat session: its pairing's chat_start
// payment (none for a prepaid one) and its paid extensions.
func (a reportActs) sessionPayments(ctx context.Context, cs pairing.ChatSession) ([]uuid.UUID, error) {
	var out []uuid.UUID
	pr, err := a.app.pairer.GetPairing(ctx, cs.PairingID)
	if err != nil {
		return nil, err
	}
	if pr.PaymentSessionID != nil {
		out = append(out, *pr.PaymentSessionID)
	}
	exts, err := a.app.exts.PaidExtensions(ctx, cs.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range exts {
		out = append(out, e.PaymentID)
	}
	return out, nil
}

// ---- warnings on the profiles ----

// mitraWarnings sets the warnings count of a mitra's answer.
func (a *App) mitraWarnings(ctx context.Context, m *mitraJSON) error {
	n, err := a.client.Reports().WarningsCount(ctx, pairing.PartyMitra, m.ID)
	m.WarningsCount = n
	return err
}

// clientWarnings sets the warnings counts of clients' answers (one query for them all).
func (a *App) clientWarnings(ctx context.Context, cs ...*Client) error {
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	counts, err := a.client.Reports().WarningsCounts(ctx, pairing.PartyClient, ids)
	if err != nil {
		return err
	}
	for _, c := range cs {
		c.WarningsCount = counts[c.ID]
	}
	return nil
}
