package extension

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
)

// Defaults of Config.
const (
	// DefaultOrphanTTL is how long an approved extension may stay without a payment
	// session (the charge could not be recorded, or the process died between approving
	// and charging) before SweepExpired expires it, so that it stops holding the
	// session's one open slot.
	DefaultOrphanTTL = 2 * time.Minute
	// DefaultSweepBatch bounds the extensions one SweepExpired statement expires.
	DefaultSweepBatch = 500
	// DefaultTimerTimeout bounds the work done when a request's decision timer fires.
	DefaultTimerTimeout = 30 * time.Second
)

// Config configures a Service. The zero value (or nil) works.
type Config struct {
	// Logger receives what the Service cannot return (timer work, notifications of
	// handler outcomes). Defaults to discarding.
	Logger *slog.Logger
	// Clock stamps the rows and runs the decision timers (a curhat.Clock, which a host may
	// implement). Defaults to the wall clock.
	Clock clock.Clock
	// OrphanTTL: see DefaultOrphanTTL. Defaults to 2 minutes.
	OrphanTTL time.Duration
	// SweepBatch: see DefaultSweepBatch. Defaults to 500.
	SweepBatch int
	// TimerTimeout: see DefaultTimerTimeout. Defaults to 30 seconds.
	TimerTimeout time.Duration
}

// validate reports a field no default can stand for: a negative duration or count.
func (c *Config) validate() error {
	if c == nil {
		return nil
	}
	return core.FirstError(
		core.NotNegative("Config.OrphanTTL", c.OrphanTTL),
		core.NotNegative("Config.SweepBatch", c.SweepBatch),
		core.NotNegative("Config.TimerTimeout", c.TimerTimeout),
	)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *Config) WithDefaults() Config {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.OrphanTTL = cmp.Or(out.OrphanTTL, DefaultOrphanTTL)
	out.SweepBatch = cmp.Or(out.SweepBatch, DefaultSweepBatch)
	out.TimerTimeout = cmp.Or(out.TimerTimeout, DefaultTimerTimeout)
	return out
}
