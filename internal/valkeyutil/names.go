package valkeyutil

import "strings"

// Names builds the Valkey key names of the product. The zero value gives the default names
// that existing deployments read, byte for byte.
type Names struct {
	prefix string
}

// DefaultClusterTag is the hash tag used in cluster mode when no prefix is given.
const DefaultClusterTag = "curhat"

// NewNames returns key names under prefix. In cluster mode every key carries one hash tag
// (the prefix inside braces) so that multi-key commands and scripts stay in one slot:
// NewNames("", true) names "{curhat}:mitras:online".
func NewNames(prefix string, cluster bool) Names {
	if cluster && !strings.Contains(prefix, "{") {
		tag := strings.TrimSuffix(prefix, ":")
		if tag == "" {
			tag = DefaultClusterTag
		}
		prefix = "{" + tag + "}:"
	}
	return Names{prefix: prefix}
}

// Prefix returns the prefix put before every name.
func (n Names) Prefix() string { return n.prefix }

// Online is the SET of online, active mitra ids.
func (n Names) Online() string { return n.prefix + "mitras:online" }

// Deactivated is the SET of deactivated mitra ids.
func (n Names) Deactivated() string { return n.prefix + "mitras:deactivated" }

// Capacity is the STRING count of a mitra's active + pending_payment chat sessions.
func (n Names) Capacity(id string) string { return n.prefix + "mitra:capacity:" + id }

// Heartbeat is the STRING ISO-8601 time of a mitra's last ping.
func (n Names) Heartbeat(id string) string { return n.prefix + "mitra:heartbeat:" + id }

// Snapshot is the beacon cache {"available_count":N,"as_of":"…"}.
func (n Names) Snapshot() string { return n.prefix + "availability:snapshot" }

// ConfigInvalidate is the pub/sub channel carrying changed app_config keys.
func (n Names) ConfigInvalidate() string { return n.prefix + "config:invalidate" }

// Devices is a derived HASH of a mitra's device leases: device id → the device's last
// heartbeat, the contact time of its event stream and whether that stream is open. It
// exists only for an online mitra; in cluster mode it shares the hash tag of every other
// key, so the scripts that touch one mitra stay in one slot.
func (n Names) Devices(id string) string { return n.prefix + "mitra:devices:" + id }

// HeartbeatIndex is a derived ZSET: online mitra id → last heartbeat (unix ms).
func (n Names) HeartbeatIndex() string { return n.prefix + "mitras:heartbeat_index" }

// AtCapacity is a derived SET of mitras whose capacity reached their maximum.
func (n Names) AtCapacity() string { return n.prefix + "mitras:at_capacity" }

// SeedMarker is written by every seed; its absence means Valkey lost its data.
func (n Names) SeedMarker() string { return n.prefix + "mitras:seed_marker" }

// Channel names a pub/sub channel under the prefix.
func (n Names) Channel(name string) string { return n.prefix + name }

// Key names any other key under the prefix.
func (n Names) Key(name string) string { return n.prefix + name }
