package main

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
)

// setMitraActive de/re-activates a mitra (curhat.Client.SetMitraActive: deactivation
// revokes the mitra's tokens in the same Postgres transaction, every instance drops them
// from its cache (mitraDeactivated), and its sessions end and continue as prepaid blasts).
func (a *App) setMitraActive(ctx context.Context, id uuid.UUID, active bool) (availability.Mitra, error) {
	return a.client.SetMitraActive(ctx, id, active)
}

// subjectExists refuses tokens for unknown subjects.
func (a *App) subjectExists(r *http.Request, kind SubjectKind, id uuid.UUID) error {
	switch kind {
	case SubjectClient:
		_, err := a.getClient(r.Context(), id)
		return err
	case SubjectMitra:
		_, err := a.mirror.GetMitra(r.Context(), id)
		return err
	case SubjectOperator:
		o, err := a.accounts.GetOperator(r.Context(), id)
		if err == nil && !o.IsActive {
			return errOperatorDeactivated
		}
		return err
	}
	return nil
}

// dashboardJSON is GET /api/internal/dashboard.
type dashboardJSON struct {
	OnlineCount    int `json:"online_count"`
	AvailableCount int `json:"available_count"`
	BusyCount      int `json:"busy_count"` // online with every slot taken
	ActiveSessions int `json:"active_sessions"`
	// AwaitingPaymentSessions counts the chat sessions a mitra accepted that wait for
	// the client's payment (pending_payment).
	AwaitingPaymentSessions int `json:"awaiting_payment_sessions"`
	// PendingPaymentSessions is AwaitingPaymentSessions under its old name, kept one more
	// release for clients that read it (deprecated in openapi.json).
	PendingPaymentSessions int `json:"pending_payment_sessions"`
	// PendingPayments counts the payments of every purpose still waiting for their client.
	PendingPayments int `json:"pending_payments"`
	// UnsettledPayments counts payment.Service.Reconcile's answer with a grace of
	// curhat.DefaultUnsettledGrace: paid money with neither its chat or extension delivered
	// nor refunds adding up to it, and refunds that have not gone through.
	UnsettledPayments int `json:"unsettled_payments"`
	// LedgerImbalance is the sum of every signed line of the earnings ledger: 0 while the
	// books balance.
	LedgerImbalance int64 `json:"ledger_imbalance"`
	// PlatformRevenueToday is the platform's fees posted to the ledger today (UTC).
	PlatformRevenueToday int64 `json:"platform_revenue_today"`
	// Drift compares the Valkey mirror with Postgres; null without Valkey (drift.go).
	Drift *driftJSON `json:"drift"`
}

func (a *App) dashboard(ctx context.Context) (dashboardJSON, error) {
	d, err := a.client.Dashboard(ctx)
	if err != nil {
		return dashboardJSON{}, err
	}
	imbalance, revenue, err := a.ledgerDashboard(ctx)
	if err != nil {
		return dashboardJSON{}, err
	}
	return dashboardJSON{
		OnlineCount: d.OnlineCount, AvailableCount: d.AvailableCount, BusyCount: d.BusyCount, ActiveSessions: d.ActiveSessions,
		AwaitingPaymentSessions: d.AwaitingPaymentSessions, PendingPaymentSessions: d.AwaitingPaymentSessions,
		PendingPayments: d.PendingPayments, UnsettledPayments: d.UnsettledPayments,
		LedgerImbalance: imbalance, PlatformRevenueToday: revenue,
		Drift: a.dashboardDrift(ctx),
	}, nil
}
