package sweeps_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/sweeps"
	"github.com/curhat/curhat/sweeps/sweepstest"
)

// hookCall is one SweepRun call.
type hookCall struct {
	name string
	r    sweeps.Report
	err  error
}

type recorder struct {
	mu    sync.Mutex
	calls []hookCall
}

func (h *recorder) SweepRun(name string, r sweeps.Report, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, hookCall{name, r, err})
}

func (h *recorder) snapshot() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(level slog.Level) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: level})), b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(time.Millisecond) // polling interval, not a wait for an outcome
	}
}

func stopSweep(t *testing.T, s *sweeps.Sweep) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	select {
	case <-s.Stopped():
	default:
		t.Fatal("Stopped not closed after Stop returned")
	}
}

func countingJob(n *atomic.Int64) sweeps.Job {
	return func(context.Context) (sweeps.Report, error) {
		n.Add(1)
		return sweeps.Report{Counts: map[string]int{"done": 1}}, nil
	}
}

func TestSweep_RunsOnItsCadenceUntilStopped(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	hooks := &recorder{}
	s, err := sweeps.New(countingJob(&runs), sweeps.Config{Name: "tick", Interval: 5 * time.Millisecond, Hooks: sweeps.Hooks{SweepRun: hooks.SweepRun}})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	waitFor(t, 5*time.Second, "3 runs", func() bool { return runs.Load() >= 3 })
	stopSweep(t, s)

	after := runs.Load()
	calls := hooks.snapshot()
	require.Len(t, calls, int(after), "one hook call per run")
	for _, c := range calls {
		require.Equal(t, "tick", c.name)
		require.NoError(t, c.err)
		require.Equal(t, map[string]int{"done": 1}, c.r.Counts)
	}
	// The loop is gone: a stopped sweep's Stop returns at once and nothing runs any more
	// (goleak in TestMain checks no goroutine is left).
	stopSweep(t, s)
	require.Equal(t, after, runs.Load())
}

func TestSweep_RunAtStartRunsBeforeTheFirstInterval(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	s, err := sweeps.New(countingJob(&runs), sweeps.Config{Interval: time.Hour, RunAtStart: true})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	defer stopSweep(t, s)
	waitFor(t, 5*time.Second, "the first run", func() bool { return runs.Load() == 1 })
}

func TestSweep_StopBeforeStartIsSafe(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	s, err := sweeps.New(countingJob(&runs), sweeps.Config{Interval: time.Millisecond, RunAtStart: true})
	require.NoError(t, err)
	stopSweep(t, s)
	stopSweep(t, s)
	require.Error(t, s.Start(context.Background()), "a stopped sweep does not start")
	require.Zero(t, runs.Load())
}

func TestSweep_StartTwiceFails(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	s, err := sweeps.New(countingJob(&runs), sweeps.Config{Interval: time.Hour})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	require.Error(t, s.Start(context.Background()))
	stopSweep(t, s)
}

func TestSweep_CancellingTheStartContextStops(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	s, err := sweeps.New(countingJob(&runs), sweeps.Config{Interval: time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.Start(ctx))
	cancel()
	select {
	case <-s.Stopped():
	case <-time.After(5 * time.Second):
		t.Fatal("not stopped after its context ended")
	}
	stopSweep(t, s)
}

func TestSweep_RunOnceReportsCountsAndDuration(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	hooks := &recorder{}
	s, err := sweeps.New(func(context.Context) (sweeps.Report, error) {
		clk.Advance(250 * time.Millisecond)
		return sweeps.Report{Counts: map[string]int{"offlined": 3}}, nil
	}, sweeps.Config{Name: "auto_offline", Clock: clk, Hooks: sweeps.Hooks{SweepRun: hooks.SweepRun}})
	require.NoError(t, err)

	r, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, map[string]int{"offlined": 3}, r.Counts)
	require.Equal(t, 250*time.Millisecond, r.Duration)
	require.False(t, r.Skipped)
	require.Equal(t, []hookCall{{"auto_offline", r, nil}}, hooks.snapshot())
}

func TestSweep_JobErrorIsReportedAndTheLoopContinues(t *testing.T) {
	t.Parallel()
	boom := errors.New("valkey unreachable")
	var runs atomic.Int64
	hooks := &recorder{}
	log, logs := newLogger(slog.LevelInfo)
	s, err := sweeps.New(func(context.Context) (sweeps.Report, error) {
		if runs.Add(1) == 1 {
			return sweeps.Report{}, boom
		}
		return sweeps.Report{}, nil
	}, sweeps.Config{Name: "auto_offline", Interval: 2 * time.Millisecond, RunAtStart: true, Hooks: sweeps.Hooks{SweepRun: hooks.SweepRun}, Logger: log})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	waitFor(t, 5*time.Second, "runs after the failure", func() bool { return runs.Load() >= 3 })
	stopSweep(t, s)

	calls := hooks.snapshot()
	require.ErrorIs(t, calls[0].err, boom)
	for _, c := range calls[1:] {
		require.NoError(t, c.err)
	}
	require.Contains(t, logs.String(), "level=ERROR msg=\"sweep failed\" sweep=auto_offline")
	require.Contains(t, logs.String(), "valkey unreachable")
}

