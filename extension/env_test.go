package extension_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/extension/extensiontest"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/sessionsql"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// The services a host wires in satisfy the Service's interfaces as they are.
var (
	_ extension.Settings     = (*curhat.RuntimeConfig)(nil)
	_ extension.Reachability = (*availability.Mirror)(nil)
	_ extension.Payments     = (*payment.Service)(nil)
	_ extension.Quoter       = (*pricing.PricingStore)(nil)
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 5, 3, 23, 2, 49, 0, time.UTC)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// facts are the rows other domains own (chat sessions, price tiers), written the way the
// backend needs them: rows in Postgres, a table of sessions in memory.
type facts interface {
	// sessions is what the Service reads chat sessions through; it records
	// SessionExtended calls.
	sessions() sessionsView
	// stores returns the payment and pricing stores over the backend's data.
	stores() (payment.Store, pricing.Store)
	// startSession creates an active chat session between a new client and mitra (or
	// mitraID when set) that ends minutes after now.
	startSession(t testing.TB, mitraID *uuid.UUID, now time.Time, minutes int) pairing.ChatSession
	// endSession ends an active chat session.
	endSession(t testing.TB, id uuid.UUID)
	// session reads a chat session as it is now.
	session(t testing.TB, id uuid.UUID) pairing.ChatSession
	// tier returns the id of the extension tier of the given minutes, creating it or setting
	// its price.
	tier(t testing.TB, minutes int, price int64) uuid.UUID
	// payment returns the id of a pending payment session for extension e of session s.
	payment(t testing.TB, s pairing.ChatSession, e extension.Extension) uuid.UUID
}

type sessionsView interface {
	extension.Sessions
	ExtendedCalls() []extensiontest.Extended
}

// memFacts writes the rows through the in-memory stores of the other domains, over one
// database with the extension store as curhat.NewMemoryClient builds it: the extension
// store's foreign keys and its growing of chat sessions work on them as on Postgres.
type memFacts struct {
	pairs    *pairing.MemoryStore
	mitras   *availability.MemoryStore
	prices   *pricing.MemoryStore
	payments *payment.MemoryStore
	view     *memSessions
}

// openMemory returns an extension store over a new in-memory database, and its facts.
func openMemory() (*extension.MemoryStore, *memFacts) {
	db := memdb.New()
	pairs := pairing.NewMemoryStoreIn(db)
	return extension.NewMemoryStoreIn(db), &memFacts{
		pairs: pairs, mitras: availability.NewMemoryStoreIn(db), prices: pricing.NewMemoryStoreIn(db),
		payments: payment.NewMemoryStoreIn(db), view: &memSessions{Sessions: extensiontest.NewSessions(), pairs: pairs},
	}
}

func (f *memFacts) sessions() sessionsView { return f.view }

func (f *memFacts) stores() (payment.Store, pricing.Store) { return f.payments, f.prices }

func (f *memFacts) startSession(t testing.TB, mitraID *uuid.UUID, now time.Time, minutes int) pairing.ChatSession {
	t.Helper()
	ctx := ctxT(t)
	start := now.UTC().Truncate(time.Microsecond)
	client, err := f.pairs.CreateClient(ctx, pairing.Client{ID: uuid.New(), DisplayName: "client", CreatedAt: start})
	require.NoError(t, err)
	if mitraID == nil {
		m, err := f.mitras.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "mitra"})
		require.NoError(t, err)
		mitraID = &m.ID
	}
	p, err := f.pairs.CreatePairing(ctx, pairing.Pairing{
		ID: uuid.New(), ClientID: client.ID, Type: pairing.TypeBlast, Status: pairing.StatusMatched, Minutes: minutes,
		MatchedMitraID: mitraID, CreatedAt: start, UpdatedAt: start,
	})
	require.NoError(t, err)
	s := pairing.ChatSession{
		ID: uuid.New(), ClientID: client.ID, MitraID: *mitraID, Status: pairing.SessionActive, Minutes: minutes,
		StartedAt: &start, EndsAt: new(start.Add(time.Duration(minutes) * time.Minute)), PairingID: p.ID,
		CreatedAt: start, UpdatedAt: start,
	}
	f.pairs.PutChatSession(s)
	return s
}

func (f *memFacts) endSession(t testing.TB, id uuid.UUID) {
	t.Helper()
	_, err := f.pairs.EndChatSession(ctxT(t), pairing.SessionTransition{
		ID: id, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
		Reason: pairing.EndClientEnded, Now: time.Now().UTC().Truncate(time.Microsecond),
	})
	require.NoError(t, err)
}

func (f *memFacts) session(t testing.TB, id uuid.UUID) pairing.ChatSession {
	t.Helper()
	s, err := f.pairs.GetChatSession(ctxT(t), id)
	require.NoError(t, err)
	return s
}

func (f *memFacts) tier(t testing.TB, minutes int, price int64) uuid.UUID {
	t.Helper()
	ctx := ctxT(t)
	prices, err := pricing.NewPricingStore(f.prices, nil)
	require.NoError(t, err)
	created, err := prices.CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeExtension, Minutes: minutes, Price: price, ChangedBy: "test"})
	if errors.Is(err, pricing.ErrDuplicateTier) {
		existing, err := f.prices.ActiveTier(ctx, pricing.ModeExtension, minutes)
		require.NoError(t, err)
		return existing.ID
	}
	require.NoError(t, err)
	return created.ID
}

