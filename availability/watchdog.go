package availability

import (
	"context"
	"errors"
)

// Start runs the watchdog in the background and returns at once. Every WatchdogInterval
// (and at once when a read or write finds the mirror drifting) it probes Valkey — the seed
// marker and the server's run_id, within ValkeyTimeout — and reseeds from Postgres when:
//
//   - Valkey answers again after being unreachable (pings fell back to Postgres meanwhile);
//   - the seed marker is gone (restart, FLUSHALL, failover to an empty replica);
//   - the run_id changed (a restart, even one that kept its data);
//   - the runtime default capacity changed (the at-capacity index depends on it);
//   - a Valkey write failed after a Postgres commit, or a read found Valkey unseeded.
//
// A failed seed is retried at the next pass. The watchdog ends on Stop or when ctx ends.
// Start also runs the refresh passes that keep the leases of open event streams alive
// (OpenStream), without a Cache too (in Postgres, the devices ignored).
func (m *Mirror) Start(ctx context.Context) error {
	runCtx, ok := m.life.Start(ctx)
	if !ok {
		return errors.New("availability: mirror watchdog already started or stopped")
	}
	m.startStreams()
	if m.cache == nil {
		go func() {
			<-runCtx.Done()
			m.life.Finished()
		}()
		return nil
	}
	go m.watch(runCtx)
	return nil
}

// Stop ends the watchdog and the refresh of the event streams' leases, and waits for them
// (or for ctx). It is idempotent and safe before Start.
func (m *Mirror) Stop(ctx context.Context) error {
	return errors.Join(m.life.Stop(ctx), m.stopStreams(ctx))
}

// Stopped is closed once the watchdog has ended.
func (m *Mirror) Stopped() <-chan struct{} { return m.life.Stopped() }

func (m *Mirror) watch(ctx context.Context) {
	defer m.life.Finished()
	w := watchState{}
	for {
		m.watchPass(ctx, &w)
		tick := make(chan struct{})
		timer := m.cfg.Clock.AfterFunc(m.cfg.WatchdogInterval, func() { close(tick) })
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-tick:
		case <-m.nudge:
			timer.Stop()
		}
	}
}

type watchState struct {
	runID       string
	unreachable bool
}

func (m *Mirror) watchPass(ctx context.Context, w *watchState) {
	pctx, cancel := m.valkeyCtx(ctx)
	p, err := m.cache.Probe(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if !w.unreachable {
			m.log.Warn("valkey unreachable: reads fall back to postgres until it is back and reseeded", "err", err)
		}
		w.unreachable = true
		m.skipUntil.Store(m.cfg.Clock.Now().Add(m.cfg.WatchdogInterval).UnixNano())
		return
	}
	m.valkeyBack()
	reason := ""
	switch {
	case w.unreachable:
		reason = "valkey reachable again"
	case !p.Seeded:
		reason = "seed marker missing (valkey lost its data)"
	case w.runID != "" && p.RunID != "" && p.RunID != w.runID:
		reason = "valkey restarted (run_id changed)"
	case p.DefaultMax != 0 && p.DefaultMax != m.defaultMax(ctx):
		reason = "default capacity changed"
	case m.reseed.Load():
		reason = "drift reported"
	}
	if reason == "" {
		w.runID = p.RunID
		return
	}
	m.log.Info("reseeding availability mirror", "reason", reason)
	sctx, cancel := context.WithTimeout(ctx, 2*m.cfg.ValkeyBulkTimeout)
	_, err = m.SeedFromPostgres(sctx)
	cancel()
	if err != nil {
		// Keep the reason alive for the next pass.
		m.reseed.Store(true)
		return
	}
	w.unreachable = false
	w.runID = p.RunID
}
