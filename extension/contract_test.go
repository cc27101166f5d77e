package extension_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/extension/extensiontest"
	"github.com/curhat/curhat/pairing"
)

func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			extensiontest.RunStoreContract(t, func(t *testing.T) extensiontest.StoreHarness {
				store, f, _ := b.open(t)
				return storeHarness(store, f)
			})
		})
	}
}

// storeHarness hands a store and the facts of its backend to the contract suite.
func storeHarness(store extension.Store, f facts) extensiontest.StoreHarness {
	return extensiontest.StoreHarness{
		Store: store,
		StartSession: func(t *testing.T, now time.Time, minutes int) pairing.ChatSession {
			return f.startSession(t, nil, now, minutes)
		},
		EndSession: func(t *testing.T, id uuid.UUID) { f.endSession(t, id) },
		Session:    func(t *testing.T, id uuid.UUID) pairing.ChatSession { return f.session(t, id) },
		Tier:       func(t *testing.T, minutes int, price int64) uuid.UUID { return f.tier(t, minutes, price) },
		Payment: func(t *testing.T, s pairing.ChatSession, e extension.Extension) uuid.UUID {
			return f.payment(t, s, e)
		},
	}
}
