package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
	"github.com/curhat/curhat/payment"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// t0 is where every fake clock starts.
var t0 = time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)

// backend is one Store implementation with the fixtures its foreign keys need.
type backend struct {
	name string
	open func(t *testing.T) (pairing.Store, fixtures)
}

// fixtures creates the rows a Store reads but does not own (clients, mitras).
type fixtures interface {
	client(t *testing.T) uuid.UUID
	// mitra creates an active mitra; maxSessions 0 means the runtime default.
	mitra(t *testing.T, maxSessions int) uuid.UUID
	setActive(t *testing.T, id uuid.UUID, active bool)
	// endedSession inserts an ended chat session between client and mitra (history that
	// allows "Curhat lagi").
	endedSession(t *testing.T, clientID, mitraID uuid.UUID)
	// tierCreated writes the price tier a payment session refers to.
	tierCreated(ctx context.Context, req payment.CreateParams) error
	// payments returns the payment service over the backend's payment store (Postgres:
	// the refunds a transition records land next to the payments), wired into the
	// pairing store where it needs a hook.
	payments() *pairingtest.Payments
}

var backends = []backend{
	{name: "memory", open: func(t *testing.T) (pairing.Store, fixtures) {
		// One database under the pairing, payment and availability stores, as
		// curhat.NewMemoryClient builds it: the foreign keys and the refunds a transition
		// records work as on Postgres.
		db := memdb.New()
		s := pairing.NewMemoryStoreIn(db)
		return s, memFixtures{s: s, db: db, mitras: availability.NewMemoryStoreIn(db)}
	}},
	{name: "postgres", open: func(t *testing.T) (pairing.Store, fixtures) {
		db := testenv.Postgres(t)
		return pairing.NewPostgresStore(db.Pool), pgFixtures{db}
	}},
}

// eachBackend runs f once per Store implementation, in parallel.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

type memFixtures struct {
	s      *pairing.MemoryStore
	db     *memdb.DB
	mitras *availability.MemoryStore
}

func (f memFixtures) client(t *testing.T) uuid.UUID {
	c, err := f.s.CreateClient(context.Background(), pairing.Client{ID: uuid.New(), DisplayName: "client", CreatedAt: t0})
	require.NoError(t, err)
	return c.ID
}

func (f memFixtures) mitra(t *testing.T, maxSessions int) uuid.UUID {
	p := availability.CreateMitraParams{DisplayName: "mitra"}
	if maxSessions > 0 {
		p.MaxConcurrentSessions = &maxSessions
	}
	m, err := f.mitras.CreateMitra(context.Background(), p)
	require.NoError(t, err)
	return m.ID
}

func (f memFixtures) setActive(t *testing.T, id uuid.UUID, active bool) {
	_, err := f.mitras.SetActive(context.Background(), id, active)
	require.NoError(t, err)
}

func (f memFixtures) endedSession(t *testing.T, clientID, mitraID uuid.UUID) {
	end := t0.Add(-time.Hour)
	f.s.PutChatSession(pairing.ChatSession{
		ID: uuid.New(), ClientID: clientID, MitraID: mitraID, Status: pairing.SessionEnded, Minutes: 10,
		StartedAt: ptr(end.Add(-10 * time.Minute)), EndsAt: &end, EndedAt: &end, EndReason: pairing.EndExpired,
		PairingID: uuid.New(), CreatedAt: end.Add(-10 * time.Minute), UpdatedAt: end,
	})
}

func (memFixtures) tierCreated(context.Context, payment.CreateParams) error { return nil }

func (f memFixtures) payments() *pairingtest.Payments {
	return pairingtest.NewPaymentsOver(payment.NewMemoryStoreIn(f.db))
}

type pgFixtures struct{ db *testenv.DB }

