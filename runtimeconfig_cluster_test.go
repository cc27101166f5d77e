package curhat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/testenv"
)

// TestRuntimeConfig_CrossInstanceInvalidationOverValkeyCluster runs the invalidation bus on
// a 3-master Redis Cluster: three instances, each with its own cluster client (so their
// subscriptions land on whichever node the client picks), see every write made through
// any of them.
func TestRuntimeConfig_CrossInstanceInvalidationOverValkeyCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.Postgres(t)
	cluster := testenv.StartCluster(t)
	v := cluster.NewValkey(t)
	names := curhat.NewKeyNames(v.Prefix, true)

	var rcs []*curhat.RuntimeConfig
	for range 3 {
		bus := valkeyBus(t, cluster.Client(t), names, nil)
		rcs = append(rcs, newPGInstance(t, db.URL, bus).rc)
	}
	for _, rc := range rcs {
		require.Equal(t, 60*time.Second, rc.BlastTimeout(ctx), "every instance caches the default")
	}
	for i, secs := range []int{120, 90, 3600} {
		writer := rcs[i%len(rcs)]
		_, err := writer.Set(ctx, string(curhat.KeyPairingBlastTimeout), json.RawMessage(fmt.Sprint(secs)), "op")
		require.NoError(t, err, "write %d", i)
		for _, rc := range rcs {
			requireSeenWithin(t, 2*time.Second, rc, time.Duration(secs)*time.Second)
		}
	}
}
