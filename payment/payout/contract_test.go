package payout_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/payment/payout/payouttest"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// backend builds stores over one database: the payout store, the ledger it posts to, and
// how to create a mitra.
type backend struct {
	name string
	open func(t *testing.T) (payouttest.Harness, *memdb.DB)
}

var backends = []backend{
	{"memory", func(t *testing.T) (payouttest.Harness, *memdb.DB) {
		db := memdb.New()
		l := ledger.NewMemoryStoreIn(db)
		mitras := memdb.NewTable[uuid.UUID, bool](db, "mitras", nil)
		return payouttest.Harness{
			Store:    payout.NewMemoryStoreIn(db),
			SameData: func() payout.Store { return payout.NewMemoryStoreIn(db) },
			Ledger:   l,
			Mitra: func(*testing.T) uuid.UUID {
				id := uuid.New()
				tx := db.Begin()
				mitras[id] = true
				tx.End()
				return id
			},
		}, db
	}},
	{"postgres", func(t *testing.T) (payouttest.Harness, *memdb.DB) {
		db := testenv.Postgres(t)
		return payouttest.Harness{
			Store:    payout.NewPostgresStore(db.Pool),
			SameData: func() payout.Store { return payout.NewPostgresStore(db.Pool) },
			Ledger:   ledger.NewPostgresStore(db.Pool),
			Mitra: func(t *testing.T) uuid.UUID {
				var id uuid.UUID
				require.NoError(t, db.Pool.QueryRow(context.Background(), `INSERT INTO mitras (display_name) VALUES ('m') RETURNING id`).Scan(&id))
				return id
			},
		}, nil
	}},
}

func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			payouttest.RunContract(t, func(t *testing.T) payouttest.Harness {
				h, _ := b.open(t)
				return h
			})
		})
	}
}
