// Package valkeyutil builds valkey-go clients from URLs and names the Valkey keys of the
// product (SPEC §4), with the optional prefix and the cluster-safe hash tag.
package valkeyutil

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Options configures NewClient.
type Options struct {
	// URL is redis://host:port[/db] (valkey:// and rediss:// work too).
	URL string
	// Cluster connects in cluster mode; otherwise the client is forced standalone.
	Cluster bool
	// DisableCache turns off server-assisted client-side caching (needed for servers
	// without CLIENT TRACKING).
	DisableCache bool
	// DialTimeout bounds connecting. Defaults to 1 second.
	DialTimeout time.Duration
	// WriteTimeout bounds a blocked socket write. Defaults to 1 second.
	WriteTimeout time.Duration
	// OnDial, when set, is called after every successful dial (a reconnect signal).
	OnDial func()
}

// NewClient connects to Valkey.
func NewClient(o Options) (valkey.Client, error) {
	opt, err := valkey.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("parse valkey url: %w", err)
	}
	opt.ForceSingleClient = !o.Cluster
	opt.DisableCache = opt.DisableCache || o.DisableCache
	opt.Dialer.Timeout = cmpOr(o.DialTimeout, time.Second)
	opt.ConnWriteTimeout = cmpOr(o.WriteTimeout, time.Second)
	if o.OnDial != nil {
		inner := opt.DialCtxFn
		opt.DialCtxFn = func(ctx context.Context, addr string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
			var conn net.Conn
			var err error
			if inner != nil {
				conn, err = inner(ctx, addr, d, cfg)
			} else if cfg != nil {
				conn, err = (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", addr)
			} else {
				conn, err = d.DialContext(ctx, "tcp", addr)
			}
			if err == nil {
				o.OnDial()
			}
			return conn, err
		}
	}
	c, err := valkey.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("connect valkey: %w", err)
	}
	return c, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Names builds key names. The zero value gives the default names of SPEC §4 byte for byte.
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