func (f pgFixtures) tierCreated(ctx context.Context, req payment.CreateParams) error {
	_, err := f.db.Pool.Exec(ctx, `INSERT INTO pricing_tiers (id, mode, minutes, price) VALUES ($1, 'session', $2, $3)
		ON CONFLICT DO NOTHING`, req.TierID, req.Minutes, req.BaseAmount)
	return err
}

func (f pgFixtures) payments() *pairingtest.Payments {
	return pairingtest.NewPaymentsOver(payment.NewPostgresStore(f.db.Pool))
}

func (f pgFixtures) client(t *testing.T) uuid.UUID {
	id := uuid.New()
	_, err := f.db.Pool.Exec(context.Background(), "INSERT INTO clients (id, display_name) VALUES ($1, 'client')", id)
	require.NoError(t, err)
	return id
}

func (f pgFixtures) mitra(t *testing.T, maxSessions int) uuid.UUID {
	id := uuid.New()
	var max *int
	if maxSessions > 0 {
		max = &maxSessions
	}
	_, err := f.db.Pool.Exec(context.Background(),
		"INSERT INTO mitras (id, display_name, is_online, max_concurrent_sessions) VALUES ($1, 'mitra', true, $2)", id, max)
	require.NoError(t, err)
	return id
}

func (f pgFixtures) setActive(t *testing.T, id uuid.UUID, active bool) {
	_, err := f.db.Pool.Exec(context.Background(), "UPDATE mitras SET is_active = $2 WHERE id = $1", id, active)
	require.NoError(t, err)
}

