package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// A client's own data (SPEC §25, retention): GET /api/client/me/export answers all of it
// as one JSON document; DELETE /api/client/me erases it in place.
//
// The export is streamed: the client, its pairings (a page of pairing.MaxPairingsOfClient
// at a time, newest first), its chat sessions (newest first) each with its extensions and
// its messages — both parties', exportMessagePage at a time, whatever the session's age —,
// the payments of those pairings and extensions each with its refunds, the reports it
// filed, and its blocks. What is read is bounded per statement, never the whole document
// in memory. The client is read before the answer starts (an unknown or failing read is
// an ordinary error answer); a failure later cuts the document short, so that it does not
// parse as JSON, and is logged — the client asks again.
//
// The erasure deletes the messages of the client's sessions (both parties': the mitra's
// replies speak of what the client told; those an open report holds stay until the
// retention sweep takes them), redacts the notes of its reports, replaces its name,
// closes its account (every token refused, its event streams told account_closed
// {reason: client_erased}) and sets erased_at. Its pairings, sessions, payments, refunds
// and ledger lines stay under the same id. 409 INVALID_STATE while it has an open pairing
// (cancel it first) or a chat session active or waiting for its payment.

// errClientErased refuses every token of a client that erased its data: 401 as for a token
// that was never valid (the account is gone), its own value so that an event stream
// closing for it says why (account_closed {reason: client_erased}).
var errClientErased = newAPIError(http.StatusUnauthorized, "UNAUTHENTICATED", "this client account was erased")

func (s *Server) clientDataRoutes() {
	s.handle("GET", "/api/client/me/export", roleClient, s.exportMe)
	s.handle("DELETE", "/api/client/me", roleClient, s.eraseMe)
}

// exportMessagePage is how many messages one read of the export takes.
const exportMessagePage = chat.MaxHistoryLimit

// exportSessionJSON is a chat session of the export, with what was said in it.
type exportSessionJSON struct {
	sessionJSON
	Extensions []extensionJSON `json:"extensions"`
	Messages   []messageJSON   `json:"messages"`
}

// exportPaymentJSON is a payment of the export, with its refunds.
type exportPaymentJSON struct {
	paymentJSON
	Refunds []refundJSON `json:"refunds"`
}

// exportWriter writes the export's JSON a value at a time.
type exportWriter struct {
	w     http.ResponseWriter
	buf   bytes.Buffer
	first bool // no item written yet in the open array
}

func (e *exportWriter) raw(s string) { e.buf.WriteString(s) }

// field opens `"name":` (after a comma unless first).
func (e *exportWriter) field(name string, first bool) {
	if !first {
		e.buf.WriteByte(',')
	}
	e.buf.WriteString(`"` + name + `":`)
}

// value writes v as JSON.
func (e *exportWriter) value(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e.buf.Write(b)
	return nil
}

// array opens an array field; item adds to it; end closes it.
func (e *exportWriter) array(name string) {
	e.field(name, false)
	e.buf.WriteByte('[')
	e.first = true
}

func (e *exportWriter) item(v any) error {
	if !e.first {
		e.buf.WriteByte(',')
	}
	e.first = false
	if err := e.value(v); err != nil {
		return err
	}
	return e.flushIfBig()
}

func (e *exportWriter) end() { e.buf.WriteByte(']') }

// flushIfBig sends what is buffered once it is past 64 KiB.
func (e *exportWriter) flushIfBig() error {
	if e.buf.Len() < 64<<10 {
		return nil
	}
	return e.flush()
}

func (e *exportWriter) flush() error {
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return err
	}
	e.buf.Reset()
	return http.NewResponseController(e.w).Flush()
}

