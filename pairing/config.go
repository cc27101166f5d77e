package pairing

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
)

// Defaults of Config.
const (
	// DefaultLateJoinBatch bounds how many still-searching blasts a mitra that just became
	// available is offered at once.
	DefaultLateJoinBatch = 5
	// DefaultUnavailableTTL is how long a pairing may sit in targeted_unavailable (the
	// client deciding between fallback-to-blast and cancel) before SweepTimeouts cancels
	// it. Nothing was charged, so the bound only keeps the client's "one open pairing"
	// slot from being held forever by an app that went away.
	DefaultUnavailableTTL = 10 * time.Minute
	// DefaultOrphanTTL is how long an awaiting_payment pairing may stay without a payment
	// session (its creation failed or the process died in between) before SweepTimeouts
	// cancels it.
	DefaultOrphanTTL = 2 * time.Minute
	// DefaultSweepBatch bounds the rows of each kind one SweepTimeouts pass handles.
	DefaultSweepBatch = 500
	// DefaultTimerTimeout bounds the work done when one in-process timer fires.
	DefaultTimerTimeout = 30 * time.Second
	// DefaultQueueNotifyLimit bounds how many queued pairings, from the head, are told
	// their new place (EventQueuePosition) when the queue changes; those further back
	// read it from QueueStatus, and are told once they come within.
	DefaultQueueNotifyLimit = 1000
	// DefaultDispatchBatch bounds how many available mitras (the longest idle first) one
	// pass of the queue's dispatch asks to take queued pairings: one transaction each. A
	// mitra whose slot frees is asked by itself (MitraAvailable), so the dispatch is for
	// the queued pairings a declined or lapsed offer let go.
	DefaultDispatchBatch = 50
)

// Config configures a Pairer. The zero value (or nil) works.
type Config struct {
	// Logger receives what the Pairer cannot return (timer work, best-effort refunds and
	// capacity updates). Defaults to discarding.
	Logger *slog.Logger
	// Clock tells the time and runs the deadline and expiry timers (a curhat.Clock, which a
	// host may implement). Defaults to the wall clock.
	Clock clock.Clock
	// FanoutCap bounds how many mitras one blast is offered to when it starts. Defaults
	// to 0: every available mitra.
	FanoutCap int
	// LateJoinBatch: see DefaultLateJoinBatch. Defaults to 5.
	LateJoinBatch int
	// UnavailableTTL: see DefaultUnavailableTTL. Defaults to 10 minutes.
	UnavailableTTL time.Duration
	// OrphanTTL: see DefaultOrphanTTL. Defaults to 2 minutes.
	OrphanTTL time.Duration
	// SweepBatch: see DefaultSweepBatch. Defaults to 500.
	SweepBatch int
	// TimerTimeout: see DefaultTimerTimeout. Defaults to 30 seconds.
	TimerTimeout time.Duration
	// QueueNotifyLimit: see DefaultQueueNotifyLimit. Defaults to 1000.
	QueueNotifyLimit int
	// DispatchBatch: see DefaultDispatchBatch. Defaults to 50.
	DispatchBatch int
	// Hooks report what the pairing policies do (queue waits, rings, mitras sent away) to
	// a metrics system. The zero value reports nothing.
	Hooks Hooks
}

// validate reports a field no default can stand for: a negative duration or count.
func (c *Config) validate() error {
	if c == nil {
		return nil
	}
	return core.FirstError(
		core.NotNegative("Config.FanoutCap", c.FanoutCap),
		core.NotNegative("Config.LateJoinBatch", c.LateJoinBatch),
		core.NotNegative("Config.UnavailableTTL", c.UnavailableTTL),
		core.NotNegative("Config.OrphanTTL", c.OrphanTTL),
		core.NotNegative("Config.SweepBatch", c.SweepBatch),
		core.NotNegative("Config.TimerTimeout", c.TimerTimeout),
		core.NotNegative("Config.QueueNotifyLimit", c.QueueNotifyLimit),
		core.NotNegative("Config.DispatchBatch", c.DispatchBatch),
	)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *Config) WithDefaults() Config {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.LateJoinBatch = cmp.Or(out.LateJoinBatch, DefaultLateJoinBatch)
	out.UnavailableTTL = cmp.Or(out.UnavailableTTL, DefaultUnavailableTTL)
	out.OrphanTTL = cmp.Or(out.OrphanTTL, DefaultOrphanTTL)
	out.SweepBatch = cmp.Or(out.SweepBatch, DefaultSweepBatch)
	out.TimerTimeout = cmp.Or(out.TimerTimeout, DefaultTimerTimeout)
	out.QueueNotifyLimit = cmp.Or(out.QueueNotifyLimit, DefaultQueueNotifyLimit)
	out.DispatchBatch = cmp.Or(out.DispatchBatch, DefaultDispatchBatch)
	return out
}

// DefaultSettings serves the runtime defaults; it is what a Pairer uses when
// Deps.Settings is nil.
type DefaultSettings struct{}

func (DefaultSettings) BlastTimeout(context.Context) time.Duration {
	return core.DefaultPairingBlastTimeout
}

func (DefaultSettings) TargetedTimeout(context.Context) time.Duration {
	return core.DefaultPairingTargetedTimeout
}

func (DefaultSettings) MitraMaxConcurrentSessions(context.Context) int {
	return core.DefaultMitraMaxConcurrentSessions
}
