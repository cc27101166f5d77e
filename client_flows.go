package curhat

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment/ledger"
)

// The flows that span several domains: what a host did by hand, calling one service after
// another, is one call of the Client.

// SetMitraActive de/re-activates a mitra (an operator's action). Deactivation sets it
// offline and, with Postgres, revokes its auth sessions in the same transaction; then
// Config.OnMitraDeactivated runs; then its chat sessions end (mitra_deactivated): each
// active one with a whole minute left
// continues as a prepaid blast, and is refunded its unused minutes if nobody takes it. The
// deactivation is returned once it committed: a failure to end the sessions is logged (the
// timeouts sweep and the client's reroute cover them).
func (c *Client) SetMitraActive(ctx context.Context, id uuid.UUID, active bool) (availability.Mitra, error) {
	m, err := c.mirror.SetActive(ctx, id, active)
	if err != nil {
		return m, err
	}
	if active {
		c.MitraMayBeAvailable(ctx, id)
		return m, nil
	}
	if c.cfg.OnMitraDeactivated != nil {
		c.cfg.OnMitraDeactivated(ctx, id)
	}
	if _, err := c.pairer.EndMitraSessions(ctx, id, pairing.EndMitraDeactivated); err != nil {
		c.log.WarnContext(ctx, "ending sessions of a deactivated mitra failed", "mitra", id, "err", err)
	}
	return m, nil
}

// SetMitraOnline marks a mitra online with a fresh heartbeat (clearing why the system
// took it offline, if it did), forgives its missed offers, and — when it was offline —
// makes it idle from now for the ring policy; then offers it what waits: the head of the
// pairing queue, the blasts still searching (pairing.Pairer.MitraOnline). A failure after
// the mitra went online is logged: it is online either way.
func (c *Client) SetMitraOnline(ctx context.Context, id uuid.UUID) error {
	return c.SetMitraOnlineDevice(ctx, id, availability.DefaultDevice)
}

// SetMitraOnlineDevice is SetMitraOnline from one of the mitra's devices, which gets its
// own lease (availability.Mirror.SetOnlineDevice). What waits is offered as by
// SetMitraOnline; the mitra counts as idle from now only when this device brought it
// online.
func (c *Client) SetMitraOnlineDevice(ctx context.Context, id uuid.UUID, device string) error {
	before, err := c.mirror.GetMitra(ctx, id)
	if err != nil {
		return err
	}
	if err := c.mirror.SetOnlineDevice(ctx, id, device); err != nil {
		return err
	}
	if err := c.pairer.MitraOnline(ctx, id, !before.IsOnline); err != nil {
		c.log.WarnContext(ctx, "offering what waits to a mitra that went online failed", "mitra", id, "err", err)
	}
	return nil
}

// MitraMayBeAvailable offers a mitra that may have become available the blasts still
// searching. The pairer does it by itself when one of the mitra's sessions ends; a host
// calls it after changing a mitra's availability by other means. Failures are logged.
func (c *Client) MitraMayBeAvailable(ctx context.Context, id uuid.UUID) {
	if err := c.pairer.MitraAvailable(ctx, id); err != nil {
		c.log.WarnContext(ctx, "offering searching blasts to a mitra failed", "mitra", id, "err", err)
	}
}

// Dashboard is what operators watch (GET /api/internal/dashboard of the reference server).
type Dashboard struct {
	// OnlineCount is the mitras online; AvailableCount those that can take a chat now;
	// BusyCount those online with every session slot taken.
	OnlineCount, AvailableCount, BusyCount int
	// ActiveSessions and AwaitingPaymentSessions count the chat sessions holding capacity:
	// those running, and those a mitra accepted that wait for the client's payment
	// (pending_payment, a targeted chat).
	ActiveSessions, AwaitingPaymentSessions int
	// PendingPaymentSessions is AwaitingPaymentSessions.
	//
	// Deprecated: use AwaitingPaymentSessions (the same number): the name read as a count of
	// payments. It goes in the next release.
	PendingPaymentSessions int
	// PendingPayments counts the payments of every purpose (chat start, extension) that
	// wait for their client and can still be paid: a blast's payment is one before any
	// chat session exists.
	PendingPayments int
	// UnsettledPayments is what payment.Service.Reconcile finds with a grace of
	// Config.UnsettledGrace: paid money with neither its chat or extension delivered nor
	// refunds adding up to it, and refunds that have not gone through. It should stay 0.
	UnsettledPayments int
}

