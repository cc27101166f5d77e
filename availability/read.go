package availability

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// IsReachable reports whether the mitra is online, not deactivated and pinged within the
// stale threshold (capacity ignored). Unknown mitras are not reachable.
func (m *Mirror) IsReachable(ctx context.Context, id uuid.UUID) (bool, error) {
	fresh := m.freshAfter()
	return readThrough(ctx, m, "is_reachable",
		func(ctx context.Context) (bool, error) { return m.cache.IsReachable(ctx, id, fresh) },
		func(ctx context.Context) (bool, error) { return m.store.IsReachable(ctx, id, fresh) })
}

// FindAvailable returns available mitras: online, not deactivated, fresh heartbeat, under
// capacity, not in opts.Exclude. With a Limit, the freshest heartbeats come first and the
// Valkey work does not grow with the number of online mitras.
func (m *Mirror) FindAvailable(ctx context.Context, opts FindOptions) ([]uuid.UUID, error) {
	if opts.Limit < 0 {
		return nil, core.Invalid("limit", "must not be negative")
	}
	q := AvailableQuery{FreshAfter: m.freshAfter(), DefaultMax: m.defaultMax(ctx), Limit: opts.Limit, Exclude: opts.Exclude,
		EndedAfter: m.endedAfter(ctx)}
	return readThrough(ctx, m, "find_available",
		func(ctx context.Context) ([]uuid.UUID, error) { return m.cache.FindAvailable(ctx, q) },
		func(ctx context.Context) ([]uuid.UUID, error) { return m.store.FindAvailable(ctx, q) })
}

// OnlineCount is the number of online, active mitras (dashboard).
func (m *Mirror) OnlineCount(ctx context.Context) (int, error) {
	return readThrough(ctx, m, "online_count", m.cacheOnlineCount, m.store.OnlineCount)
}

func (m *Mirror) cacheOnlineCount(ctx context.Context) (int, error) { return m.cache.OnlineCount(ctx) }

// AvailableCount counts the available mitras now: unlike CountAvailable, the clients'
// beacon, it is never served from a snapshot up to SnapshotTTL old, so an operator's
// dashboard sees a session end or a mitra go offline at once. One Valkey round trip
// (Postgres when Valkey fails); call it for operators, not on a client's hot path.
func (m *Mirror) AvailableCount(ctx context.Context) (int, error) {
	fresh := m.freshAfter()
	return readThrough(ctx, m, "available_count",
		func(ctx context.Context) (int, error) { return m.cache.CountAvailable(ctx, fresh) },
		func(ctx context.Context) (int, error) { return m.storeCount(ctx, fresh) })
}

// Status is a mitra's own view of its status. Online, IsActive and the capacity come from
// Postgres; Reachable from the live heartbeat in Valkey (Postgres when Valkey fails);
// Devices from Valkey (none when Valkey fails).
func (m *Mirror) Status(ctx context.Context, id uuid.UUID) (MitraStatus, error) {
	states, err := m.store.States(ctx, []uuid.UUID{id})
	if err != nil {
		return MitraStatus{}, fmt.Errorf("status of mitra %s: %w", id, err)
	}
	if len(states) == 0 {
		return MitraStatus{}, fmt.Errorf("status of mitra %s: %w", id, ErrNotFound)
	}
	s := states[0]
	fresh := m.freshAfter()
	reachable, err := readThrough(ctx, m, "status",
		func(ctx context.Context) (bool, error) { return m.cache.IsReachable(ctx, id, fresh) },
		func(context.Context) (bool, error) { return s.Reachable(fresh), nil })
	if err != nil {
		return MitraStatus{}, err
	}
	devices, err := m.Devices(ctx, id)
	if err != nil {
		return MitraStatus{}, err
	}
	var away string
	if !s.IsOnline {
		// Only an offline mitra has one; the common case (online) costs no query.
		mitra, err := m.store.GetMitra(ctx, id)
		if err != nil {
			return MitraStatus{}, fmt.Errorf("status of mitra %s: %w", id, err)
		}
		away = mitra.AwayReason
	}
	return MitraStatus{
		AwayReason:            away,
		Online:                s.IsOnline && s.IsActive,
		IsActive:              s.IsActive,
		Reachable:             reachable,
		ActiveSessions:        s.OpenSessions,
		MaxConcurrentSessions: s.MaxSessions(m.defaultMax(ctx)),
		Devices:               devices,
	}, nil
}

