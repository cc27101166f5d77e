// Package lifecycle implements the Start/Stop/Stopped contract shared by the background
// services (runtime config subscription, availability watchdog, sweeps): Start returns at once,
// Stop is idempotent and safe before Start, Stopped closes when the background work ended.
package lifecycle

import (
	"context"
	"sync"
)

// Lifecycle tracks one background goroutine. The zero value is not usable: call New.
type Lifecycle struct {
	mu        sync.Mutex
	started   bool
	stopped   bool
	cancel    context.CancelFunc
	stoppedCh chan struct{}
}

// New returns a Lifecycle that has not started.
func New() *Lifecycle { return &Lifecycle{stoppedCh: make(chan struct{})} }

// Start returns the context the background work runs under, or ok=false when the
// Lifecycle was already started or stopped. The caller starts its goroutine and calls
// Finished when that goroutine returns.
func (l *Lifecycle) Start(ctx context.Context) (runCtx context.Context, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.stopped {
		return nil, false
	}
	l.started = true
	runCtx, l.cancel = context.WithCancel(ctx)
	return runCtx, true
}

// Finished marks the background work as ended.
func (l *Lifecycle) Finished() { close(l.stoppedCh) }

// Stopped closes when the background work has ended (or Stop was called before Start).
func (l *Lifecycle) Stopped() <-chan struct{} { return l.stoppedCh }

// Stop cancels the background work and waits for it, or for ctx to end.
func (l *Lifecycle) Stop(ctx context.Context) error {
	l.mu.Lock()
	if !l.started {
		if !l.stopped {
			l.stopped = true
			close(l.stoppedCh)
		}
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	cancel := l.cancel
	l.mu.Unlock()
	cancel()
	return Wait(ctx, l.stoppedCh)
}
