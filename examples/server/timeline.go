package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
)

// Timelines for operators (SPEC §24, Lookup): what happened to a payment, or to a client,
// as a list of events oldest first, read from the durable rows of every domain on either
// backend — nothing on the hot paths records anything for them.
//
// A payment's story is its pairing's: the payments of it (the chat_start payment and the
// extensions' payments), the offers, the match, the chat session and its end, the
// refunds of those payments and the ledger's transactions of them and of the session —
// followed forward through reroutes (the prepaid blast continuing a rerouted session, and
// its session), at most maxStoryLinks pairings. A client's timeline is the stories of
// its latest clientTimelinePairings pairings, cut to the newest clientTimelineEvents
// events.
//
// Each event is at the time its row records. Where no row records the instant itself,
// the closest durable time stands for it:
//   - payment_failed and payment_expired: the payment's updated_at (its last change: the
//     one that closed it);
//   - matched: the chat session's created_at (the accept inserts it);
//   - extension_paid: its payment's paid_at (the extension is applied as it is paid);
//   - refund_succeeded and refund_failed: the refund's updated_at (the outcome of its last
//     attempt: a refund refused and then made shows as succeeded only, its attempts say
//     how many it took);
//   - offers_sent: the offers' created_at, one event per instant (a blast's fan-out, a
//     ring, a mitra who came online while it searched).

// The kinds of timeline events, in the order a story happens: events of one instant are
// listed in this order.
var timelineKinds = []string{
	"payment_created", "payment_paid", "payment_failed", "payment_expired", "offers_sent", "matched", "session_started",
	"extension_paid", "session_ended", "refund_requested", "refund_succeeded", "refund_failed", "ledger",
}

// Bounds of the timelines.
const (
	// maxStoryLinks bounds the pairings a payment's story follows through reroutes.
	maxStoryLinks = 8
	// clientTimelinePairings is how many of a client's latest pairings its timeline tells.
	clientTimelinePairings = 20
	// clientTimelineEvents is how many of the newest events a client's timeline keeps.
	clientTimelineEvents = 200
)

// timelineItem is one event: when, what, and the ids and amounts it is about.
type timelineItem struct {
	At            time.Time  `json:"at"`
	Kind          string     `json:"kind"`
	PaymentID     *uuid.UUID `json:"payment_id,omitempty"`
	PairingID     *uuid.UUID `json:"pairing_id,omitempty"`
	ChatSessionID *uuid.UUID `json:"chat_session_id,omitempty"`
	ExtensionID   *uuid.UUID `json:"extension_id,omitempty"`
	RefundID      *uuid.UUID `json:"refund_id,omitempty"`
	MitraID       *uuid.UUID `json:"mitra_id,omitempty"`
	TxnID         *uuid.UUID `json:"txn_id,omitempty"`
	// Amount: what a payment charged, an extension added, a refund gives back, a ledger
	// transaction moved (the sum of its debit lines).
	Amount *int64 `json:"amount,omitempty"`
	// Count: how many mitras an offers_sent event offered the pairing.
	Count *int `json:"count,omitempty"`
	// Reason: a session's end_reason, a refund's reason, why a refund failed (the
	// provider's answer), a payment_failed's status (failed or cancelled).
	Reason string `json:"reason,omitempty"`
	// LedgerKind: a ledger event's transaction kind.
	LedgerKind string `json:"ledger_kind,omitempty"`
	// key names the event, so that one found twice (a ledger transaction of a payment and
	// of a session) is listed once; seq is the order it was found in (ledger transactions
	// are found in the order they were posted).
	key string
	seq int
}

// story gathers the events of pairings and payments, each once.
type story struct {
	app      *App
	items    map[string]timelineItem
	payments map[uuid.UUID]bool
	// refunds are each payment's refunds, oldest first.
	refunds  map[uuid.UUID][]payment.Refund
	pairings []uuid.UUID
	sessions []uuid.UUID
}

func newStory(app *App) *story {
	return &story{app: app, items: map[string]timelineItem{}, payments: map[uuid.UUID]bool{},
		refunds: map[uuid.UUID][]payment.Refund{}}
}

// add adds an event, named by its kind and name (the id of the row it comes from).
func (st *story) add(it timelineItem, name string) {
	it.At, it.key, it.seq = it.At.UTC(), it.Kind+":"+name, len(st.items)
	if _, ok := st.items[it.key]; !ok {
		st.items[it.key] = it
	}
}