func (f *memFacts) payment(t testing.TB, s pairing.ChatSession, e extension.Extension) uuid.UUID {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	pay, _, err := f.payments.Insert(ctxT(t), payment.Session{
		ID: uuid.New(), ClientID: s.ClientID, Purpose: payment.PurposeExtension, ChatSessionID: &s.ID, ExtensionID: &e.ID,
		TierID: e.TierID, Minutes: e.Minutes, BaseAmount: e.Amount, Amount: e.Amount, Currency: "IDR",
		Status: payment.StatusPending, ExpiresAt: now.Add(15 * time.Minute), CreatedAt: now, UpdatedAt: now,
	})
	require.NoError(t, err)
	return pay.ID
}

// memSessions reads chat sessions from the pairing store (what the pairing side serves)
// and records SessionExtended calls.
type memSessions struct {
	*extensiontest.Sessions
	pairs *pairing.MemoryStore
}

func (m *memSessions) GetChatSession(ctx context.Context, id uuid.UUID) (pairing.ChatSession, error) {
	return m.pairs.GetChatSession(ctx, id)
}

// pgFacts inserts clients, mitras, pairings, chat sessions and tiers with SQL, as the
// pairing and pricing packages would.
type pgFacts struct {
	pool *pgxpool.Pool
	view *pgSessions
}

func newPGFacts(pool *pgxpool.Pool) *pgFacts {
	return &pgFacts{pool: pool, view: &pgSessions{Sessions: extensiontest.NewSessions(), pool: pool}}
}

func (f *pgFacts) sessions() sessionsView { return f.view }

func (f *pgFacts) stores() (payment.Store, pricing.Store) {
	return payment.NewPostgresStore(f.pool), pricing.NewPostgresStore(f.pool)
}

func (f *pgFacts) startSession(t testing.TB, mitraID *uuid.UUID, now time.Time, minutes int) pairing.ChatSession {
	t.Helper()
	ctx := ctxT(t)
	var client, mitra, pairing, session uuid.UUID
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO clients (display_name) VALUES ('client') RETURNING id`).Scan(&client))
	if mitraID != nil {
		mitra = *mitraID
	} else {
		require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO mitras (display_name) VALUES ('mitra') RETURNING id`).Scan(&mitra))
	}
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
		VALUES ($1, 'blast', 'matched', $2, $3) RETURNING id`, client, minutes, mitra).Scan(&pairing))
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO chat_sessions
		(client_id, mitra_id, status, minutes, started_at, ends_at, pairing_id)
		VALUES ($1, $2, 'active', $3, $4, $5, $6) RETURNING id`,
		client, mitra, minutes, now, now.Add(time.Duration(minutes)*time.Minute), pairing).Scan(&session))
	return f.session(t, session)
}

func (f *pgFacts) endSession(t testing.TB, id uuid.UUID) {
	t.Helper()
	tag, err := f.pool.Exec(ctxT(t), `UPDATE chat_sessions SET status = 'ended', end_reason = 'client_ended',
		ended_at = now(), updated_at = now() WHERE id = $1 AND status = 'active'`, id)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

func (f *pgFacts) session(t testing.TB, id uuid.UUID) pairing.ChatSession {
	t.Helper()
	s, err := f.view.GetChatSession(ctxT(t), id)
	require.NoError(t, err)
	return s
}

func (f *pgFacts) tier(t testing.TB, minutes int, price int64) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, f.pool.QueryRow(ctxT(t), `INSERT INTO pricing_tiers (mode, minutes, price, currency, label)
		VALUES ('extension', $1, $2, 'IDR', 'extra')
		ON CONFLICT (mode, minutes) DO UPDATE SET price = EXCLUDED.price RETURNING id`, minutes, price).Scan(&id))
	return id
}

func (f *pgFacts) payment(t testing.TB, s pairing.ChatSession, e extension.Extension) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, f.pool.QueryRow(ctxT(t), `INSERT INTO payment_sessions
		(client_id, purpose, chat_session_id, extension_id, tier_id, minutes, base_amount, amount, currency, status, expires_at)
		VALUES ($1, 'extension', $2, $3, $4, $5, $6, $6, 'IDR', 'pending', now() + interval '15 minutes') RETURNING id`,
		s.ClientID, s.ID, e.ID, e.TierID, e.Minutes, e.Amount).Scan(&id))
	return id
}

// pgSessions reads chat sessions from Postgres (what the pairing side will serve) and
// records SessionExtended calls.
type pgSessions struct {
	*extensiontest.Sessions
	pool *pgxpool.Pool
}

func (p *pgSessions) GetChatSession(ctx context.Context, id uuid.UUID) (pairing.ChatSession, error) {
	s, err := sessionsql.Scan[pairing.SessionStatus, pairing.EndReason](p.pool.QueryRow(ctx, `SELECT `+sessionsql.Columns+` FROM chat_sessions WHERE id = $1`, id))
	if err != nil {
		return pairing.ChatSession{}, pgutil.Translate(err)
	}
	return pairing.ChatSession(s), nil
}

// backend opens one store with its facts.
type backend struct {
	name string
	open func(t *testing.T) (extension.Store, facts, *pgxpool.Pool)
}

var backends = []backend{
	{"memory", func(*testing.T) (extension.Store, facts, *pgxpool.Pool) {
		s, f := openMemory()
		return s, f, nil
	}},
	{"postgres", func(t *testing.T) (extension.Store, facts, *pgxpool.Pool) {
		db := testenv.Postgres(t)
		return extension.NewPostgresStore(db.Pool), newPGFacts(db.Pool), db.Pool
	}},
}

// eachBackend runs fn once per backend, in parallel subtests.
func eachBackend(t *testing.T, fn func(t *testing.T, store extension.Store, f facts, pool *pgxpool.Pool)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store, f, pool := b.open(t)
			fn(t, store, f, pool)
		})
	}
}