func TestSweep_PanickingJobIsRecoveredAndTheLoopContinues(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	hooks := &recorder{}
	s, err := sweeps.New(func(context.Context) (sweeps.Report, error) {
		runs.Add(1)
		panic("nil map")
	}, sweeps.Config{Name: "payments", Interval: 2 * time.Millisecond, RunAtStart: true, Hooks: sweeps.Hooks{SweepRun: hooks.SweepRun}})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	waitFor(t, 5*time.Second, "runs after the panic", func() bool { return runs.Load() >= 3 })
	stopSweep(t, s)

	_, err = s.RunOnce(context.Background())
	require.ErrorIs(t, err, sweeps.ErrPanic)
	require.Contains(t, err.Error(), "nil map")
	for _, c := range hooks.snapshot() {
		require.ErrorIs(t, c.err, sweeps.ErrPanic)
	}
}

func TestSweep_TimeoutBoundsOneRun(t *testing.T) {
	t.Parallel()
	hooks := &recorder{}
	log, logs := newLogger(slog.LevelInfo)
	s, err := sweeps.New(func(ctx context.Context) (sweeps.Report, error) {
		<-ctx.Done()
		return sweeps.Report{}, ctx.Err()
	}, sweeps.Config{Name: "reseed", Timeout: 10 * time.Millisecond, Hooks: sweeps.Hooks{SweepRun: hooks.SweepRun}, Logger: log})
	require.NoError(t, err)
	_, err = s.RunOnce(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, hooks.snapshot(), 1, "a timed-out run is a failure worth reporting")
	require.Contains(t, logs.String(), "sweep failed")
}

func TestSweep_StopCancelsARunningJobWithoutNoise(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var finished atomic.Bool
	hooks := &recorder{}
	log, logs := newLogger(slog.LevelInfo)
	s, err := sweeps.New(func(ctx context.Context) (sweeps.Report, error) {
		close(started)
		<-ctx.Done()
		finished.Store(true)
		return sweeps.Report{}, ctx.Err()
	}, sweeps.Config{Name: "heartbeat_mirror", Interval: time.Hour, RunAtStart: true, Hooks: sweeps.Hooks{SweepRun: hooks.SweepRun}, Logger: log})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	<-started
	stopSweep(t, s)
	require.True(t, finished.Load(), "Stop waits for the job to return")
	require.Empty(t, hooks.snapshot(), "an interrupted run is not a metric")
	require.Empty(t, logs.String(), "no log noise for a cancellation")
}

func TestSweep_RunsOfOneSweepNeverOverlap(t *testing.T) {
	t.Parallel()
	var running, maxRunning, runs atomic.Int64
	s, err := sweeps.New(func(context.Context) (sweeps.Report, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		runs.Add(1)
		time.Sleep(time.Millisecond) // hold the run open so that overlaps would show
		return sweeps.Report{}, nil
	}, sweeps.Config{Interval: time.Millisecond, Jitter: sweeps.NoJitter})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				_, err := s.RunOnce(context.Background())
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	stopSweep(t, s)
	require.GreaterOrEqual(t, runs.Load(), int64(40))
	require.EqualValues(t, 1, maxRunning.Load())
}

func TestSweep_FakeClockDrivesTheJitteredCadence(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	var runs atomic.Int64
	const interval = 10 * time.Second
	s, err := sweeps.New(countingJob(&runs), sweeps.Config{Interval: interval, Jitter: 0.5, Clock: clk})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	defer stopSweep(t, s)

	const step = 10 * time.Millisecond
	for i := int64(1); i <= 20; i++ {
		waitFor(t, 5*time.Second, "the next run to be scheduled", func() bool { return clk.Pending() == 1 })
		base := clk.Now()
		// Advance in small steps until the timer fires; the pause it measured must lie in
		// Interval × (1 ± Jitter).
		// Only Advance fires timers, and the job counts its run before the next timer is
		// scheduled: "pending and not run" means the timer has not fired yet.
		for clk.Pending() == 1 && runs.Load() < i {
			require.LessOrEqual(t, clk.Now().Sub(base), interval*3/2, "no run within the longest pause")
			clk.Advance(step)
		}
		pause := clk.Now().Sub(base)
		require.GreaterOrEqual(t, pause, interval/2, "ran before the shortest pause")
		waitFor(t, 5*time.Second, "run", func() bool { return runs.Load() == i })
	}
}