func (f pgFixtures) endedSession(t *testing.T, clientID, mitraID uuid.UUID) {
	ctx := context.Background()
	pid, sid := uuid.New(), uuid.New()
	end := t0.Add(-time.Hour)
	tx, err := f.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `INSERT INTO pairings (id, client_id, type, status, minutes, matched_mitra_id, chat_session_id, created_at, updated_at)
		VALUES ($1, $2, 'blast', 'matched', 10, $3, $4, $5, $5)`, pid, clientID, mitraID, sid, end.Add(-11*time.Minute))
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO chat_sessions (id, client_id, mitra_id, status, minutes, started_at, ends_at, ended_at, end_reason, pairing_id, created_at, updated_at)
		VALUES ($1, $2, $3, 'ended', 10, $4, $5, $5, 'expired', $6, $4, $5)`, sid, clientID, mitraID, end.Add(-10*time.Minute), end, pid)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
}

func ptr[T any](v T) *T { return &v }

// env is a Pairer over one backend with in-memory fakes of its dependencies and a fake
// clock.
type env struct {
	store    pairing.Store
	fx       fixtures
	clock    *clock.Fake
	avail    *pairingtest.Availability
	payments *pairingtest.Payments
	quoter   *pairingtest.Quoter
	notifier *pairingtest.Notifier
	settings pairingtest.Settings
	cfg      pairing.Config
	p        *pairing.Pairer
	// extensions are the applied extensions the Pairer is told of.
	extensions *pairingtest.Extensions
	// labels are the mitras' routing labels.
	labels *pairingtest.Labels
}

type envOption func(*env)

func withFanoutCap(n int) envOption { return func(e *env) { e.cfg.FanoutCap = n } }

func withSettings(s pairingtest.Settings) envOption { return func(e *env) { e.settings = s } }

// withStore puts wrap(store) between the Pairer and the backend's store.
func withStore(wrap func(pairing.Store) pairing.Store) envOption {
	return func(e *env) { e.store = wrap(e.store) }
}

func newEnv(t *testing.T, b backend, opts ...envOption) *env {
	t.Helper()
	store, fx := b.open(t)
	e := &env{
		store: store, fx: fx, clock: clock.NewFake(t0), extensions: pairingtest.NewExtensions(), labels: pairingtest.NewLabels(),
		quoter:   pairingtest.NewQuoter(map[int]int64{5: 5000, 10: 10000, 15: 15000, 30: 25000}),
		notifier: &pairingtest.Notifier{},
		settings: pairingtest.Settings{Blast: 60 * time.Second, Targeted: 20 * time.Second, MaxSessions: 1},
	}
	for _, o := range opts {
		o(e)
	}
	e.avail = pairingtest.NewAvailability(store, e.settings.MaxSessions)
	e.payments = fx.payments()
	e.payments.Now = e.clock.Now
	e.cfg.Clock = e.clock
	e.p = e.newPairer(t)
	e.payments.SetHandler(e.p)
	return e
}

// recordingPayments writes the price tier a new payment session refers to before the
// payment service creates it (the quoter's tiers are not rows of their own).
type recordingPayments struct {
	*pairingtest.Payments
	fx fixtures
}

func (r recordingPayments) Create(ctx context.Context, req payment.CreateParams) (payment.Session, bool, error) {
	if err := r.fx.tierCreated(ctx, req); err != nil {
		return payment.Session{}, false, err
	}
	return r.Payments.Create(ctx, req)
}

// newPairer returns another Pairer over the same store and fakes (a restarted instance).
func (e *env) newPairer(t *testing.T) *pairing.Pairer { return e.newPairerWith(t, &e.cfg) }

// newPairerWith is newPairer with another Config.
func (e *env) newPairerWith(t *testing.T, cfg *pairing.Config) *pairing.Pairer {
	p, err := pairing.NewPairer(e.store, pairing.Deps{
		Availability: e.avail, Payments: recordingPayments{e.payments, e.fx}, Quoter: e.quoter, Settings: e.settings, Notifier: e.notifier,
		Extensions: e.extensions, Labels: e.labels,
	}, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Stop(context.Background())) })
	return p
}

// onlineMitra creates a mitra that is online and available.
func (e *env) onlineMitra(t *testing.T) uuid.UUID {
	id := e.fx.mitra(t, 0)
	e.avail.SetOnline(id, true)
	return id
}

// paidBlast starts a blast for a new client and pays it.
func (e *env) paidBlast(t *testing.T, minutes int) (pairing.Pairing, payment.Session) {
	t.Helper()
	ctx := context.Background()
	pr, pay, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: e.fx.client(t), Minutes: minutes})
	require.NoError(t, err)
	require.NoError(t, e.payments.Pay(ctx, pay.ID))
	pr, err = e.p.GetPairing(ctx, pr.ID)
	require.NoError(t, err)
	pay, err = e.payments.Get(ctx, pay.ID)
	require.NoError(t, err)
	return pr, pay
}

func (e *env) pairing(t *testing.T, id uuid.UUID) pairing.Pairing {
	t.Helper()
	pr, err := e.p.GetPairing(context.Background(), id)
	require.NoError(t, err)
	return pr
}

func (e *env) payment(t *testing.T, id uuid.UUID) payment.Session {
	t.Helper()
	pay, err := e.payments.Get(context.Background(), id)
	require.NoError(t, err)
	return pay
}

func (e *env) session(t *testing.T, id uuid.UUID) pairing.ChatSession {
	t.Helper()
	s, err := e.p.GetChatSession(context.Background(), id)
	require.NoError(t, err)
	return s
}

func (e *env) offers(t *testing.T, mitraID uuid.UUID) []pairing.Offer {
	t.Helper()
	offers, err := e.p.ListOffers(context.Background(), mitraID)
	require.NoError(t, err)
	return offers
}

func (e *env) failures(t *testing.T, f pairing.FailureFilter) []pairing.Failure {
	t.Helper()
	items, _, err := e.p.ListFailures(context.Background(), f)
	require.NoError(t, err)
	return items
}

func (e *env) sessionsOf(t *testing.T, pairingID uuid.UUID) []pairing.ChatSession {
	t.Helper()
	all, err := e.store.ListChatSessions(context.Background(), pairing.ListSessionsParams{})
	require.NoError(t, err)
	var out []pairing.ChatSession
	for _, s := range all {
		if s.PairingID == pairingID {
			out = append(out, s)
		}
	}
	return out
}
