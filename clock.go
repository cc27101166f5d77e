package curhat

import (
	"time"

	"github.com/curhat/curhat/internal/clock"
)

// Clock tells the time and schedules callbacks: every Config of the SDK takes one (nil is
// the wall clock), so that timeouts, timers and sweeps run on the host's time. A host type
// with Now() time.Time and AfterFunc(time.Duration, func()) Timer satisfies it.
type Clock = clock.Clock

// Timer is a callback scheduled by Clock.AfterFunc. Its one method, Stop() bool, prevents
// the callback from firing and reports whether it stopped it.
type Timer = clock.Timer

// FakeClock is a Clock that only moves when told: timers fire synchronously, in deadline
// order, inside Advance and Set, so a test sees their effects as soon as the call returns.
// Its methods: Now and AfterFunc (the Clock), Advance(d) and Set(t) (never backwards) to
// move it, and Pending, how many timers are scheduled.
type FakeClock = clock.Fake

// WallClock is the real time: what a nil Clock stands for.
func WallClock() Clock { return clock.Real{} }

// NewFakeClock returns a FakeClock set to t (UTC).
func NewFakeClock(t time.Time) *FakeClock { return clock.NewFake(t) }
