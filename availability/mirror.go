package availability

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/lifecycle"
)

// syncTimeout bounds the re-read and mirror update that follow a committed write. It runs
// detached from the caller's context: the caller may give up, the mirror must not.
const syncTimeout = 5 * time.Second

// notSeededWarnEvery spaces the warnings about an unseeded cache: one per interval, however
// many reads fall back meanwhile.
const notSeededWarnEvery = time.Minute

// Mirror is mitra availability: Postgres (the Store) is the truth, Valkey (the Cache)
// mirrors it for the hot paths. See the package documentation for the design.
type Mirror struct {
	store Store
	cache Cache // nil: Postgres only
	cfg   Config
	log   *slog.Logger

	// beacon is the in-process copy of the snapshot; refresh is the one recompute in
	// flight (no stampede).
	beacon    atomic.Pointer[Snapshot]
	refreshMu sync.Mutex
	refresh   *refreshCall

	seedMu sync.Mutex
	// reseed is set when the mirror is known to drift (a failed write after a commit, an
	// unseeded Valkey); the watchdog reseeds at its next pass, nudge wakes it.
	reseed atomic.Bool
	nudge  chan struct{}
	// skipUntil (unix ns, Config.Clock) is set after a Valkey failure: until then the
	// request paths go straight to Postgres instead of each waiting out ValkeyTimeout on a
	// Valkey that is down. The first call after it tries Valkey again; the watchdog clears
	// it as soon as a probe succeeds.
	skipUntil atomic.Int64
	// notSeededWarned (unix ns, Config.Clock) is when the last not-seeded warning was logged.
	notSeededWarned atomic.Int64

	life *lifecycle.Lifecycle

	// labels is the in-process copy of the routing labels (labels.go); nil when the store
	// has none.
	labels *labelIndex

	// streams are the event streams open on this instance, whose device leases the Mirror
	// keeps alive (stream.go).
	streams streamRegistry
}

// NewMirror returns a Mirror over store and cache. cache may be nil: every call is then
// served by Postgres alone. It fails, naming the field, when store is nil or cfg holds a
// negative duration.
func NewMirror(store Store, cache Cache, cfg *Config) (*Mirror, error) {
	if err := core.FirstError(core.Required("store", store == nil), cfg.validate()); err != nil {
		return nil, fmt.Errorf("availability.NewMirror: %w", err)
	}
	c := cfg.WithDefaults()
	return &Mirror{
		store:   store,
		cache:   cache,
		cfg:     c,
		log:     c.Logger.With("component", "availability"),
		nudge:   make(chan struct{}, 1),
		life:    lifecycle.New(),
		streams: newStreamRegistry(),
		labels:  newLabelIndex(store, DefaultLabelRefresh, c.Clock.Now),
	}, nil
}

// now is the current time at the precision the mirror stores (milliseconds).
func (m *Mirror) now() time.Time { return m.cfg.Clock.Now().UTC().Truncate(time.Millisecond) }

// freshAfter is the oldest heartbeat that still counts as alive.
func (m *Mirror) freshAfter() time.Time { return m.now().Add(-m.cfg.StaleThreshold) }

func (m *Mirror) defaultMax(ctx context.Context) int {
	return max(m.cfg.DefaultMaxSessions(ctx), 1)
}

// valkeyCtx bounds one Valkey call.
func (m *Mirror) valkeyCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.cfg.ValkeyTimeout)
}

// bulkCtx bounds a multi-round-trip Valkey operation.
func (m *Mirror) bulkCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.cfg.ValkeyBulkTimeout)
}

// requestReseed asks the watchdog for a reseed at its next pass.
func (m *Mirror) requestReseed() {
	m.reseed.Store(true)
	select {
	case m.nudge <- struct{}{}:
	default:
	}
}

// fallback records that a read is answered from Postgres.
func (m *Mirror) fallback(op string, err error) {
	if h := m.cfg.Hooks.ValkeyFallback; h != nil {
		h(op, err)
	}
	m.log.Debug("valkey read failed, answering from postgres", "op", op, "err", err)
	if errors.Is(err, ErrNotSeeded) {
		m.notSeeded(op)
	}
}

