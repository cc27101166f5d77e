package chattest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/check"
)

// RunRateLimiterContract runs the conformance suite of chat.RateLimiter:
// chat.NewValkeyRateLimiter and chat.NewMemoryRateLimiter pass it. newLimiter returns a
// limiter (a fresh one, or one shared by the subtests: they use keys of their own).
func RunRateLimiterContract(t *testing.T, newLimiter func(t *testing.T) chat.RateLimiter) {
	const window = time.Minute
	allow := func(t *testing.T, l chat.RateLimiter, key string, id uuid.UUID, limit int, at time.Time) (bool, time.Duration) {
		t.Helper()
		ok, retry, err := l.Allow(check.Context(t), key, id, limit, window, at)
		check.NoError(t, err)
		return ok, retry
	}

	t.Run("AllowsTheLimitInAnyWindowThenSaysWhenTheNextFits", func(t *testing.T) {
		t.Parallel()
		l, key := newLimiter(t), uuid.NewString()
		for _, s := range []int{0, 10, 20} {
			ok, _ := allow(t, l, key, uuid.New(), 3, t0.Add(time.Duration(s)*time.Second))
			check.True(t, ok, "event at %ds", s)
		}
		ok, retry := allow(t, l, key, uuid.New(), 3, t0.Add(30*time.Second))
		check.False(t, ok, "a fourth within the minute")
		check.Equal(t, 30*time.Second, retry, "the first leaves the window at 60 s")
		// An event a whole window old has left it: the window ends at now, its start
		// excluded.
		ok, _ = allow(t, l, key, uuid.New(), 3, t0.Add(window))
		check.True(t, ok, "at 60 s")
		ok, retry = allow(t, l, key, uuid.New(), 3, t0.Add(61*time.Second))
		check.False(t, ok, "10, 20 and 60 s are in the window")
		check.Equal(t, 9*time.Second, retry)
		// A refused event is not counted: the next fits when the oldest leaves.
		ok, _ = allow(t, l, key, uuid.New(), 3, t0.Add(70*time.Second))
		check.True(t, ok, "at 70 s, 10 s has left")
	})

	t.Run("KeysCountApart", func(t *testing.T) {
		t.Parallel()
		l, a, b := newLimiter(t), uuid.NewString(), uuid.NewString()
		ok, _ := allow(t, l, a, uuid.New(), 1, t0)
		check.True(t, ok)
		ok, _ = allow(t, l, b, uuid.New(), 1, t0)
		check.True(t, ok, "another key")
		ok, _ = allow(t, l, a, uuid.New(), 1, t0.Add(time.Second))
		check.False(t, ok)
	})

	t.Run("AResentEventCountsOnce", func(t *testing.T) {
		t.Parallel()
		l, key, id := newLimiter(t), uuid.NewString(), uuid.New()
		for range 3 {
			ok, _ := allow(t, l, key, id, 2, t0)
			check.True(t, ok, "the same event")
		}
		ok, _ := allow(t, l, key, uuid.New(), 2, t0.Add(time.Second))
		check.True(t, ok, "the second event")
		ok, _ = allow(t, l, key, uuid.New(), 2, t0.Add(2*time.Second))
		check.False(t, ok, "a third")
	})

	t.Run("ALoweredLimitHoldsAtOnce", func(t *testing.T) {
		t.Parallel()
		l, key := newLimiter(t), uuid.NewString()
		for s := range 4 {
			ok, _ := allow(t, l, key, uuid.New(), 10, t0.Add(time.Duration(s)*time.Second))
			check.True(t, ok)
		}
		ok, retry := allow(t, l, key, uuid.New(), 2, t0.Add(10*time.Second))
		check.False(t, ok)
		check.Equal(t, 52*time.Second, retry, "two must leave: the one at 2 s leaves at 62 s")
	})

	t.Run("ConcurrentCallsNeverPassTheLimit", func(t *testing.T) {
		t.Parallel()
		l, key := newLimiter(t), uuid.NewString()
		allowed := make([]bool, 40)
		errs := check.Concurrently(len(allowed), func(i int) error {
			var err error
			allowed[i], _, err = l.Allow(check.Context(t), key, uuid.New(), 10, window, t0.Add(time.Duration(i)*time.Millisecond))
			return err
		})
		n := 0
		for i, err := range errs {
			check.NoError(t, err)
			if allowed[i] {
				n++
			}
		}
		check.Equal(t, 10, n)
	})
}
