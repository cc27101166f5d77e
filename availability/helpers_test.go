package availability_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// T0 is the fake clock's start: the commit date of the mirror's design.
var T0 = time.Date(2026, 5, 25, 10, 7, 55, 123_000_000, time.UTC)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ptr[T any](v T) *T { return &v }

// facts are what other domains own: chat sessions and auth sessions.
type facts interface {
	// setOpen makes the mitra hold exactly n active chat sessions.
	setOpen(t testing.TB, mitraID uuid.UUID, n int)
	// endSession records a chat session of the mitra that ended (status ended) at at.
	endSession(t testing.TB, mitraID uuid.UUID, at time.Time)
	addAuth(t testing.TB, mitraID uuid.UUID)
	liveAuth(t testing.TB, mitraID uuid.UUID) int
}

// pgFacts writes chat_sessions and auth_sessions rows with SQL, as the other packages do.
type pgFacts struct {
	pool   *pgxpool.Pool
	client uuid.UUID
}

func newPGFacts(t testing.TB, pool *pgxpool.Pool) *pgFacts {
	f := &pgFacts{pool: pool}
	require.NoError(t, pool.QueryRow(ctxT(t), `INSERT INTO clients (display_name) VALUES ('client') RETURNING id`).Scan(&f.client))
	return f
}

// openSession inserts a pairing and its chat session in the given status.
func (f *pgFacts) openSession(t testing.TB, mitraID uuid.UUID, status string) uuid.UUID {
	t.Helper()
	ctx := ctxT(t)
	var pairing, session uuid.UUID
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
		VALUES ($1, 'blast', 'matched', 15, $2) RETURNING id`, f.client, mitraID).Scan(&pairing))
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, pairing_id)
		VALUES ($1, $2, $3, 15, $4) RETURNING id`, f.client, mitraID, status, pairing).Scan(&session))
	return session
}

func (f *pgFacts) setSessionStatus(t testing.TB, sessionID uuid.UUID, status string) {
	t.Helper()
	_, err := f.pool.Exec(ctxT(t), `UPDATE chat_sessions SET status = $2, updated_at = now() WHERE id = $1`, sessionID, status)
	require.NoError(t, err)
}

func (f *pgFacts) setOpen(t testing.TB, mitraID uuid.UUID, n int) {
	t.Helper()
	_, err := f.pool.Exec(ctxT(t), `UPDATE chat_sessions SET status = 'ended', end_reason = 'expired', updated_at = now()
		WHERE mitra_id = $1 AND status IN ('active', 'pending_payment')`, mitraID)
	require.NoError(t, err)
	for range n {
		f.openSession(t, mitraID, "active")
	}
}

func (f *pgFacts) endSession(t testing.TB, mitraID uuid.UUID, at time.Time) {
	t.Helper()
	id := f.openSession(t, mitraID, "active")
	_, err := f.pool.Exec(ctxT(t), `UPDATE chat_sessions SET status = 'ended', end_reason = 'client_ended', ended_at = $2,
		updated_at = now() WHERE id = $1`, id, at)
	require.NoError(t, err)
}

func (f *pgFacts) addAuth(t testing.TB, mitraID uuid.UUID) {
	t.Helper()
	_, err := f.pool.Exec(ctxT(t), `INSERT INTO auth_sessions (subject_kind, subject_id, token_hash, expires_at)
		VALUES ('mitra', $1, $2, now() + interval '1 hour')`, mitraID, uuid.NewString())
	require.NoError(t, err)
}

func (f *pgFacts) liveAuth(t testing.TB, mitraID uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, f.pool.QueryRow(ctxT(t), `SELECT count(*) FROM auth_sessions
		WHERE subject_kind = 'mitra' AND subject_id = $1 AND revoked_at IS NULL`, mitraID).Scan(&n))
	return n
}

// memFacts plugs the same facts into an availability.MemoryStore, as a host would.
type memFacts struct {
	mu    sync.Mutex
	open  map[uuid.UUID]int
	auth  map[uuid.UUID]int
	ended map[uuid.UUID]time.Time
}

