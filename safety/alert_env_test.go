package safety_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
	"github.com/curhat/curhat/safety/safetytest"
)

// The alerts' backends: an alert store (and a twin over the same data) with the chat
// sessions it refers to, written the way each backend holds them.

type alertBackend struct {
	name string
	open func(t *testing.T) (store, twin safety.AlertStore, startSession func(t testing.TB, now time.Time) pairing.ChatSession)
}

var alertBackends = []alertBackend{
	{"memory", func(*testing.T) (safety.AlertStore, safety.AlertStore, func(testing.TB, time.Time) pairing.ChatSession) {
		db := memdb.New()
		pairs, mitras := pairing.NewMemoryStoreIn(db), availability.NewMemoryStoreIn(db)
		return safety.NewMemoryAlertStoreIn(db), safety.NewMemoryAlertStoreIn(db), func(t testing.TB, now time.Time) pairing.ChatSession {
			return memAlertSession(t, pairs, mitras, now)
		}
	}},
	{"postgres", func(t *testing.T) (safety.AlertStore, safety.AlertStore, func(testing.TB, time.Time) pairing.ChatSession) {
		db := testenv.Postgres(t)
		return safety.NewPostgresAlertStore(db.Pool), safety.NewPostgresAlertStore(db.Pool), func(t testing.TB, now time.Time) pairing.ChatSession {
			return pgAlertSession(t, db.Pool, now)
		}
	}},
}

func alertCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// memAlertSession writes an active session through the pairing and availability memory
// stores, as curhat.NewMemoryClient shares them.
func memAlertSession(t testing.TB, pairs *pairing.MemoryStore, mitras *availability.MemoryStore, now time.Time) pairing.ChatSession {
	t.Helper()
	ctx := alertCtx(t)
	start := now.UTC().Truncate(time.Microsecond)
	client, err := pairs.CreateClient(ctx, pairing.Client{ID: uuid.New(), DisplayName: "client", IsActive: true, CreatedAt: start})
	require.NoError(t, err)
	m, err := mitras.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "mitra"})
	require.NoError(t, err)
	p, err := pairs.CreatePairing(ctx, pairing.Pairing{ID: uuid.New(), ClientID: client.ID, Type: pairing.TypeBlast,
		Status: pairing.StatusMatched, Minutes: 30, MatchedMitraID: &m.ID, CreatedAt: start, UpdatedAt: start})
	require.NoError(t, err)
	s := pairing.ChatSession{ID: uuid.New(), ClientID: client.ID, MitraID: m.ID, Status: pairing.SessionActive, Minutes: 30,
		PairingID: p.ID, StartedAt: &start, EndsAt: new(start.Add(30 * time.Minute)), CreatedAt: start, UpdatedAt: start}
	pairs.PutChatSession(s)
	return s
}

// pgAlertSession inserts an active session with SQL, as the pairing package would.
func pgAlertSession(t testing.TB, pool *pgxpool.Pool, now time.Time) pairing.ChatSession {
	t.Helper()
	ctx := alertCtx(t)
	var client, mitra, pairingID uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO clients (display_name) VALUES ('client') RETURNING id`).Scan(&client))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO mitras (display_name) VALUES ('mitra') RETURNING id`).Scan(&mitra))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
		VALUES ($1, 'blast', 'matched', 30, $2) RETURNING id`, client, mitra).Scan(&pairingID))
	start := now.UTC().Truncate(time.Microsecond)
	s := pairing.ChatSession{ClientID: client, MitraID: mitra, Status: pairing.SessionActive, Minutes: 30, PairingID: pairingID,
		StartedAt: &start, EndsAt: new(start.Add(30 * time.Minute))}
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, started_at, ends_at, pairing_id)
		VALUES ($1, $2, 'active', 30, $3, $4, $5) RETURNING id`, client, mitra, s.StartedAt, s.EndsAt, pairingID).Scan(&s.ID))
	return s
}

func TestAlertStoreContract(t *testing.T) {
	t.Parallel()
	for _, b := range alertBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			safetytest.RunAlertStoreContract(t, func(t *testing.T) safetytest.AlertStoreHarness {
				store, twin, start := b.open(t)
				return safetytest.AlertStoreHarness{Store: store, Twin: twin,
					StartSession: func(t *testing.T, now time.Time) pairing.ChatSession { return start(t, now) }}
			})
		})
	}
}
