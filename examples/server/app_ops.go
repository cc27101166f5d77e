package main

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/pairing"
)

// setMitraActive de/re-activates a mitra. Deactivation revokes the mitra's tokens in the
// same Postgres transaction (availability.Mirror.SetActive); here every instance's token
// cache is told at once.
func (a *App) setMitraActive(ctx context.Context, id uuid.UUID, active bool) (availability.Mitra, error) {
	m, err := a.mirror.SetActive(ctx, id, active)
	if err != nil {
		return m, err
	}
	if !active {
		a.auth.revoked(ctx, SubjectMitra, id)
		// Its active sessions end (mitra_deactivated) and continue as prepaid blasts.
		if _, err := a.pairer.EndMitraSessions(ctx, id, pairing.EndMitraDeactivated); err != nil {
			// The deactivation itself committed; the timeouts sweep and the client's
			// reroute cover sessions that could not be ended now.
			a.log.WarnContext(ctx, "ending sessions of a deactivated mitra failed", "mitra", id, "err", err)
		}
	}
	return m, nil
}

// mitraBecameAvailable is called when a mitra may have become available (went online, or a
// session ended); searching blasts are offered to it.
func (a *App) mitraBecameAvailable(ctx context.Context, id uuid.UUID) {
	if err := a.pairer.MitraAvailable(ctx, id); err != nil {
		a.log.WarnContext(ctx, "offering searching blasts to a mitra failed", "mitra", id, "err", err)
	}
}

// subjectExists refuses tokens for unknown subjects.
func (a *App) subjectExists(r *http.Request, kind SubjectKind, id uuid.UUID) error {
	switch kind {
	case SubjectClient:
		_, err := a.accounts.GetClient(r.Context(), id)
		return err
	case SubjectMitra:
		_, err := a.mirror.GetMitra(r.Context(), id)
		return err
	}
	return nil
}

// dashboardUnsettledGrace is how long paid money may go without an outcome before the
// dashboard counts it in unsettled_payments: longer than a blast searches (60 s by
// default), a payment stays payable (15 min is its TTL, but a confirmation is handled at
// once) and the first refund retries take (1 + 2 + 4 min with the default 60 s base).
const dashboardUnsettledGrace = 10 * time.Minute

// dashboardJSON is GET /api/internal/dashboard.
type dashboardJSON struct {
	OnlineCount            int `json:"online_count"`
	AvailableCount         int `json:"available_count"`
	BusyCount              int `json:"busy_count"` // online with every slot taken (busyCount)
	ActiveSessions         int `json:"active_sessions"`
	PendingPaymentSessions int `json:"pending_payment_sessions"`
	// UnsettledPayments counts payment.Service.Reconcile's answer with a grace of
	// dashboardUnsettledGrace: paid money with neither its chat or extension delivered nor
	// refunds adding up to it, and refunds that have not gone through.
	UnsettledPayments int `json:"unsettled_payments"`
	// Drift compares the Valkey mirror with Postgres; null without Valkey (drift.go).
	Drift *driftJSON `json:"drift"`
}

func (a *App) dashboard(ctx context.Context) (dashboardJSON, error) {
	var d dashboardJSON
	var err error
	if d.OnlineCount, err = a.mirror.OnlineCount(ctx); err != nil {
		return d, err
	}
	// Counted now: the clients' beacon may be SnapshotTTL old, an operator's view is not.
	if d.AvailableCount, err = a.mirror.AvailableCount(ctx); err != nil {
		return d, err
	}
	if d.BusyCount, err = a.busyCount(ctx); err != nil {
		return d, err
	}
	d.ActiveSessions, d.PendingPaymentSessions, err = a.countOpenSessions(ctx)
	if err != nil {
		return d, err
	}
	unsettled, err := a.payments.Reconcile(ctx, dashboardUnsettledGrace)
	if err != nil {
		return d, err
	}
	d.UnsettledPayments = len(unsettled)
	d.Drift = a.dashboardDrift(ctx)
	return d, nil
}

// countOpenSessions counts chat sessions in active and pending_payment.
func (a *App) countOpenSessions(ctx context.Context) (active, pending int, err error) {
	if a.pool != nil {
		err = pgutil.Translate(a.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'pending_payment')
			FROM chat_sessions WHERE status IN ('active', 'pending_payment')`).Scan(&active, &pending))
		return active, pending, err
	}
	open, err := a.pairer.ListChatSessions(ctx, pairing.ListSessionsParams{
		Statuses: []pairing.SessionStatus{pairing.SessionActive, pairing.SessionPendingPayment}})
	for _, s := range open {
		if s.Status == pairing.SessionActive {
			active++
		} else {
			pending++
		}
	}
	return active, pending, err
}
