package pairing_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

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