// notSeeded handles a cache found without a seed: it requests a reseed and warns, once per
// notSeededWarnEvery. The warning is for the host that never seeds: without Start (whose
// watchdog reseeds) every read would fall back to the Store for good, and quietly.
func (m *Mirror) notSeeded(op string) {
	m.requestReseed()
	now := m.cfg.Clock.Now().UnixNano()
	last := m.notSeededWarned.Load()
	if last != 0 && now-last < int64(notSeededWarnEvery) {
		return
	}
	if !m.notSeededWarned.CompareAndSwap(last, now) {
		return // a concurrent call warns
	}
	m.log.Warn("valkey mirror not seeded: reads fall back to the store until SeedFromPostgres runs", "op", op)
}

// writeFailed records a Valkey write that failed after Postgres committed.
func (m *Mirror) writeFailed(op string, err error) {
	if h := m.cfg.Hooks.ValkeyWriteFailed; h != nil {
		h(op, err)
	}
	m.log.Warn("valkey mirror write failed after postgres commit; reseed requested", "op", op, "err", err)
	m.requestReseed()
}

// errSkipped: Valkey failed moments ago; the call went to Postgres without trying it.
var errSkipped = errors.New("valkey skipped after a recent failure")

// callValkey runs one Valkey call under ValkeyTimeout, unless Valkey failed moments ago
// (errSkipped). A failure other than the refusals the domain expects (not seeded,
// deactivated) or the caller's own cancellation makes the next calls skip Valkey for
// WatchdogInterval.
func (m *Mirror) callValkey(ctx context.Context, fn func(context.Context) error) error {
	if m.cache == nil {
		return errSkipped
	}
	if m.skippingValkey() {
		return errSkipped
	}
	vctx, cancel := m.valkeyCtx(ctx)
	err := fn(vctx)
	cancel()
	m.noteValkeyError(ctx, err)
	return err
}

// noteValkeyError starts the skip window after a Valkey failure (see callValkey).
func (m *Mirror) noteValkeyError(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrNotSeeded) && !errors.Is(err, ErrDeactivated) {
		m.skipUntil.Store(m.cfg.Clock.Now().Add(m.cfg.WatchdogInterval).UnixNano())
	}
}

func (m *Mirror) skippingValkey() bool { return m.cfg.Clock.Now().UnixNano() < m.skipUntil.Load() }

// valkeyBack clears the skip window (the watchdog reached Valkey).
func (m *Mirror) valkeyBack() { m.skipUntil.Store(0) }

// readThrough asks Valkey, and Postgres when Valkey fails. The caller's own cancellation
// is returned as is, not turned into a Postgres query.
func readThrough[T any](ctx context.Context, m *Mirror, op string, fromValkey, fromPostgres func(context.Context) (T, error)) (T, error) {
	if m.cache != nil {
		var v T
		err := m.callValkey(ctx, func(ctx context.Context) error {
			var err error
			v, err = fromValkey(ctx)
			return err
		})
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			var zero T
			return zero, ctx.Err()
		}
		m.fallback(op, err)
	}
	return fromPostgres(ctx)
}

// sync re-reads ids from Postgres under their per-mitra locks and applies them to Valkey
// while holding the locks, so that concurrent writers' mirror updates land in Postgres
// order. A Postgres error is returned; a Valkey error is counted and requests a reseed.
func (m *Mirror) sync(ctx context.Context, op string, ids ...uuid.UUID) ([]MitraState, error) {
	var out []MitraState
	err := m.store.LockStates(ctx, ids, m.endedAfter(ctx), func(states []MitraState) error {
		out = states
		if m.cache == nil || len(states) == 0 {
			return nil
		}
		p := ApplyParams{States: states, DefaultMax: m.defaultMax(ctx), At: m.now()}
		if err := m.callValkey(ctx, func(ctx context.Context) error { return m.cache.Apply(ctx, p) }); err != nil {
			m.writeFailed(op, err)
		}
		return nil
	})
	return out, err
}