// addPayment adds a payment's events and its refunds'.
func (st *story) addPayment(ctx context.Context, p payment.Session) error {
	if st.payments[p.ID] {
		return nil
	}
	st.payments[p.ID] = true
	id := p.ID
	st.add(timelineItem{At: p.CreatedAt, Kind: "payment_created", PaymentID: &id, Amount: &p.Amount}, id.String())
	switch {
	case p.PaidAt != nil:
		st.add(timelineItem{At: *p.PaidAt, Kind: "payment_paid", PaymentID: &id, Amount: &p.Amount}, id.String())
	case p.Status == payment.StatusExpired:
		st.add(timelineItem{At: p.UpdatedAt, Kind: "payment_expired", PaymentID: &id}, id.String())
	case p.Status == payment.StatusFailed || p.Status == payment.StatusCancelled:
		st.add(timelineItem{At: p.UpdatedAt, Kind: "payment_failed", PaymentID: &id, Reason: string(p.Status)}, id.String())
	}
	refunds, err := st.app.refundsOf(ctx, id)
	if err != nil {
		return err
	}
	st.refunds[id] = refunds
	for _, r := range refunds {
		rid, amount := r.ID, r.Amount
		st.add(timelineItem{At: r.CreatedAt, Kind: "refund_requested", PaymentID: &id, RefundID: &rid, Amount: &amount,
			Reason: r.Reason}, rid.String())
		switch r.Status {
		case payment.RefundSucceeded:
			st.add(timelineItem{At: r.UpdatedAt, Kind: "refund_succeeded", PaymentID: &id, RefundID: &rid, Amount: &amount}, rid.String())
		case payment.RefundFailed, payment.RefundManual:
			st.add(timelineItem{At: r.UpdatedAt, Kind: "refund_failed", PaymentID: &id, RefundID: &rid, Amount: &amount,
				Reason: r.LastError}, rid.String())
		}
	}
	return nil
}

// addPaymentID adds the events of the payment id.
func (st *story) addPaymentID(ctx context.Context, id uuid.UUID) error {
	if st.payments[id] {
		return nil
	}
	p, err := st.app.payments.Get(ctx, id)
	if err != nil {
		return err
	}
	return st.addPayment(ctx, p)
}

// addPairing adds a pairing's events: its payment, its match and chat session, the
// session's extensions and their payments. It returns the session (nil: none).
func (st *story) addPairing(ctx context.Context, pr pairing.Pairing) (*pairing.ChatSession, error) {
	if slices.Contains(st.pairings, pr.ID) {
		return nil, nil
	}
	st.pairings = append(st.pairings, pr.ID)
	if pr.PaymentSessionID != nil {
		if err := st.addPaymentID(ctx, *pr.PaymentSessionID); err != nil {
			return nil, err
		}
	}
	if pr.ChatSessionID == nil {
		return nil, nil
	}
	s, err := st.app.pairer.GetChatSession(ctx, *pr.ChatSessionID)
	if err != nil {
		return nil, err
	}
	st.sessions = append(st.sessions, s.ID)
	pid, sid, mid := pr.ID, s.ID, s.MitraID
	st.add(timelineItem{At: s.CreatedAt, Kind: "matched", PairingID: &pid, ChatSessionID: &sid, MitraID: &mid}, sid.String())
	if s.StartedAt != nil {
		st.add(timelineItem{At: *s.StartedAt, Kind: "session_started", ChatSessionID: &sid, MitraID: &mid}, sid.String())
	}
	if s.EndedAt != nil {
		st.add(timelineItem{At: *s.EndedAt, Kind: "session_ended", ChatSessionID: &sid, MitraID: &mid,
			Reason: string(s.EndReason)}, sid.String())
	}
	exts, err := st.app.exts.ListForSession(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	for _, x := range exts {
		if x.PaymentSessionID == nil {
			continue
		}
		pay, err := st.app.payments.Get(ctx, *x.PaymentSessionID)
		if err != nil {
			return nil, err
		}
		if err := st.addPayment(ctx, pay); err != nil {
			return nil, err
		}
		if x.Status == extension.StatusPaid && pay.PaidAt != nil {
			xid, payID, amount := x.ID, pay.ID, x.Amount
			st.add(timelineItem{At: *pay.PaidAt, Kind: "extension_paid", ChatSessionID: &sid, ExtensionID: &xid,
				PaymentID: &payID, Amount: &amount}, xid.String())
		}
	}
	return &s, nil
}

// events adds the offers of the pairings gathered and the ledger's transactions of the
// payments and sessions, and returns every event oldest first.
func (st *story) events(ctx context.Context) ([]timelineItem, error) {
	waves, err := st.app.pairer.OfferWaves(ctx, st.pairings)
	if err != nil {
		return nil, err
	}
	for _, w := range waves {
		pid, n := w.PairingID, w.Count
		// One event per pairing and instant.
		st.add(timelineItem{At: w.At, Kind: "offers_sent", PairingID: &pid, Count: &n}, pid.String()+"@"+w.At.Format(time.RFC3339Nano))
	}
	q := ledger.TxnQuery{ChatSessionIDs: st.sessions}
	for id := range st.payments {
		q.PaymentIDs = append(q.PaymentIDs, id)
	}
	txns, err := st.app.client.Ledger().TxnsOf(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, t := range txns {
		tid, amount := t.ID, t.Amount
		st.add(timelineItem{At: t.At, Kind: "ledger", TxnID: &tid, Amount: &amount, LedgerKind: string(t.Kind)}, tid.String())
	}
	out := make([]timelineItem, 0, len(st.items))
	for _, it := range st.items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, c timelineItem) int {
		return cmp.Or(a.At.Compare(c.At), cmp.Compare(slices.Index(timelineKinds, a.Kind), slices.Index(timelineKinds, c.Kind)),
			tieBreak(a, c))
	})
	return out, nil
}

