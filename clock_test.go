package curhat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/sweeps"
)

// hostClock is a clock a host writes itself (not the SDK's FakeClock): it hands every
// scheduled callback to the test, which decides when it fires.
type hostClock struct {
	mu        sync.Mutex
	now       time.Time
	scheduled chan *hostTimer
}

type hostTimer struct {
	at time.Time
	f  func()

	mu      sync.Mutex
	stopped bool
}

func (c *hostClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *hostClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *hostClock) AfterFunc(d time.Duration, f func()) curhat.Timer {
	t := &hostTimer{at: c.Now().Add(d), f: f}
	c.scheduled <- t
	return t
}

func (t *hostTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// fire runs the callback unless it was stopped.
func (t *hostTimer) fire() {
	t.mu.Lock()
	stopped := t.stopped
	t.mu.Unlock()
	if !stopped {
		t.f()
	}
}

var _ curhat.Clock = (*hostClock)(nil)

func TestClock_AHostClockDrivesASweep(t *testing.T) {
	t0 := time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)
	clk := &hostClock{now: t0, scheduled: make(chan *hostTimer, 4)}
	ran := make(chan time.Time)
	reports := make(chan sweeps.Report, 4)
	s, err := sweeps.New(func(ctx context.Context) (sweeps.Report, error) {
		started := clk.Now()
		clk.set(started.Add(5 * time.Second)) // the job takes 5 s of the host's time
		ran <- started
		return sweeps.Report{Counts: map[string]int{"done": 1}}, nil
	}, sweeps.Config{
		Name: "host_clock", Interval: time.Minute, Jitter: sweeps.NoJitter, Clock: clk,
		Hooks: sweeps.Hooks{SweepRun: func(_ string, r sweeps.Report, _ error) { reports <- r }},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}

	first := <-clk.scheduled
	if want := t0.Add(time.Minute); !first.at.Equal(want) {
		t.Fatalf("first run scheduled at %s, want %s (one interval of the host's time)", first.at, want)
	}
	clk.set(first.at)
	first.fire()
	if at := <-ran; !at.Equal(first.at) {
		t.Fatalf("the job ran at %s, want %s", at, first.at)
	}
	if r := <-reports; r.Duration != 5*time.Second || r.Counts["done"] != 1 {
		t.Fatalf("report %+v: want the 5 s the host clock moved and the job's counts", r)
	}
	second := <-clk.scheduled
	if want := first.at.Add(5*time.Second + time.Minute); !second.at.Equal(want) {
		t.Fatalf("second run scheduled at %s, want %s (an interval after the run ended)", second.at, want)
	}

	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	<-s.Stopped()
	if second.Stop() {
		t.Fatal("Stop left the next run scheduled")
	}
}
