package pairing_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// TestStoreContract runs one suite against every Store implementation: the in-memory one
// must behave like Postgres.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		pairingtest.RunStoreContract(t, func(t *testing.T) pairingtest.StoreHarness {
			s, fx := b.open(t)
			return pairingtest.StoreHarness{
				Store:     s,
				Client:    fx.client,
				Mitra:     fx.mitra,
				SetActive: fx.setActive,
				// What the chat records of a mitra (the no-show's reads).
				MitraActive: func(t *testing.T, id uuid.UUID, at time.Time) { reportMitraActivity(t, fx, id, at) },
			}
		})
	})
}

// dbWithoutBatches is a DB that sends no batches: a host's wrapper of its pool with the
// methods of pairing.DB only.
type dbWithoutBatches struct{ pairing.DB }

// TestStoreContract_OverADBWithoutBatches runs the suite over a Postgres store whose DB
// sends no batches: what the store sends in one batch (the offers) it runs in a transaction
// of its own instead, with the same guarantees.
func TestStoreContract_OverADBWithoutBatches(t *testing.T) {
	t.Parallel()
	pairingtest.RunStoreContract(t, func(t *testing.T) pairingtest.StoreHarness {
		db := testenv.Postgres(t)
		fx := pgFixtures{db}
		return pairingtest.StoreHarness{
			Store:       pairing.NewPostgresStore(dbWithoutBatches{db.Pool}),
			Client:      fx.client,
			Mitra:       fx.mitra,
			SetActive:   fx.setActive,
			MitraActive: func(t *testing.T, id uuid.UUID, at time.Time) { reportMitraActivity(t, fx, id, at) },
		}
	})
}
