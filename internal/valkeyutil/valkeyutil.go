// Package valkeyutil builds valkey-go clients from URLs, names the Valkey keys of the
// product, with the optional prefix and the cluster-safe hash tag, and runs Lua
// scripts in pipelines (Script).
package valkeyutil

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
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
	// DialTimeout bounds connecting. Defaults to 1 second (also when negative).
	DialTimeout time.Duration
	// WriteTimeout bounds a blocked socket write. Defaults to 1 second (also when negative).
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
	opt.Dialer.Timeout = cmp.Or(max(o.DialTimeout, 0), time.Second)
	opt.ConnWriteTimeout = cmp.Or(max(o.WriteTimeout, 0), time.Second)
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
