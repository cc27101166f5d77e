package curhat_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
)

func TestKeyNames_DefaultsAreTheContractNamesByteForByte(t *testing.T) {
	t.Parallel()
	var n curhat.KeyNames
	require.Equal(t, "mitras:online", n.Online())
	require.Equal(t, "mitras:deactivated", n.Deactivated())
	require.Equal(t, "mitra:capacity:abc", n.Capacity("abc"))
	require.Equal(t, "mitra:heartbeat:abc", n.Heartbeat("abc"))
	require.Equal(t, "availability:snapshot", n.Snapshot())
	require.Equal(t, "config:invalidate", n.ConfigInvalidate())
	require.Equal(t, n, curhat.NewKeyNames("", false))
	require.Equal(t, "app:mitras:online", curhat.NewKeyNames("app:", false).Online())
}

func TestKeyNames_ClusterModePutsEveryKeyUnderOneHashTag(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "app:", "{x}:"} {
		n := curhat.NewKeyNames(prefix, true)
		keys := []string{n.Online(), n.Deactivated(), n.Capacity("a"), n.Heartbeat("a"), n.Snapshot(),
			n.HeartbeatIndex(), n.AtCapacity(), n.SeedMarker(), n.Devices("a")}
		tag := hashTag(keys[0])
		require.NotEmpty(t, tag, prefix)
		for _, k := range keys {
			require.Equal(t, tag, hashTag(k), "key %q", k)
		}
	}
	require.Equal(t, "{curhat}:mitras:online", curhat.NewKeyNames("", true).Online())
}

// hashTag returns the part of key that Redis Cluster hashes (between the first { and }).
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return ""
	}
	return key[i+1 : i+1+j]
}
