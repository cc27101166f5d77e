package availability

import (
	"cmp"
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
)

// Defaults of Config.
const (
	// DefaultStaleThreshold: a heartbeat older than this is stale (the mitra is no longer
	// reachable, and the auto-offline sweep sets it offline). MITRA_HEARTBEAT_STALE_SECONDS.
	DefaultStaleThreshold = 90 * time.Second
	// DefaultSnapshotTTL is how long a beacon count is served (availability:snapshot TTL).
	DefaultSnapshotTTL = 10 * time.Second
	// DefaultValkeyTimeout bounds every single-round-trip Valkey call. It is also the bound
	// on how long a read waits for a hung Valkey before answering from Postgres: a loopback
	// round trip takes well under a millisecond, so 300 ms is generous for a healthy server
	// and short enough for a request path.
	DefaultValkeyTimeout = 300 * time.Millisecond
	// DefaultValkeyBulkTimeout bounds the multi-round-trip Valkey work of the seed, the
	// sweeps and Drift (each round trip is small; the whole is O(mitras)).
	DefaultValkeyBulkTimeout = 15 * time.Second
	// DefaultWatchdogInterval is how often the watchdog probes Valkey for a restart or a
	// data loss.
	DefaultWatchdogInterval = 2 * time.Second
	// DefaultMaxSessions is the capacity of a mitra without its own maximum when
	// Config.DefaultMaxSessions is nil (runtime config mitra_max_concurrent_sessions).
	DefaultMaxSessions = 1
	// seedCatchUpMargin widens the catch-up window of a seed so that a write transaction
	// that began before the seed's snapshot but committed after it is re-synced.
	seedCatchUpMargin = time.Minute
)

// Config configures a Mirror. The zero value (or nil) works.
type Config struct {
	// Logger receives Valkey failures, fallbacks and seeds. Defaults to discarding.
	Logger *slog.Logger
	// Clock stamps heartbeats and judges freshness (a curhat.Clock, which a host may
	// implement). Defaults to the wall clock.
	Clock clock.Clock
	// StaleThreshold: see DefaultStaleThreshold. Defaults to 90 seconds.
	StaleThreshold time.Duration
	// SnapshotTTL: see DefaultSnapshotTTL. Defaults to 10 seconds.
	SnapshotTTL time.Duration
	// ValkeyTimeout: see DefaultValkeyTimeout. Defaults to 300 milliseconds.
	ValkeyTimeout time.Duration
	// ValkeyBulkTimeout: see DefaultValkeyBulkTimeout. Defaults to 15 seconds.
	ValkeyBulkTimeout time.Duration
	// WatchdogInterval: see DefaultWatchdogInterval. Defaults to 2 seconds.
	WatchdogInterval time.Duration
	// DefaultMaxSessions returns the runtime setting mitra_max_concurrent_sessions (for
	// example RuntimeConfig.MitraMaxConcurrentSessions). Defaults to 1. A change of the
	// value is picked up by the watchdog, which reseeds the at-capacity index.
	DefaultMaxSessions func(ctx context.Context) int
	// Wrapup returns the runtime setting mitra_wrapup_seconds (for example
	// RuntimeConfig.MitraWrapup): after a chat session of a mitra ends, how long the mitra
	// is offered nothing and not counted available. Defaults to none (0). See wrapup.go.
	Wrapup func(ctx context.Context) time.Duration
	// ReconnectGrace: see DefaultReconnectGrace. Defaults to 20 seconds; a grace longer
	// than StaleThreshold ends with the stream's lease, at StaleThreshold.
	ReconnectGrace time.Duration
	// MaxDevices: see DefaultMaxDevices. Defaults to 10.
	MaxDevices int
	// Hooks report counts to a metrics system (Counters.Hooks counts them). The zero
	// value reports nothing.
	Hooks Hooks
}

// validate reports a field no default can stand for: a negative duration.
func (c *Config) validate() error {
	if c == nil {
		return nil
	}
	return core.FirstError(
		core.NotNegative("Config.StaleThreshold", c.StaleThreshold),
		core.NotNegative("Config.SnapshotTTL", c.SnapshotTTL),
		core.NotNegative("Config.ValkeyTimeout", c.ValkeyTimeout),
		core.NotNegative("Config.ValkeyBulkTimeout", c.ValkeyBulkTimeout),
		core.NotNegative("Config.WatchdogInterval", c.WatchdogInterval),
		core.NotNegative("Config.ReconnectGrace", c.ReconnectGrace),
		core.NotNegative("Config.MaxDevices", c.MaxDevices),
	)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *Config) WithDefaults() Config {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.StaleThreshold = cmp.Or(out.StaleThreshold, DefaultStaleThreshold)
	out.SnapshotTTL = cmp.Or(out.SnapshotTTL, DefaultSnapshotTTL)
	out.ValkeyTimeout = cmp.Or(out.ValkeyTimeout, DefaultValkeyTimeout)
	out.ValkeyBulkTimeout = cmp.Or(out.ValkeyBulkTimeout, DefaultValkeyBulkTimeout)
	out.WatchdogInterval = cmp.Or(out.WatchdogInterval, DefaultWatchdogInterval)
	out.ReconnectGrace = cmp.Or(out.ReconnectGrace, DefaultReconnectGrace)
	out.MaxDevices = cmp.Or(out.MaxDevices, DefaultMaxDevices)
	if out.DefaultMaxSessions == nil {
		out.DefaultMaxSessions = func(context.Context) int { return DefaultMaxSessions }
	}
	if out.Wrapup == nil {
		out.Wrapup = func(context.Context) time.Duration { return 0 }
	}
	return out
}

// Hooks report what a metrics system counts. Every field is optional: a nil one is not
// called. They run synchronously on the request and sweep paths, so they must be fast and
// safe for concurrent use.
type Hooks struct {
	// ValkeyFallback: a read (op) was answered from Postgres because Valkey failed with err.
	ValkeyFallback func(op string, err error)
	// ValkeyWriteFailed: a Valkey write (op) after a Postgres commit failed with err; the
	// mirror drifts until the next reseed (which the Mirror requests).
	ValkeyWriteFailed func(op string, err error)
	// Seeded: a seed ran (err is nil when it succeeded).
	Seeded func(r SeedReport, err error)
}

// Counters counts what Hooks report, for tests and simple metrics endpoints: pass
// Counters.Hooks() as Config.Hooks. The zero value is ready to use.
type Counters struct {
	fallbacks, writeFailures, seeds, seedFailures atomic.Int64
}

// Hooks returns the hooks that count into c.
func (c *Counters) Hooks() Hooks {
	return Hooks{
		ValkeyFallback:    func(string, error) { c.fallbacks.Add(1) },
		ValkeyWriteFailed: func(string, error) { c.writeFailures.Add(1) },
		Seeded: func(_ SeedReport, err error) {
			if err != nil {
				c.seedFailures.Add(1)
				return
			}
			c.seeds.Add(1)
		},
	}
}

// Fallbacks is the number of reads answered from Postgres.
func (c *Counters) Fallbacks() int64 { return c.fallbacks.Load() }

// WriteFailures is the number of Valkey writes that failed after a Postgres commit.
func (c *Counters) WriteFailures() int64 { return c.writeFailures.Load() }

// Seeds is the number of seeds that succeeded.
func (c *Counters) Seeds() int64 { return c.seeds.Load() }

// SeedFailures is the number of seeds that failed.
func (c *Counters) SeedFailures() int64 { return c.seedFailures.Load() }