func newMemFacts(s *availability.MemoryStore) *memFacts {
	f := &memFacts{open: map[uuid.UUID]int{}, auth: map[uuid.UUID]int{}, ended: map[uuid.UUID]time.Time{}}
	s.SetOpenSessions(func(_ context.Context, id uuid.UUID) (int, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.open[id], nil
	})
	s.SetLastSessionEnd(func(_ context.Context, id uuid.UUID) (time.Time, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.ended[id], nil
	})
	s.SetOnDeactivate(func(_ context.Context, id uuid.UUID) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.auth[id] = 0
		return nil
	})
	return f
}

func (f *memFacts) setOpen(_ testing.TB, id uuid.UUID, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open[id] = n
}

func (f *memFacts) endSession(_ testing.TB, id uuid.UUID, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if at.After(f.ended[id]) {
		f.ended[id] = at
	}
}

func (f *memFacts) addAuth(_ testing.TB, id uuid.UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth[id]++
}

func (f *memFacts) liveAuth(_ testing.TB, id uuid.UUID) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auth[id]
}

// countingClient counts Valkey round trips (a DoCache served from process memory is not
// one).
type countingClient struct {
	valkey.Client
	trips atomic.Int64
}

func (c *countingClient) Do(ctx context.Context, cmd valkey.Completed) valkey.ValkeyResult {
	c.trips.Add(1)
	return c.Client.Do(ctx, cmd)
}

func (c *countingClient) DoMulti(ctx context.Context, cmds ...valkey.Completed) []valkey.ValkeyResult {
	c.trips.Add(1)
	return c.Client.DoMulti(ctx, cmds...)
}

func (c *countingClient) DoCache(ctx context.Context, cmd valkey.Cacheable, ttl time.Duration) valkey.ValkeyResult {
	r := c.Client.DoCache(ctx, cmd, ttl)
	if !r.IsCacheHit() {
		c.trips.Add(1)
	}
	return r
}

// bundle is a Mirror with everything around it.
type bundle struct {
	kind   string
	mirror *availability.Mirror
	store  availability.Store
	cache  availability.Cache
	clock  *clock.Fake
	hooks  *availability.Counters
	facts  facts
	cfg    availability.Config

	mem    *availability.MemoryCache // memory kind
	db     *testenv.DB               // valkey kind
	pg     *pgFacts
	client *countingClient
	names  valkeyutil.Names
}

const (
	kindMemory = "memory"
	kindValkey = "postgres+valkey"
	// kindCluster is kindValkey on a private 3-master Redis Cluster (hash-tagged names).
	kindCluster = "postgres+valkey_cluster"
)

var kinds = []string{kindMemory, kindValkey, kindCluster}

type setupOptions struct {
	// redisURL: a private server (fault tests) instead of the shared one.
	redisURL string
	cfg      availability.Config
	// wrapCache and wrapStore decorate the cache and store the Mirror uses.
	wrapCache func(availability.Cache) availability.Cache
	wrapStore func(availability.Store) availability.Store
	pgOptions testenv.PGOptions
	// cacheCfg tunes the Valkey cache (Names is set by setup).
	cacheCfg availability.CacheConfig
}

