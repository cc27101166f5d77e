package extension_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

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
		StartSession: func(t *testing.T, now time.Time, minutes int) extension.ChatSession {
			return f.startSession(t, nil, now, minutes)
		},
		EndSession: func(t *testing.T, id uuid.UUID) { f.endSession(t, id) },
		Session:    func(t *testing.T, id uuid.UUID) extension.ChatSession { return f.session(t, id) },
		Tier:       func(t *testing.T, minutes int, price int64) uuid.UUID { return f.tier(t, minutes, price) },
		Payment: func(t *testing.T, s extension.ChatSession, e extension.Extension) uuid.UUID {
			return f.payment(t, s, e)
		},
	}
}

// TestStoreContract_InMemoryOverThePairingStore runs the suite over the in-memory store
// wired as curhat.NewMemoryClient wires it: the chat sessions are pairing.MemoryStore's,
// grown by its ExtendChatSession.
func TestStoreContract_InMemoryOverThePairingStore(t *testing.T) {
	t.Parallel()
	extensiontest.RunStoreContract(t, func(t *testing.T) extensiontest.StoreHarness {
		sessions, store := pairing.NewMemoryStore(), extension.NewMemoryStore()
		store.ExtendSession = sessions.ExtendChatSession
		return extensiontest.StoreHarness{
			Store: store,
			StartSession: func(t *testing.T, now time.Time, minutes int) extension.ChatSession {
				start := now.UTC().Truncate(time.Microsecond)
				s := pairing.ChatSession{
					ID: uuid.New(), ClientID: uuid.New(), MitraID: uuid.New(), Status: pairing.SessionActive,
					Minutes: minutes, StartedAt: &start, EndsAt: new(start.Add(time.Duration(minutes) * time.Minute)),
					PairingID: uuid.New(), CreatedAt: start, UpdatedAt: start,
				}
				sessions.PutChatSession(s)
				return s
			},
			EndSession: func(t *testing.T, id uuid.UUID) {
				_, err := sessions.EndChatSession(ctxT(t), pairing.SessionTransition{
					ID: id, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
					Reason: pairing.EndClientEnded, Now: t0,
				})
				require.NoError(t, err)
			},
			Session: func(t *testing.T, id uuid.UUID) extension.ChatSession {
				s, err := sessions.GetChatSession(ctxT(t), id)
				require.NoError(t, err)
				return s
			},
			Tier:    func(*testing.T, int, int64) uuid.UUID { return uuid.New() },
			Payment: func(*testing.T, extension.ChatSession, extension.Extension) uuid.UUID { return uuid.New() },
		}
	})
}
