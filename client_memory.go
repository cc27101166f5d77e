package curhat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// NewMemoryClient builds a Client over the in-memory stores of the …test packages, for
// tests and demos: the whole product without a server (payment.NewFakeGateway is a fake
// payment provider for cfg.Gateway). What Postgres answers with a join or within one
// transaction, the Client joins itself: a mitra's state and open sessions between the
// availability and pairing stores, a chat session's growth for the extension store, the
// refunds a pairing transition records in the payment store, what a payment delivered for
// Reconcile, and the first-session discount's "has this client paid" for pricing.
func NewMemoryClient(cfg *Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("curhat.NewMemoryClient: %w", err)
	}
	c := newClient(cfg)
	avail, pays, prices := availability.NewMemoryStore(), payment.NewMemoryStore(), pricing.NewMemoryStore()
	pairs, exts := pairing.NewMemoryStore(), extension.NewMemoryStore()

	pairs.RecordRefunds = func(ctx context.Context, r pairing.RefundIntent, at time.Time) ([]pairing.RecordedRefund, error) {
		return pays.RecordRefund(ctx, payment.RefundRecord{RefundOrder: r, At: at})
	}
	pairs.MitraFunc = func(id uuid.UUID) (pairing.MemoryMitra, bool) {
		m, err := avail.GetMitra(context.Background(), id)
		if err != nil {
			return pairing.MemoryMitra{}, false
		}
		max := 0
		if m.MaxConcurrentSessions != nil {
			max = *m.MaxConcurrentSessions
		}
		return pairing.MemoryMitra{ID: m.ID, Active: m.IsActive, MaxConcurrentSessions: max}, true
	}
	avail.SetOpenSessions(func(ctx context.Context, id uuid.UUID) (int, error) {
		info, err := pairs.MitraInfo(ctx, id)
		return info.OpenSessions, err
	})
	// One guarded write under the pairing store's lock: a read-then-put would let a
	// reroute or an expiry in between be overwritten, reviving the session.
	exts.ExtendSession = pairs.ExtendChatSession
	pays.Delivered = c.delivered

	err := c.build(stores{
		config: NewMemoryConfigStore(), bus: c.cfg.Bus,
		avail: avail, cache: availability.NewMemoryCache(),
		prices: prices, pays: pays, pairing: pairs, exts: exts,
	})
	if err != nil {
		return nil, fmt.Errorf("curhat.NewMemoryClient: %w", err)
	}
	prices.HasPaidChatStart = c.payments.HasPaidChatStart
	return c, nil
}

// delivered tells the in-memory payment store whether what a charged session paid for
// happened (Reconcile): a chat session of its pairing started, its extension applied. The
// Postgres store reads the same from its tables.
func (c *Client) delivered(ctx context.Context, s payment.Session) (bool, error) {
	switch {
	case s.Purpose == payment.PurposeChatStart && s.PairingID != nil:
		pr, err := c.pairer.GetPairing(ctx, *s.PairingID)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil || pr.PaymentSessionID == nil || *pr.PaymentSessionID != s.ID || pr.ChatSessionID == nil {
			return false, err
		}
		cs, err := c.pairer.GetChatSession(ctx, *pr.ChatSessionID)
		if err != nil {
			return false, err
		}
		return cs.StartedAt != nil, nil
	case s.Purpose == payment.PurposeExtension && s.ExtensionID != nil:
		e, err := c.exts.Get(ctx, *s.ExtensionID)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return e.Status == extension.StatusPaid && e.PaymentSessionID != nil && *e.PaymentSessionID == s.ID, nil
	}
	return false, nil
}
