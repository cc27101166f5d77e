package sweeps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/lifecycle"
)

// Cadences of the sweeps (hosts map the environment variables onto them).
const (
	// DefaultAutoOfflineInterval: MITRA_AUTO_OFFLINE_SWEEP_SECONDS.
	DefaultAutoOfflineInterval = 30 * time.Second
	// DefaultHeartbeatMirrorInterval: HEARTBEAT_MIRROR_INTERVAL_SECONDS.
	DefaultHeartbeatMirrorInterval = 60 * time.Second
	// DefaultOnlineMirrorReseedInterval: VALKEY_ONLINE_MIRROR_SWEEP_SECONDS.
	DefaultOnlineMirrorReseedInterval = 300 * time.Second
	// DefaultPaymentSweepInterval: PAYMENT_SESSION_SWEEP_SECONDS.
	DefaultPaymentSweepInterval = 60 * time.Second
	// DefaultTimeoutsSweepInterval: PAIRING_SWEEP_SECONDS.
	DefaultTimeoutsSweepInterval = 1 * time.Second
	// DefaultPaymentRefundRetryInterval: PAYMENT_REFUND_RETRY_SECONDS, the cadence of the
	// refund retry sweep and the base of its backoff.
	DefaultPaymentRefundRetryInterval = 60 * time.Second
	// DefaultEarningsClearanceInterval: EARNINGS_CLEARANCE_SWEEP_SECONDS, the cadence of the
	// sweep that makes due earnings available.
	DefaultEarningsClearanceInterval = 300 * time.Second
	// DefaultPayoutRetryInterval: PAYOUT_RETRY_SECONDS, the cadence of the sweep that sends
	// again the payouts whose send was cut short.
	DefaultPayoutRetryInterval = 60 * time.Second
	// DefaultNoShowInterval: NO_SHOW_SWEEP_SECONDS, the cadence of the sweep that ends the
	// sessions whose mitra never showed up (mitra_first_reply_seconds): how late after the
	// deadline one may end.
	DefaultNoShowInterval = 15 * time.Second
	// DefaultChatRetentionInterval: CHAT_RETENTION_SWEEP_SECONDS, the cadence of the sweep
	// that deletes the chat messages older than chat_message_retention_days.
	DefaultChatRetentionInterval = time.Hour
)

// Defaults of Config.
const (
	// DefaultInterval is the cadence of a Config without one.
	DefaultInterval = time.Minute
	// DefaultJitter spreads runs by ±10% of the interval, so that instances started
	// together do not hit the stores in lockstep.
	DefaultJitter = 0.1
	// NoJitter disables jitter (a zero Jitter means DefaultJitter).
	NoJitter = -1
	// maxJitter keeps the shortest delay at half the interval.
	maxJitter = 0.5
)

// ErrPanic is wrapped by the error reported for a job that panicked.
var ErrPanic = errors.New("sweep job panicked")

// Job is one pass of a sweep. It must be idempotent and safe to run in several instances at
// once, stop promptly when ctx ends, and report what it did.
type Job func(ctx context.Context) (Report, error)

// Report says what one cycle did.
type Report struct {
	// Counts is what the job did, by name (for example {"offlined": 3}).
	Counts map[string]int
	// Duration is how long the job ran (set by the runner).
	Duration time.Duration
	// Skipped is set when another instance held the sweep's lock: the job did not run.
	Skipped bool
}

// Hooks report the outcome of every cycle, for metrics. Every field is optional: a nil one
// is not called.
type Hooks struct {
	// SweepRun is called after each run, failed run and skipped cycle (Report.Skipped),
	// but not for a run interrupted by Stop. It runs on the sweep's goroutine; a panic in
	// it is recovered and logged.
	SweepRun func(name string, r Report, err error)
}

