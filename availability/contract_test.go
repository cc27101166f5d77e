package availability_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/availability/availabilitytest"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/pairing"
)

func TestStoreContract(t *testing.T) {
	t.Parallel()
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		availabilitytest.RunStoreContract(t, func(t *testing.T) availabilitytest.StoreHarness {
			db := testenv.Postgres(t)
			return storeHarness(availability.NewPostgresStore(db.Pool), newPGFacts(t, db.Pool))
		})
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		availabilitytest.RunStoreContract(t, func(t *testing.T) availabilitytest.StoreHarness {
			s := availability.NewMemoryStore()
			return storeHarness(s, newMemFacts(s))
		})
	})
	// Over one database with the pairing store, as curhat.NewMemoryClient builds it: the
	// open sessions are counted from the pairing store's chat sessions.
	t.Run("memory_shared", func(t *testing.T) {
		t.Parallel()
		availabilitytest.RunStoreContract(t, func(t *testing.T) availabilitytest.StoreHarness {
			db := memdb.New()
			s := availability.NewMemoryStoreIn(db)
			return storeHarness(s, &sessionFacts{memFacts: newMemFacts(s), pairs: pairing.NewMemoryStoreIn(db)})
		})
	})
}

// sessionFacts keeps a mitra's open sessions as rows of the pairing store's chat_sessions.
type sessionFacts struct {
	*memFacts
	pairs *pairing.MemoryStore
	mu    sync.Mutex
	held  map[uuid.UUID][]uuid.UUID
}

func (f *sessionFacts) setOpen(t testing.TB, mitraID uuid.UUID, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[uuid.UUID][]uuid.UUID{}
	}
	for _, id := range f.held[mitraID] {
		_, err := f.pairs.EndChatSession(ctxT(t), pairing.SessionTransition{
			ID: id, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
			Reason: pairing.EndClientEnded, Now: T0,
		})
		require.NoError(t, err)
	}
	f.held[mitraID] = nil
	for range n {
		s := pairing.ChatSession{
			ID: uuid.New(), ClientID: uuid.New(), MitraID: mitraID, Status: pairing.SessionActive, Minutes: 30,
			StartedAt: &T0, EndsAt: new(T0.Add(30 * time.Minute)), PairingID: uuid.New(), CreatedAt: T0, UpdatedAt: T0,
		}
		f.pairs.PutChatSession(s)
		f.held[mitraID] = append(f.held[mitraID], s.ID)
	}
}

func (f *sessionFacts) endSession(_ testing.TB, mitraID uuid.UUID, at time.Time) {
	start := at.Add(-30 * time.Minute)
	f.pairs.PutChatSession(pairing.ChatSession{
		ID: uuid.New(), ClientID: uuid.New(), MitraID: mitraID, Status: pairing.SessionEnded, Minutes: 30,
		StartedAt: &start, EndsAt: &at, EndedAt: &at, EndReason: pairing.EndClientEnded, PairingID: uuid.New(),
		CreatedAt: start, UpdatedAt: at,
	})
}

// storeHarness hands a store and the facts of its backend to the contract suite.
func storeHarness(s availability.Store, f facts) availabilitytest.StoreHarness {
	return availabilitytest.StoreHarness{
		Store:            s,
		SetOpenSessions:  func(t *testing.T, id uuid.UUID, n int) { f.setOpen(t, id, n) },
		EndSession:       func(t *testing.T, id uuid.UUID, at time.Time) { f.endSession(t, id, at) },
		AddAuthSession:   func(t *testing.T, id uuid.UUID) { f.addAuth(t, id) },
		LiveAuthSessions: func(t *testing.T, id uuid.UUID) int { return f.liveAuth(t, id) },
	}
}

func TestCacheContract(t *testing.T) {
	t.Parallel()
	valkeyHarness := func(cluster, clientCache bool) func(t *testing.T) availabilitytest.CacheHarness {
		return func(t *testing.T) availabilitytest.CacheHarness {
			v := testenv.NewValkey(t)
			names := valkeyutil.NewNames(v.Prefix, cluster)
			// Small chunks so that the suite's few hundred mitras exercise the multi-window
			// and multi-call paths.
			c := availability.NewValkeyCache(v.Client, availability.CacheConfig{
				Names: names, UseClientCache: clientCache, ChunkSize: 40,
			})
			return availabilitytest.CacheHarness{Cache: c, Flush: func(*testing.T) { testenv.DeletePrefix(v.Client, names.Prefix()) }}
		}
	}
	t.Run("valkey", func(t *testing.T) {
		t.Parallel()
		availabilitytest.RunCacheContract(t, valkeyHarness(false, false))
	})
	t.Run("valkey_hashtag_clientcache", func(t *testing.T) {
		t.Parallel()
		availabilitytest.RunCacheContract(t, valkeyHarness(true, true))
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		availabilitytest.RunCacheContract(t, func(t *testing.T) availabilitytest.CacheHarness {
			c := availability.NewMemoryCache()
			c.Flush() // as a fresh Valkey: no seed marker
			return availabilitytest.CacheHarness{Cache: c, Flush: func(*testing.T) { c.Flush() }}
		})
	})
}
