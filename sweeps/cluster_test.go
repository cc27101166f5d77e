package sweeps_test

import (
	"testing"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/sweeps"
)

// TestLocker_ValkeyCluster runs the locker contract on a 3-master Redis Cluster, with the
// lock keys under the hash-tagged prefix of the other product keys.
func TestLocker_ValkeyCluster(t *testing.T) {
	t.Parallel()
	runLockerContract(t, func(t *testing.T) sweeps.Locker {
		v := testenv.StartCluster(t).NewValkey(t)
		return sweeps.NewValkeyLocker(v.Client, valkeyutil.NewNames(v.Prefix, true).Key(""))
	})
}
