package ledger_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/ledger/ledgertest"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

func TestContract(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		ledgertest.RunContract(t, func(t *testing.T) ledgertest.Harness {
			db := memdb.New()
			s := ledger.NewMemoryStoreIn(db)
			mitras := memdb.NewTable[uuid.UUID, bool](db, "mitras", nil)
			return ledgertest.Harness{
				Store:    s,
				SameData: func() ledger.Store { return ledger.NewMemoryStoreIn(db) },
				Mitra: func(*testing.T) uuid.UUID {
					id := uuid.New()
					tx := db.Begin()
					mitras[id] = true
					tx.End()
					return id
				},
				Session: func(*testing.T, uuid.UUID) uuid.UUID { return uuid.New() },
				Payment: func(*testing.T) uuid.UUID { return uuid.New() },
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		ledgertest.RunContract(t, func(t *testing.T) ledgertest.Harness {
			db := testenv.Postgres(t)
			ctx := context.Background()
			return ledgertest.Harness{
				Store:    ledger.NewPostgresStore(db.Pool),
				SameData: func() ledger.Store { return ledger.NewPostgresStore(db.Pool) },
				Mitra: func(t *testing.T) uuid.UUID {
					var id uuid.UUID
					require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO mitras (display_name) VALUES ('m') RETURNING id`).Scan(&id))
					return id
				},
				Session: func(t *testing.T, mitra uuid.UUID) uuid.UUID {
					var id uuid.UUID
					require.NoError(t, db.Pool.QueryRow(ctx, `
						WITH c AS (INSERT INTO clients (display_name) VALUES ('c') RETURNING id),
						p AS (INSERT INTO pairings (client_id, type, status, minutes) SELECT id, 'blast', 'matched', 30 FROM c RETURNING id, client_id)
						INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, pairing_id)
						SELECT p.client_id, $1, 'ended', 30, p.id FROM p RETURNING id`, mitra).Scan(&id))
					return id
				},
				Payment: func(t *testing.T) uuid.UUID {
					var id uuid.UUID
					require.NoError(t, db.Pool.QueryRow(ctx, `
						WITH c AS (INSERT INTO clients (display_name) VALUES ('c') RETURNING id),
						tr AS (INSERT INTO pricing_tiers (mode, minutes, price) VALUES ('session', 30, 1000)
						       ON CONFLICT (mode, minutes) DO UPDATE SET price = EXCLUDED.price RETURNING id)
						INSERT INTO payment_sessions (client_id, purpose, tier_id, minutes, base_amount, amount, currency, status,
						                              expires_at, paid_at)
						SELECT c.id, 'chat_start', tr.id, 30, 1000, 1000, 'IDR', 'paid', now(), now() FROM c, tr RETURNING id`).Scan(&id))
					return id
				},
			}
		})
	})
}
