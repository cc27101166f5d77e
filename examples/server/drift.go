package main

import (
	"context"
	"time"

	"github.com/curhat/curhat/availability"
)

// dashboardDriftTimeout bounds the drift check of GET /api/internal/dashboard: the check
// reads every mitra from Postgres and Valkey, and a dashboard must answer even when Valkey
// hangs.
const dashboardDriftTimeout = 5 * time.Second

// driftReport compares the Valkey mirror with Postgres. It returns a nil report when there
// is no Valkey (in-memory and Postgres-only modes): there is no mirror to drift.
func (a *App) driftReport(ctx context.Context) (*availability.DriftReport, error) {
	if a.client == nil {
		return nil, nil // scraped before the client exists
	}
	return a.client.Drift(ctx)
}

// driftJSON is the drift field of GET /api/internal/dashboard (null without Valkey).
type driftJSON struct {
	// Differences is the number of disagreements between Valkey and Postgres (null when
	// the check failed; Error says why).
	Differences *int `json:"differences"`
	// ByField counts the differences per field (online, capacity, heartbeat, …).
	ByField map[string]int `json:"by_field"`
	// Mitras is the number of mitras compared.
	Mitras int `json:"mitras"`
	// Seeded is false when the mirror lost its seed marker (every read falls back).
	Seeded bool   `json:"seeded"`
	Error  string `json:"error,omitempty"`
}

// dashboardDrift is the drift field of the dashboard. A failed check is reported in the
// field, not as a failed request: Valkey down degrades the dashboard, it does not break it.
func (a *App) dashboardDrift(ctx context.Context) *driftJSON {
	ctx, cancel := context.WithTimeout(ctx, dashboardDriftTimeout)
	defer cancel()
	rep, err := a.driftReport(ctx)
	if err != nil {
		a.log.WarnContext(ctx, "drift check failed", "err", err)
		// The error names Valkey's address; the operator reads the log for it.
		return &driftJSON{ByField: map[string]int{}, Error: "the drift check failed (Valkey unreachable or too slow); the server log has the detail"}
	}
	if rep == nil {
		return nil
	}
	n := rep.Count()
	out := &driftJSON{Differences: &n, ByField: map[string]int{}, Mitras: rep.Mitras, Seeded: rep.Seeded}
	for _, d := range rep.Differences {
		out.ByField[d.Field]++
	}
	return out
}