// Dashboard counts the mitras online, available and busy (from the mirror: no Postgres
// round trip for the first two while Valkey answers), the chat sessions holding capacity,
// the payments waiting for their client, and the unsettled payments.
func (c *Client) Dashboard(ctx context.Context) (Dashboard, error) {
	d, err := c.DashboardCounts(ctx)
	if err != nil {
		return d, err
	}
	if d.UnsettledPayments, err = c.UnsettledPayments(ctx); err != nil {
		return d, err
	}
	return d, nil
}

// DashboardCounts is Dashboard without UnsettledPayments, which costs more (it reads every
// charged payment): for a live view that refreshes the counts often and the unsettled
// payments now and then.
func (c *Client) DashboardCounts(ctx context.Context) (Dashboard, error) {
	var d Dashboard
	var err error
	if d.OnlineCount, err = c.mirror.OnlineCount(ctx); err != nil {
		return d, fmt.Errorf("dashboard: %w", err)
	}
	// Counted now: the clients' beacon (CountAvailable) may be a snapshot SnapshotTTL old,
	// an operator's view is not.
	if d.AvailableCount, err = c.mirror.AvailableCount(ctx); err != nil {
		return d, fmt.Errorf("dashboard: %w", err)
	}
	busy, err := c.mirror.ListMitras(ctx, availability.ListMitrasParams{Online: ptrTo(true), AtCapacity: ptrTo(true), PageSize: 1})
	if err != nil {
		return d, fmt.Errorf("dashboard: %w", err)
	}
	d.BusyCount = busy.Total
	open, err := c.pairer.CountOpenSessions(ctx)
	if err != nil {
		return d, fmt.Errorf("dashboard: %w", err)
	}
	d.ActiveSessions, d.AwaitingPaymentSessions = open.Active, open.PendingPayment
	d.PendingPaymentSessions = d.AwaitingPaymentSessions
	if d.PendingPayments, err = c.payments.CountPending(ctx); err != nil {
		return d, fmt.Errorf("dashboard: %w", err)
	}
	return d, nil
}

// LedgerFindings is what breaks the ledger's invariants (ledger.Store.Check), payments
// still holding funds counted after a grace of Config.UnsettledGrace. It should be empty.
func (c *Client) LedgerFindings(ctx context.Context) ([]ledger.Finding, error) {
	out, err := c.ledger.Check(ctx, c.cfg.Clock.Now().Add(-c.cfg.UnsettledGrace))
	if err != nil {
		return nil, fmt.Errorf("ledger findings: %w", err)
	}
	return out, nil
}

// UnsettledPayments counts what payment.Service.Reconcile finds with a grace of
// Config.UnsettledGrace.
func (c *Client) UnsettledPayments(ctx context.Context) (int, error) {
	unsettled, err := c.payments.Reconcile(ctx, c.cfg.UnsettledGrace)
	if err != nil {
		return 0, fmt.Errorf("unsettled payments: %w", err)
	}
	return len(unsettled), nil
}

// Drift compares the Valkey mirror with what Postgres implies (availability.Mirror.Drift).
// It returns a nil report without Valkey (in memory, or Postgres alone): there is no
// mirror to drift.
func (c *Client) Drift(ctx context.Context) (*availability.DriftReport, error) {
	if c.valkey == nil {
		return nil, nil
	}
	rep, err := c.mirror.Drift(ctx)
	if err != nil {
		return nil, err
	}
	return &rep, nil
}

func ptrTo[T any](v T) *T { return &v }
