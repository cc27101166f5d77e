package chat

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MemoryRateLimiter is a RateLimiter in this process's memory: a sliding log of each key's
// recent events. It holds the limit for the callers of this process only (each instance
// counts its own); NewValkeyRateLimiter holds it across instances. Keys whose events all
// left the window are dropped once a window, so the memory stays proportional to the keys
// active in the last window.
type MemoryRateLimiter struct {
	mu     sync.Mutex
	logs   map[string]*rateLog
	pruned time.Time // when the idle keys were last dropped
}

// rateLog is one key's events in the window, oldest first.
type rateLog struct {
	at  []time.Time
	ids []uuid.UUID
}

var _ RateLimiter = (*MemoryRateLimiter)(nil)

// NewMemoryRateLimiter returns an empty MemoryRateLimiter.
func NewMemoryRateLimiter() *MemoryRateLimiter {
	return &MemoryRateLimiter{logs: map[string]*rateLog{}}
}

func (l *MemoryRateLimiter) Allow(_ context.Context, key string, id uuid.UUID, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.pruned) >= window {
		for k, lg := range l.logs {
			if lg.trim(now.Add(-window)); len(lg.at) == 0 {
				delete(l.logs, k)
			}
		}
		l.pruned = now
	}
	lg := l.logs[key]
	if lg == nil {
		lg = &rateLog{}
		l.logs[key] = lg
	}
	lg.trim(now.Add(-window))
	if slices.Contains(lg.ids, id) {
		return true, 0, nil // this event, resent
	}
	if n := len(lg.at); n >= limit {
		// The next fits once the (n-limit+1)-th oldest leaves the window.
		return false, lg.at[n-limit].Add(window).Sub(now), nil
	}
	// In time order, also when callers' clocks disagree a little.
	i := len(lg.at)
	for i > 0 && lg.at[i-1].After(now) {
		i--
	}
	lg.at = slices.Insert(lg.at, i, now)
	lg.ids = slices.Insert(lg.ids, i, id)
	return true, 0, nil
}

// trim drops the events at or before since.
func (lg *rateLog) trim(since time.Time) {
	i := 0
	for i < len(lg.at) && !lg.at[i].After(since) {
		i++
	}
	if i > 0 {
		lg.at = append(lg.at[:0], lg.at[i:]...)
		lg.ids = append(lg.ids[:0], lg.ids[i:]...)
	}
}

// Len returns how many keys the limiter holds (tests).
func (l *MemoryRateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.logs)
}