// Config configures a Sweep. The zero value works (a job run every minute).
type Config struct {
	// Name identifies the sweep in logs, hooks and lock keys. Defaults to "sweep".
	Name string
	// Interval is the pause between the end of one run and the start of the next, before
	// jitter. Defaults to DefaultInterval (1 minute).
	Interval time.Duration
	// Jitter is the fraction of Interval by which each pause varies at random (±), at most
	// 0.5. Defaults to DefaultJitter (0.1); NoJitter (any negative value) disables it.
	Jitter float64
	// Timeout bounds one run. Defaults to Interval. With a Lock it is capped by LockTTL,
	// so that a run never outlives its lock.
	Timeout time.Duration
	// RunAtStart runs the job once as soon as the sweep starts.
	RunAtStart bool
	// Logger receives a line per run. Defaults to discarding.
	Logger *slog.Logger
	// Hooks receive every cycle's outcome. The zero value reports nothing.
	Hooks Hooks
	// Lock, when set, lets one instance per cycle run the job: the lock is taken before a
	// run and kept until LockTTL expires (released early only when the run fails, so that
	// another instance may retry). If the lock cannot be checked (Valkey down), the job
	// runs anyway: sweeps are idempotent, the lock only saves duplicate work.
	Lock Locker
	// LockTTL is how long a run holds the lock. Defaults to the shortest jittered pause,
	// Interval × (1 − Jitter).
	LockTTL time.Duration
	// Clock schedules the runs (a curhat.Clock, which a host may
	// implement). Defaults to the wall clock.
	Clock clock.Clock
}

// validate reports a field no default can stand for: a negative duration. (A jitter above
// 0.5 is capped by WithDefaults.)
func (c Config) validate() error {
	return core.FirstError(
		core.NotNegative("Config.Interval", c.Interval),
		core.NotNegative("Config.Timeout", c.Timeout),
		core.NotNegative("Config.LockTTL", c.LockTTL),
	)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *Config) WithDefaults() Config {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.Name = cmp.Or(out.Name, "sweep")
	out.Interval = cmp.Or(out.Interval, DefaultInterval)
	switch {
	case out.Jitter == 0:
		out.Jitter = DefaultJitter
	case out.Jitter < 0:
		out.Jitter = 0
	case out.Jitter > maxJitter:
		out.Jitter = maxJitter
	}
	out.Timeout = cmp.Or(out.Timeout, out.Interval)
	if out.Lock != nil {
		out.LockTTL = cmp.Or(out.LockTTL, time.Duration(float64(out.Interval)*(1-out.Jitter)))
		out.Timeout = min(out.Timeout, out.LockTTL)
	}
	return out
}

// Sweep runs a Job on a jittered cadence until stopped.
type Sweep struct {
	job  Job
	cfg  Config
	slot chan struct{} // one cycle at a time in this instance
	life *lifecycle.Lifecycle
}

// New returns a sweep of job; call Start to run it. It fails, naming the field, when job
// is nil or cfg holds a negative duration.
func New(job Job, cfg Config) (*Sweep, error) {
	if err := core.FirstError(core.Required("job", job == nil), cfg.validate()); err != nil {
		return nil, fmt.Errorf("sweeps.New: %w", err)
	}
	return &Sweep{job: job, cfg: cfg.WithDefaults(), slot: make(chan struct{}, 1), life: lifecycle.New()}, nil
}

// Name is the sweep's name.
func (s *Sweep) Name() string { return s.cfg.Name }

// Interval is the sweep's cadence, before jitter.
func (s *Sweep) Interval() time.Duration { return s.cfg.Interval }

// Start runs the sweep in the background and returns at once. It stops on Stop or when
// ctx ends. A sweep starts once: Start after Start or Stop fails.
func (s *Sweep) Start(ctx context.Context) error {
	runCtx, ok := s.life.Start(ctx)
	if !ok {
		return fmt.Errorf("sweep %s: already started or stopped", s.cfg.Name)
	}
	go func() {
		defer s.life.Finished()
		s.loop(runCtx)
	}()
	return nil
}