// grant is one successful TryLock: the lock was taken somewhere between before and after.
type grant struct{ before, after time.Time }

// recordingLocker records the successful TryLocks of the lockers it wraps.
type recordingLocker struct {
	sweeps.Locker
	mu     *sync.Mutex
	grants *[]grant
}

func (l recordingLocker) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	before := time.Now()
	release, ok, err := l.Locker.TryLock(ctx, name, ttl)
	if ok {
		l.mu.Lock()
		*l.grants = append(*l.grants, grant{before, time.Now()})
		l.mu.Unlock()
	}
	return release, ok, err
}

func TestSweep_LockLetsOneInstancePerCycleRun(t *testing.T) {
	t.Parallel()
	v := testenv.NewValkey(t)
	other, err := valkeyutil.NewClient(valkeyutil.Options{URL: v.URL})
	require.NoError(t, err)
	defer other.Close()

	const interval = 40 * time.Millisecond
	var (
		mu         sync.Mutex
		grants     []grant
		runs       atomic.Int64
		running    atomic.Int64
		overlapped atomic.Bool
	)
	job := func(context.Context) (sweeps.Report, error) {
		if running.Add(1) > 1 {
			overlapped.Store(true)
		}
		defer running.Add(-1)
		runs.Add(1)
		time.Sleep(5 * time.Millisecond) // a run that takes a while, so that overlaps would show
		return sweeps.Report{}, nil
	}
	hooks := &recorder{}
	var ss []*sweeps.Sweep
	// Two instances: each its own Valkey client, one lock key.
	for _, c := range []valkey.Client{v.Client, other} {
		l := recordingLocker{Locker: sweeps.NewValkeyLocker(c, v.Prefix), mu: &mu, grants: &grants}
		s, err := sweeps.New(job, sweeps.Config{Name: "reseed", Interval: interval, Jitter: sweeps.NoJitter,
			RunAtStart: true, Lock: l, Hooks: sweeps.Hooks{SweepRun: hooks.SweepRun}})
		require.NoError(t, err)
		require.NoError(t, s.Start(context.Background()))
		ss = append(ss, s)
	}
	waitFor(t, 10*time.Second, "10 cycles", func() bool { return runs.Load() >= 10 })
	for _, s := range ss {
		stopSweep(t, s)
	}

	require.False(t, overlapped.Load(), "two instances ran at once")
	mu.Lock()
	defer mu.Unlock()
	require.EqualValues(t, len(grants), runs.Load(), "one run per granted cycle")
	for i := 1; i < len(grants); i++ {
		// Exactly one run per cycle: a lock is granted again only once the previous grant
		// (LockTTL = interval) has expired. Valkey expires with millisecond precision.
		require.GreaterOrEqual(t, grants[i].after.Sub(grants[i-1].before), interval-2*time.Millisecond,
			"grants %d and %d in the same cycle", i-1, i)
	}
	skipped := 0
	for _, c := range hooks.snapshot() {
		if c.r.Skipped {
			skipped++
		}
	}
	require.Positive(t, skipped, "the other instance skipped its cycles")
}

func TestSweep_LockHeldByAnotherInstanceSkipsTheCycle(t *testing.T) {
	t.Parallel()
	impls := map[string]func(t *testing.T) sweeps.Locker{
		"valkey": func(t *testing.T) sweeps.Locker {
			v := testenv.NewValkey(t)
			return sweeps.NewValkeyLocker(v.Client, v.Prefix)
		},
		"memory": func(*testing.T) sweeps.Locker { return sweepstest.NewLocker(nil) },
	}
	for name, newLocker := range impls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			locker := newLocker(t)
			ctx := context.Background()
			release := make(chan error)
			started := make(chan struct{}, 1)
			var runs atomic.Int64
			job := func(context.Context) (sweeps.Report, error) {
				runs.Add(1)
				started <- struct{}{}
				return sweeps.Report{}, <-release
			}
			cfg := sweeps.Config{Name: "payments", Interval: time.Hour, Lock: locker, LockTTL: time.Hour}
			a, err := sweeps.New(job, cfg)
			require.NoError(t, err)
			b, err := sweeps.New(job, cfg)
			require.NoError(t, err)

			// A holds the cycle; B, at the same time, skips it.
			done := make(chan error, 1)
			go func() { _, err := a.RunOnce(ctx); done <- err }()
			<-started
			r, err := b.RunOnce(ctx)
			require.NoError(t, err)
			require.True(t, r.Skipped)
			require.EqualValues(t, 1, runs.Load())

			// A succeeds and keeps the lock for the rest of the cycle.
			release <- nil
			require.NoError(t, <-done)
			r, err = b.RunOnce(ctx)
			require.NoError(t, err)
			require.True(t, r.Skipped, "a successful run keeps its cycle")
			require.EqualValues(t, 1, runs.Load())
		})
	}
}

