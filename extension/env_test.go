package extension_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/extension/extensiontest"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/sessionsql"
	"github.com/curhat/curhat/internal/testenv"
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
	// startSession creates an active chat session between a new client and mitra (or
	// mitraID when set) that ends minutes after now.
	startSession(t testing.TB, mitraID *uuid.UUID, now time.Time, minutes int) extension.ChatSession
	// endSession ends an active chat session.
	endSession(t testing.TB, id uuid.UUID)
	// session reads a chat session as it is now.
	session(t testing.TB, id uuid.UUID) extension.ChatSession
	// tier returns the id of the extension tier of the given minutes, creating it or setting
	// its price.
	tier(t testing.TB, minutes int, price int64) uuid.UUID
	// payment returns the id of a pending payment session for extension e of session s.
	payment(t testing.TB, s extension.ChatSession, e extension.Extension) uuid.UUID
}

type sessionsView interface {
	extension.Sessions
	ExtendedCalls() []extensiontest.Extended
}

// memFacts keeps chat sessions in extensiontest.Sessions; tier ids are free-standing.
type memFacts struct {
	s *extensiontest.Sessions
}

func newMemFacts(store *extension.MemoryStore) *memFacts {
	f := &memFacts{s: extensiontest.NewSessions()}
	store.ExtendSession = f.s.Extend
	return f
}

func (f *memFacts) sessions() sessionsView { return f.s }

func (f *memFacts) startSession(_ testing.TB, mitraID *uuid.UUID, now time.Time, minutes int) extension.ChatSession {
	m := uuid.New()
	if mitraID != nil {
		m = *mitraID
	}
	return f.s.StartActive(uuid.New(), m, now, minutes)
}

func (f *memFacts) endSession(_ testing.TB, id uuid.UUID) { f.s.SetStatus(id, "ended") }

func (f *memFacts) session(t testing.TB, id uuid.UUID) extension.ChatSession {
	s, err := f.s.GetChatSession(ctxT(t), id)
	require.NoError(t, err)
	return s
}

func (f *memFacts) tier(testing.TB, int, int64) uuid.UUID { return uuid.New() }

func (f *memFacts) payment(testing.TB, extension.ChatSession, extension.Extension) uuid.UUID {
	return uuid.New()
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

func (f *pgFacts) startSession(t testing.TB, mitraID *uuid.UUID, now time.Time, minutes int) extension.ChatSession {
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

func (f *pgFacts) session(t testing.TB, id uuid.UUID) extension.ChatSession {
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

func (f *pgFacts) payment(t testing.TB, s extension.ChatSession, e extension.Extension) uuid.UUID {
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

func (p *pgSessions) GetChatSession(ctx context.Context, id uuid.UUID) (extension.ChatSession, error) {
	s, err := sessionsql.Scan(p.pool.QueryRow(ctx, `SELECT `+sessionsql.Columns+` FROM chat_sessions WHERE id = $1`, id))
	if err != nil {
		return extension.ChatSession{}, pgutil.Translate(err)
	}
	return s, nil
}

// backend opens one store with its facts.
type backend struct {
	name string
	open func(t *testing.T) (extension.Store, facts, *pgxpool.Pool)
}

var backends = []backend{
	{"memory", func(*testing.T) (extension.Store, facts, *pgxpool.Pool) {
		s := extension.NewMemoryStore()
		return s, newMemFacts(s), nil
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