// Stop cancels the running job, if any, and waits for the sweep to end (or for ctx). It is
// idempotent and safe before Start.
func (s *Sweep) Stop(ctx context.Context) error { return s.life.Stop(ctx) }

// Stopped is closed once the sweep has stopped (at once by a Stop before Start).
func (s *Sweep) Stopped() <-chan struct{} { return s.life.Stopped() }

func (s *Sweep) loop(ctx context.Context) {
	if s.cfg.RunAtStart {
		_, _ = s.RunOnce(ctx)
	}
	wake := make(chan struct{}, 1)
	for {
		t := s.cfg.Clock.AfterFunc(s.nextDelay(), func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
		}
		_, _ = s.RunOnce(ctx)
	}
}

// nextDelay is Interval ± Jitter × Interval.
func (s *Sweep) nextDelay() time.Duration {
	if s.cfg.Jitter == 0 {
		return s.cfg.Interval
	}
	f := 1 + s.cfg.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(s.cfg.Interval) * f)
}

// RunOnce runs one cycle now, as the loop does: under the lock (a cycle another instance
// holds is skipped, Report.Skipped), bounded by Timeout, with panics recovered, logged and
// reported to the hooks. Cycles of one Sweep never overlap: RunOnce waits for a running one.
func (s *Sweep) RunOnce(ctx context.Context) (Report, error) {
	select {
	case s.slot <- struct{}{}:
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
	defer func() { <-s.slot }()

	var release func()
	if s.cfg.Lock != nil {
		rel, ok, err := s.cfg.Lock.TryLock(ctx, s.cfg.Name, s.cfg.LockTTL)
		switch {
		case err != nil && ctx.Err() != nil:
			return Report{}, ctx.Err()
		case err != nil:
			s.cfg.Logger.Warn("sweep lock unavailable; running without it", "sweep", s.cfg.Name, "err", err)
		case !ok:
			r := Report{Skipped: true}
			s.cfg.Logger.Debug("sweep skipped: another instance holds this cycle", "sweep", s.cfg.Name)
			s.hook(r, nil)
			return r, nil
		default:
			release = rel
		}
	}

	r, err := s.run(ctx)
	if err != nil && release != nil {
		release() // let another instance retry this cycle
	}
	if err != nil && ctx.Err() != nil {
		// Stopped mid-run: whatever the job returned stems from the cancellation, not a
		// failure worth a log line or a metric.
		s.cfg.Logger.Debug("sweep interrupted", "sweep", s.cfg.Name, "err", err)
		return r, err
	}
	s.log(r, err)
	s.hook(r, err)
	return r, err
}

// run calls the job with the per-run timeout and turns a panic into an error.
func (s *Sweep) run(ctx context.Context) (r Report, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	start := s.cfg.Clock.Now()
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("sweep job panicked", "sweep", s.cfg.Name, "panic", p, "stack", string(debug.Stack()))
			r, err = Report{}, fmt.Errorf("sweep %s: %w: %v", s.cfg.Name, ErrPanic, p)
		}
		r.Duration = s.cfg.Clock.Now().Sub(start)
		r.Skipped = false
	}()
	return s.job(ctx)
}

func (s *Sweep) log(r Report, err error) {
	if err != nil {
		s.cfg.Logger.Error("sweep failed", "sweep", s.cfg.Name, "duration", r.Duration, "counts", r.Counts, "err", err)
		return
	}
	level := slog.LevelDebug
	for _, n := range r.Counts {
		if n != 0 {
			level = slog.LevelInfo // something happened: worth a line
			break
		}
	}
	s.cfg.Logger.Log(context.Background(), level, "sweep done", "sweep", s.cfg.Name, "duration", r.Duration, "counts", r.Counts)
}

func (s *Sweep) hook(r Report, err error) {
	h := s.cfg.Hooks.SweepRun
	if h == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("sweep hooks panicked", "sweep", s.cfg.Name, "panic", p)
		}
	}()
	h(s.cfg.Name, r, err)
}
