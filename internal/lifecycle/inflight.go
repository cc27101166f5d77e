package lifecycle

import (
	"context"
	"sync"
)

// Wait blocks until done is closed (nil) or ctx ends (its error).
func Wait(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InFlight tracks the callbacks a service's timers are running, for its Stop: once Drain
// was called, Drained closes when the last of them returned. The zero value is not usable:
// call NewInFlight.
type InFlight struct {
	wg      sync.WaitGroup
	once    sync.Once
	drained chan struct{}
}

// NewInFlight returns an InFlight with nothing in flight.
func NewInFlight() *InFlight { return &InFlight{drained: make(chan struct{})} }

// Add counts a callback that starts; the caller makes sure Drain has not been called yet
// (it checks its own stopped flag under its lock).
func (f *InFlight) Add() { f.wg.Add(1) }

// Done counts a callback that returned.
func (f *InFlight) Done() { f.wg.Done() }

// Drain waits (until ctx ends) for the callbacks in flight. It is idempotent.
func (f *InFlight) Drain(ctx context.Context) error {
	f.once.Do(func() {
		go func() {
			f.wg.Wait()
			close(f.drained)
		}()
	})
	return Wait(ctx, f.drained)
}

// Drained is closed once Drain was called and every callback returned.
func (f *InFlight) Drained() <-chan struct{} { return f.drained }
