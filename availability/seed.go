package availability

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// seedClockSkew widens the seed's "since" time: heartbeats and journal entries are stamped
// by the clocks of every instance, which may be a little behind this one.
const seedClockSkew = 5 * time.Second

// catchUpBatch is how many mitras one post-seed re-sync locks and reads at a time.
const catchUpBatch = 200

// SeedFromPostgres rebuilds the whole Valkey mirror from Postgres. Run it at startup before
// serving; the watchdog (Start) runs it again whenever Valkey comes back or lost its data,
// and the reseed sweep periodically to heal drift. Seeds of one Mirror run one at a time;
// seeds of several instances may overlap harmlessly (each builds its own temporary keys).
//
// How a seed stays correct while writers keep writing:
//
//  1. It reads one snapshot of every mitra from Postgres.
//  2. It builds the sets and the heartbeat index aside, under temporary keys, and writes
//     the per-mitra keys in place (capacity; heartbeat only moved forward, so a ping that
//     Valkey holds and Postgres does not yet is kept).
//  3. One script swaps the sets in (readers see the old sets or the new ones, never a
//     half-built one), merges into the new index the pings the live index received during
//     the build, writes the seed marker and drops the beacon snapshot.
//  4. A write that committed after the snapshot was read had its mirror update applied to
//     the old sets, which the swap replaced. Every mirror update is noted in a journal, and
//     the swap returns the mitras written since the seed began: they are re-synced from
//     Postgres under their locks, which makes the result the latest state.
//
// What remains is a write whose own mirror update failed (Valkey down): it requested a
// reseed, which the watchdog runs.
func (m *Mirror) SeedFromPostgres(ctx context.Context) (SeedReport, error) {
	if m.cache == nil {
		return SeedReport{}, nil
	}
	m.seedMu.Lock()
	defer m.seedMu.Unlock()
	// Requests made before this point are served by this seed.
	m.reseed.Store(false)
	began := time.Now()
	rep, err := m.seed(ctx)
	rep.Duration = time.Since(began)
	if h := m.cfg.Hooks.Seeded; h != nil {
		h(rep, err)
	}
	if err != nil {
		m.reseed.Store(true)
		m.log.Warn("availability seed failed", "err", err, "duration", rep.Duration)
		return rep, fmt.Errorf("seed availability mirror: %w", err)
	}
	m.log.Info("availability mirror seeded", "mitras", rep.Mitras, "online", rep.Online,
		"deactivated", rep.Deactivated, "at_capacity", rep.AtCapacity, "caught_up", rep.CaughtUp,
		"duration", rep.Duration)
	return rep, nil
}

func (m *Mirror) seed(ctx context.Context) (SeedReport, error) {
	at := m.now()
	started := at.Add(-seedClockSkew)
	states, err := m.store.AllStates(ctx, m.endedAfter(ctx))
	if err != nil {
		return SeedReport{}, fmt.Errorf("read mitras: %w", err)
	}
	dm := m.defaultMax(ctx)
	rep := SeedReport{Mitras: len(states)}
	for _, s := range states {
		switch {
		case !s.IsActive:
			rep.Deactivated++
		case s.IsOnline:
			rep.Online++
		}
		if s.AtCapacity(dm) {
			rep.AtCapacity++
		}
	}
	bctx, cancel := m.bulkCtx(ctx)
	changed, err := m.cache.Replace(bctx, SeedData{States: states, DefaultMax: dm, Started: started, At: at})
	cancel()
	if err != nil {
		return rep, err
	}
	m.beacon.Store(nil)
	for start := 0; start < len(changed); start += catchUpBatch {
		batch := changed[start:min(start+catchUpBatch, len(changed))]
		if err := m.syncStrict(ctx, batch); err != nil {
			return rep, fmt.Errorf("re-sync mitras written during the seed: %w", err)
		}
	}
	rep.CaughtUp = len(changed)
	return rep, nil
}

// syncStrict is sync where a Valkey failure is an error too (the seed must not report
// success over a gap).
func (m *Mirror) syncStrict(ctx context.Context, ids []uuid.UUID) error {
	return m.store.LockStates(ctx, ids, m.endedAfter(ctx), func(states []MitraState) error {
		if len(states) == 0 {
			return nil
		}
		vctx, cancel := m.valkeyCtx(ctx)
		defer cancel()
		return m.cache.Apply(vctx, ApplyParams{States: states, DefaultMax: m.defaultMax(ctx), At: m.now()})
	})
}
