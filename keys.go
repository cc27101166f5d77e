package curhat

import "github.com/curhat/curhat/internal/valkeyutil"

// KeyNames builds the Valkey key names of the product. The zero value gives the default
// names of SPEC §4 byte for byte.
type KeyNames = valkeyutil.Names

// DefaultClusterTag is the hash tag used in cluster mode when no prefix is given.
const DefaultClusterTag = valkeyutil.DefaultClusterTag

// NewKeyNames returns key names under prefix. In cluster mode every key carries one hash
// tag (the prefix inside braces) so that multi-key commands and scripts stay in one slot:
// NewKeyNames("", true) names "{curhat}:mitras:online".
func NewKeyNames(prefix string, cluster bool) KeyNames { return valkeyutil.NewNames(prefix, cluster) }
