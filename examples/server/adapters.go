package main

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// Thin adapters from the SDK services to the small interfaces each consumer owns.

// pairingAvailability adapts availability.Mirror to pairing.Availability.
type pairingAvailability struct{ m *availability.Mirror }

func (a pairingAvailability) FindAvailable(ctx context.Context, limit int, exclude []uuid.UUID) ([]uuid.UUID, error) {
	return a.m.FindAvailable(ctx, availability.FindOptions{Limit: limit, Exclude: exclude})
}

func (a pairingAvailability) IsReachable(ctx context.Context, id uuid.UUID) (bool, error) {
	return a.m.IsReachable(ctx, id)
}

func (a pairingAvailability) RecomputeCapacity(ctx context.Context, id uuid.UUID) (int, error) {
	return a.m.RecomputeCapacity(ctx, id)
}

// pairingPayments adapts payment.Service to pairing.Payments.
type pairingPayments struct{ s *payment.Service }

func toPairingPayment(p payment.Session) pairing.Payment {
	return pairing.Payment{
		ID: p.ID, ClientID: p.ClientID, Purpose: string(p.Purpose), PairingID: p.PairingID,
		ChatSessionID: p.ChatSessionID, TierID: p.TierID, Minutes: p.Minutes,
		BaseAmount: p.BaseAmount, DiscountAmount: p.DiscountAmount, Amount: p.Amount, Currency: p.Currency,
		Status: pairing.PaymentStatus(p.Status), RefundedAmount: p.RefundedAmount, CheckoutURL: p.CheckoutURL, ExpiresAt: p.ExpiresAt,
		PaidAt: p.PaidAt, CreatedAt: p.CreatedAt,
	}
}

func (a pairingPayments) Create(ctx context.Context, r pairing.PaymentRequest) (pairing.Payment, bool, error) {
	s, replayed, err := a.s.Create(ctx, payment.CreateParams{
		ClientID: r.ClientID, Purpose: payment.Purpose(r.Purpose), PairingID: r.PairingID,
		ChatSessionID: r.ChatSessionID, TierID: r.TierID, Minutes: r.Minutes, BaseAmount: r.BaseAmount,
		DiscountAmount: r.DiscountAmount, Amount: r.Amount, Currency: r.Currency, IdempotencyKey: r.IdempotencyKey,
	})
	return toPairingPayment(s), replayed, err
}

func (a pairingPayments) Get(ctx context.Context, id uuid.UUID) (pairing.Payment, error) {
	s, err := a.s.Get(ctx, id)
	return toPairingPayment(s), err
}

func (a pairingPayments) FindByIdempotencyKey(ctx context.Context, clientID uuid.UUID, key string) (pairing.Payment, error) {
	s, err := a.s.FindByIdempotencyKey(ctx, clientID, key)
	return toPairingPayment(s), err
}

func (a pairingPayments) Cancel(ctx context.Context, id uuid.UUID) (pairing.Payment, error) {
	s, err := a.s.Cancel(ctx, id)
	return toPairingPayment(s), err
}

func (a pairingPayments) Refund(ctx context.Context, id uuid.UUID, reason string) (pairing.Payment, error) {
	s, err := a.s.Refund(ctx, id, reason)
	return toPairingPayment(s), err
}

func (a pairingPayments) SettleRefunds(ctx context.Context, cause string, retryFailed bool) (pairing.RefundSummary, error) {
	s, err := a.s.SettleRefunds(ctx, cause, retryFailed)
	return pairing.RefundSummary{Recorded: s.Recorded, Succeeded: s.Succeeded, Pending: s.Pending, Failed: s.Failed}, err
}

// pairingExtensions tells the pairer the extensions applied to a chat session (the
// refund of a reroute that finds nobody counts them).
type pairingExtensions struct{ a *App }

func (x pairingExtensions) PaidExtensions(ctx context.Context, chatSessionID uuid.UUID) ([]pairing.PaidExtension, error) {
	es, err := x.a.exts.ListForSession(ctx, chatSessionID)
	if err != nil {
		return nil, err
	}
	var out []pairing.PaidExtension
	for _, e := range es {
		if e.Status == extension.StatusPaid && e.PaymentSessionID != nil {
			out = append(out, pairing.PaidExtension{PaymentID: *e.PaymentSessionID, Amount: e.Amount, Minutes: e.Minutes})
		}
	}
	return out, nil
}