// tieBreak orders two events of one instant and kind: ledger transactions as they were
// posted, the others by their rows' ids, so that every lookup of a story lists them alike.
func tieBreak(a, c timelineItem) int {
	if a.Kind == "ledger" {
		return cmp.Compare(a.seq, c.seq)
	}
	return cmp.Compare(a.key, c.key)
}

// paymentStory is a payment, its refunds (oldest first) and its story's events.
func (a *App) paymentStory(ctx context.Context, id uuid.UUID) (payment.Session, []payment.Refund, []timelineItem, error) {
	p, err := a.payments.Get(ctx, id)
	if err != nil {
		return payment.Session{}, nil, nil, err
	}
	st := newStory(a)
	if err := st.addPayment(ctx, p); err != nil {
		return payment.Session{}, nil, nil, fmt.Errorf("story of payment %s: %w", id, err)
	}
	next := p.PairingID
	if next == nil && p.ChatSessionID != nil { // an extension's payment: its session's pairing
		s, err := a.pairer.GetChatSession(ctx, *p.ChatSessionID)
		if err != nil {
			return payment.Session{}, nil, nil, fmt.Errorf("story of payment %s: %w", id, err)
		}
		next = &s.PairingID
	}
	for range maxStoryLinks {
		if next == nil {
			break
		}
		pr, err := a.pairer.GetPairing(ctx, *next)
		if errors.Is(err, curhat.ErrNotFound) {
			break // a session that ended without a continuation
		}
		if err != nil {
			return payment.Session{}, nil, nil, fmt.Errorf("story of payment %s: %w", id, err)
		}
		s, err := st.addPairing(ctx, pr)
		if err != nil {
			return payment.Session{}, nil, nil, fmt.Errorf("story of payment %s: %w", id, err)
		}
		next = nil
		if s != nil && s.Status == pairing.SessionEnded &&
			(s.EndReason == pairing.EndRerouted || s.EndReason == pairing.EndMitraDeactivated) {
			cont := pairing.ContinuationID(s.ID)
			next = &cont
		}
	}
	items, err := st.events(ctx)
	if err != nil {
		return payment.Session{}, nil, nil, fmt.Errorf("story of payment %s: %w", id, err)
	}
	return p, st.refunds[id], items, nil
}

// clientTimeline is the events of the stories of a client's latest pairings, the newest
// clientTimelineEvents of them, oldest first.
func (a *App) clientTimeline(ctx context.Context, clientID uuid.UUID) ([]timelineItem, error) {
	prs, err := a.pairer.PairingsOfClient(ctx, clientID, clientTimelinePairings)
	if err != nil {
		return nil, err
	}
	st := newStory(a)
	for _, pr := range prs {
		if _, err := st.addPairing(ctx, pr); err != nil {
			return nil, fmt.Errorf("timeline of client %s: %w", clientID, err)
		}
	}
	items, err := st.events(ctx)
	if err != nil {
		return nil, fmt.Errorf("timeline of client %s: %w", clientID, err)
	}
	return items[max(len(items)-clientTimelineEvents, 0):], nil
}

// refundsOf returns every refund of a payment, oldest first.
func (a *App) refundsOf(ctx context.Context, paymentID uuid.UUID) ([]payment.Refund, error) {
	f := payment.RefundFilter{PaymentID: &paymentID, PageSize: payment.MaxRefundPageSize}
	var out []payment.Refund
	for f.Page = 1; ; f.Page++ {
		items, total, err := a.payments.ListRefunds(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(items) == 0 || len(out) >= total {
			break
		}
	}
	slices.Reverse(out) // the list is newest first
	return out, nil
}
