package curhat

import "github.com/curhat/curhat/internal/valkeyutil"

// KeyNames builds the Valkey key names of the product. The zero value gives the default
// names existing deployments read, byte for byte. Prefix returns what precedes every name. The sets and
// keys of the availability mirror: Online, Deactivated, HeartbeatIndex, AtCapacity,
// Snapshot, SeedMarker, and per mitra id Capacity(id), Heartbeat(id) and Devices(id).
// ConfigInvalidate is the runtime config's pub/sub channel; Channel(name) and Key(name)
// put a host's own channel or key under the same prefix.
type KeyNames = valkeyutil.Names

// DefaultClusterTag is the hash tag used in cluster mode when no prefix is given.
const DefaultClusterTag = valkeyutil.DefaultClusterTag

// NewKeyNames returns key names under prefix. In cluster mode every key carries one hash
// tag (the prefix inside braces) so that multi-key commands and scripts stay in one slot:
// NewKeyNames("", true) names "{curhat}:mitras:online".
func NewKeyNames(prefix string, cluster bool) KeyNames { return valkeyutil.NewNames(prefix, cluster) }