// pairingQuoter adapts pricing.PricingStore to pairing.Quoter.
type pairingQuoter struct{ p *pricing.PricingStore }

func (a pairingQuoter) Quote(ctx context.Context, clientID uuid.UUID, mode string, minutes int) (pairing.Quote, error) {
	q, err := a.p.Quote(ctx, clientID, pricing.Mode(mode), minutes)
	if errors.Is(err, pricing.ErrNoTier) {
		return pairing.Quote{}, pairing.ErrNoTier
	}
	if err != nil {
		return pairing.Quote{}, err
	}
	return pairing.Quote{TierID: q.TierID, Minutes: q.Minutes, BaseAmount: q.BaseAmount,
		DiscountAmount: q.DiscountAmount, Amount: q.Amount, Currency: q.Currency}, nil
}

// chatStartHandler delivers chat_start payment outcomes to the pairer.
type chatStartHandler struct{ p *pairing.Pairer }

func paymentEvent(s payment.Session) pairing.PaymentEvent {
	ev := pairing.PaymentEvent{PaymentID: s.ID, PairingID: s.PairingID, ChatSessionID: s.ChatSessionID,
		Status: pairing.PaymentStatus(s.Status), Amount: s.Amount}
	if s.PaidAt != nil {
		ev.PaidAt = *s.PaidAt
	}
	return ev
}

func (h chatStartHandler) PaymentPaid(ctx context.Context, s payment.Session) error {
	return h.p.PaymentPaid(ctx, paymentEvent(s))
}

func (h chatStartHandler) PaymentClosed(ctx context.Context, s payment.Session) error {
	return h.p.PaymentClosed(ctx, paymentEvent(s))
}

// extensionSessions adapts the pairer's chat sessions to extension.Sessions.
type extensionSessions struct{ p *pairing.Pairer }

func (a extensionSessions) ChatSession(ctx context.Context, id uuid.UUID) (extension.SessionInfo, error) {
	s, err := a.p.GetChatSession(ctx, id)
	if err != nil {
		return extension.SessionInfo{}, err
	}
	return extension.SessionInfo{ID: s.ID, ClientID: s.ClientID, MitraID: s.MitraID, Status: string(s.Status),
		EndsAt: s.EndsAt, Minutes: s.Minutes}, nil
}

func (a extensionSessions) SessionExtended(ctx context.Context, id uuid.UUID, _ time.Time, _ int) {
	_ = a.p.RescheduleSession(ctx, id)
}

// hubNotifier publishes SDK events to the SSE streams of their recipients.
type hubNotifier struct {
	hub   *eventHub
	clock func() time.Time
}

func (n hubNotifier) send(ctx context.Context, kind string, clientID, mitraID *uuid.UUID, data map[string]any) {
	now := n.clock().UTC()
	if clientID != nil {
		n.hub.publish(ctx, event{Kind: kind, Recipient: SubjectClient, SubjectID: *clientID, Data: data, At: now})
	}
	if mitraID != nil {
		n.hub.publish(ctx, event{Kind: kind, Recipient: SubjectMitra, SubjectID: *mitraID, Data: data, At: now})
	}
}

// pairingNotifier implements pairing.Notifier.
type pairingNotifier struct{ hubNotifier }

func (n pairingNotifier) Notify(ctx context.Context, e pairing.Event) {
	n.send(ctx, e.Kind, e.ClientID, e.MitraID, eventData(e.Data, "pairing_id", e.PairingID, "chat_session_id", e.ChatSessionID))
}

// extensionNotifier implements extension.Notifier.
type extensionNotifier struct{ hubNotifier }

func (n extensionNotifier) Notify(ctx context.Context, e extension.Event) {
	n.send(ctx, e.Kind, e.ClientID, e.MitraID, eventData(e.Data, "chat_session_id", e.ChatSessionID, "extension_id", e.ExtensionID))
}

// eventData adds the ids to an event's data (as strings, absent when nil).
func eventData(data map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(data)+len(kv)/2)
	for k, v := range data {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if id, ok := kv[i+1].(*uuid.UUID); ok && id != nil {
			out[kv[i].(string)] = id.String()
		}
	}
	return out
}
