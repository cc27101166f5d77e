// Package sweepstest holds in-memory implementations of the sweeps ports, for tests that run
// several sweeps in one process without Valkey.
package sweepstest

import (
	"context"
	"sync"
	"time"
)

// Locker is an in-process sweeps.Locker that behaves like the Valkey one: a lock expires
// after its TTL, and a release never removes a lock taken since by someone else.
type Locker struct {
	now func() time.Time

	mu    sync.Mutex
	seq   int
	locks map[string]held
}

type held struct {
	token   int
	expires time.Time
}

// NewLocker returns an empty Locker reading time from now (nil: the wall clock).
func NewLocker(now func() time.Time) *Locker {
	if now == nil {
		now = time.Now
	}
	return &Locker{now: now, locks: map[string]held{}}
}

// TryLock implements sweeps.Locker.
func (l *Locker) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if h, ok := l.locks[name]; ok && now.Before(h.expires) {
		return nil, false, nil
	}
	l.seq++
	token := l.seq
	l.locks[name] = held{token: token, expires: now.Add(ttl)}
	release := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if h, ok := l.locks[name]; ok && h.token == token {
			delete(l.locks, name)
		}
	}
	return release, true, nil
}

// Held reports whether the lock called name is held now.
func (l *Locker) Held(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.locks[name]
	return ok && l.now().Before(h.expires)
}
