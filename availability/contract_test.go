package availability_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/availability/availabilitytest"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
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
}

// storeHarness hands a store and the facts of its backend to the contract suite.
func storeHarness(s availability.Store, f facts) availabilitytest.StoreHarness {
	return availabilitytest.StoreHarness{
		Store:            s,
		SetOpenSessions:  func(t *testing.T, id uuid.UUID, n int) { f.setOpen(t, id, n) },
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
