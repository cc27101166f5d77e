package availability_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/availability/availabilitytest"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
)

// The Valkey Cluster runs of the suite: the cache contract here, and every
// forKinds test of the package through kindCluster (a Mirror over Postgres and a private
// 3-master cluster with hash-tagged key names). A command that crosses slots would panic
// in valkey-go's builder and fail these tests.

func TestCacheContract_Cluster(t *testing.T) {
	t.Parallel()
	harness := func(clientCache bool) func(t *testing.T) availabilitytest.CacheHarness {
		return func(t *testing.T) availabilitytest.CacheHarness {
			c := testenv.StartCluster(t)
			v := c.NewValkey(t)
			client := v.Client
			if clientCache {
				cc, err := valkeyutil.NewClient(valkeyutil.Options{URL: c.URL(), Cluster: true})
				require.NoError(t, err)
				t.Cleanup(cc.Close)
				client = cc
			}
			names := valkeyutil.NewNames(v.Prefix, true)
			cache := availability.NewValkeyCache(client, availability.CacheConfig{
				Names: names, UseClientCache: clientCache, ChunkSize: 40,
			})
			return availabilitytest.CacheHarness{Cache: cache, Flush: func(*testing.T) {
				for _, node := range v.Client.Nodes() {
					testenv.DeletePrefix(node, names.Prefix())
				}
			}}
		}
	}
	t.Run("valkey_cluster", func(t *testing.T) {
		t.Parallel()
		availabilitytest.RunCacheContract(t, harness(false))
	})
	t.Run("valkey_cluster_clientcache", func(t *testing.T) {
		t.Parallel()
		availabilitytest.RunCacheContract(t, harness(true))
	})
}

func TestCluster_MirrorRunsOnOneSlot(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindCluster, setupOptions{})
	ctx := ctxT(t)
	a, c := b.onlineMitra(t), b.onlineMitra(t)
	_, err := b.mirror.SetActive(ctx, c, false)
	require.NoError(t, err)
	ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{a}, ids)
	b.requireNoDrift(t)
	require.Zero(t, b.hooks.Fallbacks(), "no call fell back to Postgres")
	require.Zero(t, b.hooks.WriteFailures())
}