// storeCount counts the available mitras in Postgres.
func (m *Mirror) storeCount(ctx context.Context, freshAfter time.Time) (int, error) {
	return m.store.CountAvailable(ctx, AvailableQuery{FreshAfter: freshAfter, DefaultMax: m.defaultMax(ctx), EndedAfter: m.endedAfter(ctx)})
}

// refreshCall is one beacon recompute shared by every caller that missed meanwhile.
type refreshCall struct {
	done chan struct{}
	snap Snapshot
	err  error
}

// CountAvailable is the availability beacon. It is served from an in-process copy while
// that is younger than SnapshotTTL, then from availability:snapshot (shared by every
// instance), and on a miss recomputed — at most one recompute per instance at a time,
// every concurrent caller waiting for it — and stored back for everyone.
func (m *Mirror) CountAvailable(ctx context.Context) (Snapshot, error) {
	if s, ok := m.localBeacon(); ok {
		return s, nil
	}
	m.refreshMu.Lock()
	call := m.refresh
	leader := call == nil
	if leader {
		call = &refreshCall{done: make(chan struct{})}
		m.refresh = call
	}
	m.refreshMu.Unlock()
	if leader {
		// The leader works for every waiter: its own cancellation must not fail them.
		rctx, cancel := m.bulkCtx(context.WithoutCancel(ctx))
		call.snap, call.err = m.refreshBeacon(rctx)
		cancel()
		m.refreshMu.Lock()
		m.refresh = nil
		m.refreshMu.Unlock()
		close(call.done)
	}
	select {
	case <-call.done:
		return call.snap, call.err
	case <-ctx.Done():
		return Snapshot{}, ctx.Err()
	}
}

// localBeacon returns the in-process copy while it is fresh.
func (m *Mirror) localBeacon() (Snapshot, bool) {
	s := m.beacon.Load()
	if s == nil || !m.beaconFresh(*s) {
		return Snapshot{}, false
	}
	return *s, true
}

func (m *Mirror) beaconFresh(s Snapshot) bool {
	age := m.now().Sub(s.AsOf)
	return age < m.cfg.SnapshotTTL && -age < m.cfg.SnapshotTTL
}

func (m *Mirror) refreshBeacon(ctx context.Context) (Snapshot, error) {
	if s, ok := m.localBeacon(); ok { // another leader just refreshed it
		return s, nil
	}
	// Valkey gets one chance per refresh: once a call failed, the rest goes to Postgres,
	// so a hung Valkey costs one ValkeyTimeout, not two.
	useValkey := m.cache != nil
	if useValkey {
		var s Snapshot
		var ok bool
		err := m.callValkey(ctx, func(ctx context.Context) error {
			var err error
			s, ok, err = m.cache.Snapshot(ctx)
			return err
		})
		switch {
		case err != nil:
			m.fallback("count_available", err)
			useValkey = false
		case ok && m.beaconFresh(s):
			m.beacon.Store(&s)
			return s, nil
		}
	}
	now := m.now()
	fresh := now.Add(-m.cfg.StaleThreshold)
	n, counted := 0, false
	if useValkey {
		err := m.callValkey(ctx, func(ctx context.Context) error {
			var err error
			n, err = m.cache.CountAvailable(ctx, fresh)
			return err
		})
		if err != nil {
			m.fallback("count_available", err)
		}
		counted = err == nil
	}
	if !counted {
		var err error
		if n, err = m.storeCount(ctx, fresh); err != nil {
			return Snapshot{}, fmt.Errorf("count available mitras: %w", err)
		}
	}
	s := Snapshot{AvailableCount: n, AsOf: now}
	m.beacon.Store(&s)
	if useValkey {
		err := m.callValkey(ctx, func(ctx context.Context) error { return m.cache.StoreSnapshot(ctx, s, m.cfg.SnapshotTTL) })
		if err != nil {
			m.log.Debug("store beacon snapshot in valkey", "err", err)
		}
	}
	return s, nil
}