func setup(t testing.TB, kind string, o setupOptions) *bundle {
	t.Helper()
	b := &bundle{kind: kind, clock: clock.NewFake(T0), hooks: &availability.Counters{}}
	switch kind {
	case kindMemory:
		s := availability.NewMemoryStore()
		b.facts = newMemFacts(s)
		b.store = s
		b.mem = availability.NewMemoryCache()
		b.mem.Flush() // unseeded, as the fresh Valkey of the other kinds
		b.cache = b.mem
	case kindValkey, kindCluster:
		b.db = testenv.PostgresWith(t, o.pgOptions)
		b.store = availability.NewPostgresStore(b.db.Pool)
		b.pg = newPGFacts(t, b.db.Pool)
		b.facts = b.pg
		var raw valkey.Client
		if o.redisURL != "" {
			c, err := valkeyutil.NewClient(valkeyutil.Options{URL: o.redisURL, DialTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
			require.NoError(t, err)
			t.Cleanup(c.Close)
			raw, b.names = c, valkeyutil.NewNames("", false)
		} else if kind == kindCluster {
			v := testenv.StartCluster(t).NewValkey(t)
			raw, b.names = v.Client, v.Names()
		} else {
			v := testenv.NewValkey(t)
			raw, b.names = v.Client, v.Names()
		}
		b.client = &countingClient{Client: raw}
		cc := o.cacheCfg
		cc.Names = b.names
		b.cache = availability.NewValkeyCache(b.client, cc)
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	if o.wrapCache != nil {
		b.cache = o.wrapCache(b.cache)
	}
	if o.wrapStore != nil {
		b.store = o.wrapStore(b.store)
	}
	b.cfg = o.cfg
	if b.cfg.ValkeyTimeout == 0 {
		// Generous for a loaded test machine: a fallback must come from a fault the test
		// injects, not from a slow shared server. Timeout tests set their own.
		b.cfg.ValkeyTimeout = 2 * time.Second
	}
	b.cfg.Clock = b.clock
	b.cfg.Hooks = b.hooks.Hooks()
	var err error
	b.mirror, err = availability.NewMirror(b.store, b.cache, &b.cfg)
	require.NoError(t, err)
	return b
}

// seeded sets b up and seeds it.
func seeded(t testing.TB, kind string, o setupOptions) *bundle {
	b := setup(t, kind, o)
	_, err := b.mirror.SeedFromPostgres(ctxT(t))
	require.NoError(t, err)
	return b
}

func (b *bundle) newMitra(t testing.TB) uuid.UUID {
	t.Helper()
	m, err := b.mirror.CreateMitra(ctxT(t), availability.CreateMitraParams{DisplayName: "mitra"})
	require.NoError(t, err)
	return m.ID
}

func (b *bundle) onlineMitra(t testing.TB) uuid.UUID {
	t.Helper()
	id := b.newMitra(t)
	require.NoError(t, b.mirror.SetOnline(ctxT(t), id))
	return id
}

// requireNoDrift asserts the mirror equals what Postgres implies.
func (b *bundle) requireNoDrift(t testing.TB) {
	t.Helper()
	rep, err := b.mirror.Drift(ctxT(t))
	require.NoError(t, err)
	require.True(t, rep.Seeded, "seed marker present")
	require.Empty(t, rep.Differences)
}

// postgresOnly is a Mirror over the same Store without Valkey: the reference answers.
func (b *bundle) postgresOnly() *availability.Mirror {
	cfg := b.cfg
	cfg.Hooks = availability.Hooks{}
	m, err := availability.NewMirror(b.store, nil, &cfg)
	if err != nil {
		panic(err) // the bundle's config was valid for its own mirror
	}
	return m
}

// takeDown makes Valkey fail. For the shared server it swaps nothing: only kinds with
// a private server or the memory cache can be taken down.
func (b *bundle) takeDown(t testing.TB, down bool) {
	t.Helper()
	require.NotNil(t, b.mem, "takeDown needs the memory cache")
	b.mem.SetDown(down)
}

// bulkMitras inserts n mitras with one statement: online (or not) with heartbeats spread
// one millisecond apart below newest. It returns nothing: tests read ids back if needed.
func bulkMitras(t testing.TB, pool *pgxpool.Pool, n int, online bool, newest time.Time) {
	t.Helper()
	_, err := pool.Exec(ctxT(t), `INSERT INTO mitras (display_name, is_online, last_heartbeat_at)
		SELECT 'mitra ' || g, $2, $3::timestamptz - g * interval '1 millisecond' FROM generate_series(1, $1) AS g`,
		n, online, newest)
	require.NoError(t, err)
}

func forKinds(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, k := range kinds {
		t.Run(k, func(t *testing.T) {
			t.Parallel()
			fn(t, k)
		})
	}
}

// logRecorder is a slog.Handler that keeps every record, for tests that pin what is logged.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// count is the number of records of the level and message.
func (h *logRecorder) count(level slog.Level, msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level == level && r.Message == msg {
			n++
		}
	}
	return n
}
