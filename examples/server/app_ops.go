package main

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
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
	}
	return m, nil
}

// mitraBecameAvailable is called when a mitra may have become available (went online, or a
// session ended); searching blasts are offered to it.
func (a *App) mitraBecameAvailable(ctx context.Context, id uuid.UUID) {}

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

// dashboardJSON is GET /api/internal/dashboard.
type dashboardJSON struct {
	OnlineCount            int `json:"online_count"`
	AvailableCount         int `json:"available_count"`
	ActiveSessions         int `json:"active_sessions"`
	PendingPaymentSessions int `json:"pending_payment_sessions"`
}

func (a *App) dashboard(ctx context.Context) (dashboardJSON, error) {
	var d dashboardJSON
	var err error
	if d.OnlineCount, err = a.mirror.OnlineCount(ctx); err != nil {
		return d, err
	}
	snap, err := a.mirror.CountAvailable(ctx)
	if err != nil {
		return d, err
	}
	d.AvailableCount = snap.AvailableCount
	return d, nil
}