// afterCommit mirrors a committed write. It never fails the caller: the write is durable.
func (m *Mirror) afterCommit(ctx context.Context, op string, id uuid.UUID) {
	if m.cache == nil {
		return
	}
	if m.skippingValkey() { // Valkey failed moments ago: the reseed that follows covers it
		m.writeFailed(op, errSkipped)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
	defer cancel()
	if _, err := m.sync(ctx, op, id); err != nil {
		m.writeFailed(op, fmt.Errorf("re-read mitra %s: %w", id, err))
	}
}

// CreateMitra creates an active, offline mitra (nothing to mirror yet).
func (m *Mirror) CreateMitra(ctx context.Context, p CreateMitraParams) (Mitra, error) {
	return m.store.CreateMitra(ctx, p)
}

// CreateMitraTx is CreateMitra inside tx, the caller's transaction: the mitra exists when
// tx commits, and not at all if it rolls back (a host creating its own account row for the
// mitra in the same transaction). It needs a TxStore (else ErrNoTx).
func (m *Mirror) CreateMitraTx(ctx context.Context, tx pgx.Tx, p CreateMitraParams) (Mitra, error) {
	ts, ok := m.store.(TxStore)
	if !ok {
		return Mitra{}, fmt.Errorf("create mitra: a store of type %T: %w", m.store, core.ErrNoTx)
	}
	return ts.WithTx(tx).CreateMitra(ctx, p)
}

// GetMitra returns the mitra as stored in Postgres.
func (m *Mirror) GetMitra(ctx context.Context, id uuid.UUID) (Mitra, error) {
	return m.store.GetMitra(ctx, id)
}

// SetOnline marks the mitra online with a fresh heartbeat: Postgres first, then Valkey
// (best-effort), where DefaultDevice gets its lease (SetOnlineDevice names the device). A
// deactivated mitra gets ErrDeactivated, an unknown one ErrNotFound, and nothing changes.
func (m *Mirror) SetOnline(ctx context.Context, id uuid.UUID) error {
	return m.SetOnlineDevice(ctx, id, DefaultDevice)
}

// SetOffline marks the mitra offline: Postgres first, then Valkey (best-effort). Every
// device's lease ends with it (EndDevice ends one device's only).
func (m *Mirror) SetOffline(ctx context.Context, id uuid.UUID) error {
	if _, err := m.store.SetOffline(ctx, id); err != nil {
		return fmt.Errorf("set mitra %s offline: %w", id, err)
	}
	m.afterCommit(ctx, "set_offline", id)
	return nil
}

// SetActive is operator (de)activation. Deactivation also sets the mitra offline and
// revokes every auth session of the mitra in the same Postgres transaction; Valkey then
// refuses its heartbeats. Ending its chat sessions is up to the caller (chat sessions).
func (m *Mirror) SetActive(ctx context.Context, id uuid.UUID, active bool) (Mitra, error) {
	mitra, err := m.store.SetActive(ctx, id, active)
	if err != nil {
		return Mitra{}, fmt.Errorf("set mitra %s active=%t: %w", id, active, err)
	}
	m.afterCommit(ctx, "set_active", id)
	return mitra, nil
}

// Heartbeat records a ping of DefaultDevice (HeartbeatDevice names the device). With
// Valkey up it is one Valkey round trip and no Postgres query: a deactivated mitra is
// refused (ErrDeactivated), an online one has its heartbeat and the device's lease moved
// forward and gets true, and any other (offline — for example auto-offlined — or unknown)
// gets false with nothing written: the app must call SetOnline to come back. When Valkey
// fails (or lost its data) the ping goes to Postgres: the full mitra lookup, so a
// deactivated mitra is refused during an outage too, and a last_heartbeat_at update.
func (m *Mirror) Heartbeat(ctx context.Context, id uuid.UUID) (bool, error) {
	return m.HeartbeatDevice(ctx, id, DefaultDevice)
}

// RecomputeCapacity derives the mitra's capacity in use from chat_sessions (active +
// pending_payment) and mirrors it. Call it after every chat-session transition. It is a
// read of the truth, never an increment: concurrent calls converge on the last state.
func (m *Mirror) RecomputeCapacity(ctx context.Context, mitraID uuid.UUID) (int, error) {
	states, err := m.sync(ctx, "recompute_capacity", mitraID)
	if err != nil {
		return 0, fmt.Errorf("recompute capacity of mitra %s: %w", mitraID, err)
	}
	if len(states) == 0 {
		return 0, fmt.Errorf("recompute capacity of mitra %s: %w", mitraID, ErrNotFound)
	}
	return states[0].OpenSessions, nil
}