// exportMe is GET /api/client/me/export.
func (s *Server) exportMe(w http.ResponseWriter, r *http.Request, c caller) error {
	ctx := r.Context()
	me, err := s.app.getClient(ctx, c.ID)
	if err != nil {
		return err
	}
	sessions, err := s.app.pairer.ListChatSessions(ctx, pairing.ListSessionsParams{ClientID: &c.ID})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="curhat-export-%s.json"`, c.ID))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	e := &exportWriter{w: w}
	if err := s.writeExport(ctx, e, me, sessions); err != nil {
		// The answer started: cut it short (not valid JSON) rather than end it as if whole.
		s.log.WarnContext(ctx, "export cut short", "client_id", c.ID, "err", err)
		_ = e.flush()
		return nil
	}
	return e.flush()
}

// writeExport writes the document (see above).
func (s *Server) writeExport(ctx context.Context, e *exportWriter, me Client, sessions []pairing.ChatSession) error {
	e.raw("{")
	e.field("exported_at", true)
	if err := e.value(s.app.clock.Now().UTC()); err != nil {
		return err
	}
	e.field("client", false)
	if err := e.value(me); err != nil {
		return err
	}
	// Payments in the order they are met: each pairing's, then each session's extensions'.
	var payments []uuid.UUID
	seen := map[uuid.UUID]bool{}
	addPayment := func(id *uuid.UUID) {
		if id != nil && !seen[*id] {
			seen[*id] = true
			payments = append(payments, *id)
		}
	}

	e.array("pairings")
	var after *pairing.PairingCursor
	for {
		page, err := s.app.pairer.ClientPairings(ctx, pairing.ClientPairingsQuery{ClientID: me.ID, After: after,
			Limit: pairing.MaxPairingsOfClient})
		if err != nil {
			return err
		}
		for _, p := range page {
			addPayment(p.PaymentSessionID)
			if err := e.item(toPairingJSON(p)); err != nil {
				return err
			}
		}
		if len(page) < pairing.MaxPairingsOfClient {
			break
		}
		after = pairing.CursorOf(page[len(page)-1])
	}
	e.end()

	e.array("chat_sessions")
	for _, cs := range sessions {
		item, err := s.exportSession(ctx, cs, me.ID, addPayment)
		if err != nil {
			return err
		}
		if err := e.item(item); err != nil {
			return err
		}
	}
	e.end()

	e.array("payments")
	for _, id := range payments {
		pay, err := s.app.payments.Get(ctx, id)
		if err != nil {
			return err
		}
		refunds, err := s.app.refundsOf(ctx, id)
		if err != nil {
			return err
		}
		item := exportPaymentJSON{paymentJSON: toPaymentJSON(pay), Refunds: make([]refundJSON, 0, len(refunds))}
		for _, rf := range refunds {
			item.Refunds = append(item.Refunds, toRefundJSON(rf))
		}
		if err := e.item(item); err != nil {
			return err
		}
	}
	e.end()

	e.array("reports")
	if filed, ok := s.app.client.Reports().Store().(safety.FiledReports); ok {
		reports, err := filed.ReportsFiledBy(ctx, pairing.PartyClient, me.ID)
		if err != nil {
			return err
		}
		now := s.app.client.Reports().Now()
		for _, rep := range reports {
			if err := e.item(toReportJSON(rep, now)); err != nil {
				return err
			}
		}
	}
	e.end()

	e.array("blocks")
	blocks, err := s.app.pairer.ListBlocks(ctx, pairing.PartyClient, me.ID)
	if err != nil {
		return err
	}
	for _, b := range blocks {
		if err := e.item(blockJSON(pairing.PartyClient, b)); err != nil {
			return err
		}
	}
	e.end()
	e.raw("}\n")
	return nil
}

// exportSession is one chat session of the export: its extensions (their payments noted
// for the payments part) and every message still kept, oldest first.
func (s *Server) exportSession(ctx context.Context, cs pairing.ChatSession, clientID uuid.UUID, addPayment func(*uuid.UUID)) (exportSessionJSON, error) {
	out := exportSessionJSON{sessionJSON: toSessionJSON(cs), Extensions: []extensionJSON{}, Messages: []messageJSON{}}
	exts, err := s.app.exts.ListForSession(ctx, cs.ID)
	if err != nil {
		return out, err
	}
	for _, x := range exts {
		addPayment(x.PaymentSessionID)
		out.Extensions = append(out.Extensions, toExtensionJSON(x))
	}
	if cs.StartedAt == nil {
		return out, nil // never started: nothing was said
	}
	for afterSeq := int64(0); ; {
		h, err := s.app.client.Chat().Archive(ctx, chat.HistoryParams{ChatSessionID: cs.ID, Reader: pairing.PartyClient,
			ReaderID: clientID, AfterSeq: afterSeq, Limit: exportMessagePage})
		if err != nil {
			return out, err
		}
		for _, m := range h.Messages {
			out.Messages = append(out.Messages, toMessageJSON(m))
		}
		if len(h.Messages) < exportMessagePage {
			return out, nil
		}
		afterSeq = h.Messages[len(h.Messages)-1].Seq
	}
}

// clientErasureJSON is DELETE /api/client/me's answer.
type clientErasureJSON struct {
	Client          Client `json:"client"`
	MessagesDeleted int    `json:"messages_deleted"`
	ReportsRedacted int    `json:"reports_redacted"`
}

// eraseMe is DELETE /api/client/me.
func (s *Server) eraseMe(w http.ResponseWriter, r *http.Request, c caller) error {
	out, err := s.app.eraseClient(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientErasureJSON{Client: toClient(out.Client), MessagesDeleted: out.MessagesDeleted,
		ReportsRedacted: out.ReportsRedacted})
	return nil
}

// eraseClient erases a client (curhat.Client.EraseClient) and, once its row is scrubbed
// (with its tokens revoked in Postgres in the same transaction; the in-memory accounts
// revoke them here), tells every instance: its cached tokens are forgotten and its event
// streams get account_closed {reason: client_erased}.
func (a *App) eraseClient(ctx context.Context, id uuid.UUID) (curhat.ClientErasure, error) {
	out, err := a.client.EraseClient(ctx, id)
	if out.Client.ErasedAt == nil {
		return out, err // refused, or failed before the scrub: the account is as it was
	}
	if m, ok := a.accounts.(*memAccounts); ok {
		if rerr := m.RevokeSubject(ctx, SubjectClient, id, a.clock.Now()); rerr != nil {
			a.log.WarnContext(ctx, "revoke the tokens of an erased client", "client", id, "err", rerr)
		}
	}
	a.auth.accountClosed(ctx, SubjectClient, id, reasonClientErased)
	return out, err
}