func TestSweep_FailedRunReleasesTheLockForAnotherInstance(t *testing.T) {
	t.Parallel()
	locker := sweepstest.NewLocker(nil)
	var runs atomic.Int64
	fail, err := sweeps.New(func(context.Context) (sweeps.Report, error) {
		runs.Add(1)
		return sweeps.Report{}, errors.New("postgres down")
	}, sweeps.Config{Name: "timeouts", Interval: time.Hour, Lock: locker})
	require.NoError(t, err)
	ok, err := sweeps.New(countingJob(&runs), sweeps.Config{Name: "timeouts", Interval: time.Hour, Lock: locker})
	require.NoError(t, err)

	_, err = fail.RunOnce(context.Background())
	require.Error(t, err)
	require.False(t, locker.Held("timeouts"))
	r, err := ok.RunOnce(context.Background())
	require.NoError(t, err)
	require.False(t, r.Skipped, "another instance retries the failed cycle")
	require.EqualValues(t, 2, runs.Load())
	require.True(t, locker.Held("timeouts"))
}

type brokenLocker struct{}

func (brokenLocker) TryLock(context.Context, string, time.Duration) (func(), bool, error) {
	return nil, false, errors.New("connection refused")
}

func TestSweep_UnavailableLockRunsTheJobAnyway(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	log, logs := newLogger(slog.LevelInfo)
	s, err := sweeps.New(countingJob(&runs), sweeps.Config{Name: "reseed", Lock: brokenLocker{}, Logger: log})
	require.NoError(t, err)
	r, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	require.False(t, r.Skipped)
	require.EqualValues(t, 1, runs.Load())
	require.Contains(t, logs.String(), "running without it")
}

func TestConfig_WithDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   sweeps.Config
		want func(t *testing.T, c sweeps.Config)
	}{
		{"zero", sweeps.Config{}, func(t *testing.T, c sweeps.Config) {
			require.Equal(t, "sweep", c.Name)
			require.Equal(t, sweeps.DefaultInterval, c.Interval)
			require.Equal(t, sweeps.DefaultJitter, c.Jitter)
			require.Equal(t, sweeps.DefaultInterval, c.Timeout)
			require.NotNil(t, c.Logger)
			require.NotNil(t, c.Clock)
			require.Zero(t, c.LockTTL, "no lock, no TTL")
		}},
		{"no jitter", sweeps.Config{Jitter: sweeps.NoJitter}, func(t *testing.T, c sweeps.Config) {
			require.Zero(t, c.Jitter)
		}},
		{"jitter capped", sweeps.Config{Jitter: 3}, func(t *testing.T, c sweeps.Config) {
			require.Equal(t, 0.5, c.Jitter)
		}},
		{"timeout defaults to interval", sweeps.Config{Interval: 30 * time.Second}, func(t *testing.T, c sweeps.Config) {
			require.Equal(t, 30*time.Second, c.Timeout)
		}},
		{"lock TTL is the shortest pause and caps the timeout", sweeps.Config{Interval: 30 * time.Second, Lock: brokenLocker{}},
			func(t *testing.T, c sweeps.Config) {
				require.Equal(t, 27*time.Second, c.LockTTL)
				require.Equal(t, 27*time.Second, c.Timeout)
			}},
		{"explicit lock TTL", sweeps.Config{Interval: time.Second, Timeout: 5 * time.Second, Lock: brokenLocker{}, LockTTL: 10 * time.Second},
			func(t *testing.T, c sweeps.Config) {
				require.Equal(t, 10*time.Second, c.LockTTL)
				require.Equal(t, 5*time.Second, c.Timeout)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want(t, tc.in.WithDefaults())
		})
	}
}

func TestDefaultCadences(t *testing.T) {
	t.Parallel()
	require.Equal(t, 30*time.Second, sweeps.DefaultAutoOfflineInterval)
	require.Equal(t, 60*time.Second, sweeps.DefaultHeartbeatMirrorInterval)
	require.Equal(t, 300*time.Second, sweeps.DefaultOnlineMirrorReseedInterval)
	require.Equal(t, 60*time.Second, sweeps.DefaultPaymentSweepInterval)
	require.Equal(t, 1*time.Second, sweeps.DefaultTimeoutsSweepInterval)
}
