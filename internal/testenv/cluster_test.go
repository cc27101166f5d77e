package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

func TestCluster_ThreeMastersServeHashTaggedMultiKeyCommands(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t)
	v := c.NewValkey(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	require.Len(t, c.Addrs(), testenv.ClusterMasters)
	require.Len(t, v.Client.Nodes(), testenv.ClusterMasters, "the client sees every master")

	names := valkeyutil.NewNames(v.Prefix, true)
	require.Equal(t, v.Prefix, names.Prefix(), "a tagged prefix is kept as it is")
	require.Equal(t, v.Names().Online(), names.Online())
	cmds := valkey.Commands{
		v.Client.B().Sadd().Key(names.Online()).Member("a", "b").Build(),
		v.Client.B().Sadd().Key(names.Deactivated()).Member("b").Build(),
	}
	for _, r := range v.Client.DoMulti(ctx, cmds...) {
		require.NoError(t, r.Error())
	}
	diff, err := v.Client.Do(ctx, v.Client.B().Sdiff().Key(names.Online(), names.Deactivated()).Build()).AsStrSlice()
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, diff)
}

func TestCluster_SpreadsDefaultKeyNamesOverSeveralMasters(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t)
	v := c.NewValkey(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Untagged names land on different slots: the cross-slot SDIFF is what the hash tag
	// exists for (valkey-go refuses it in the builder).
	plain := valkeyutil.NewNames(v.Prefix[1:len(v.Prefix)-2]+":", false)
	require.Panics(t, func() {
		v.Client.Do(ctx, v.Client.B().Sdiff().Key(plain.Online(), plain.Deactivated()).Build())
	})
	// The cluster really has several shards holding slots.
	shards, err := v.Client.Do(ctx, v.Client.B().ClusterSlots().Build()).ToArray()
	require.NoError(t, err)
	require.Len(t, shards, testenv.ClusterMasters)
}

func TestCluster_IsSharedByConcurrentTests(t *testing.T) {
	t.Parallel()
	a := testenv.StartCluster(t)
	b := testenv.StartCluster(t)
	require.Same(t, a, b)
	require.Contains(t, a.URL(), "?addr=")
}
