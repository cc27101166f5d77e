package availability_test

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
)

// spyCache wraps a Cache to count calls and inject faults or interleavings.
type spyCache struct {
	availability.Cache

	mu    sync.Mutex
	calls map[string]int
	// fail makes the named method fail (before calling the real one).
	fail map[string]error
	// before runs before the named method calls the real one; after runs after it.
	before map[string]func()
	after  map[string]func()
}

func newSpy(c availability.Cache) *spyCache {
	return &spyCache{Cache: c, calls: map[string]int{}, fail: map[string]error{},
		before: map[string]func(){}, after: map[string]func(){}}
}

func (s *spyCache) enter(name string) error {
	s.mu.Lock()
	s.calls[name]++
	err, fn := s.fail[name], s.before[name]
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
	return err
}

func (s *spyCache) leave(name string) {
	s.mu.Lock()
	fn := s.after[name]
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (s *spyCache) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

func (s *spyCache) setFail(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[name] = err
}

func (s *spyCache) setBefore(name string, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before[name] = fn
}

func (s *spyCache) setAfter(name string, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after[name] = fn
}

func (s *spyCache) Heartbeat(ctx context.Context, p availability.HeartbeatParams) (bool, error) {
	if err := s.enter("Heartbeat"); err != nil {
		return false, err
	}
	defer s.leave("Heartbeat")
	return s.Cache.Heartbeat(ctx, p)
}

func (s *spyCache) Streams(ctx context.Context, p availability.StreamsParams) ([]availability.StreamResult, error) {
	if err := s.enter("Streams"); err != nil {
		return nil, err
	}
	defer s.leave("Streams")
	return s.Cache.Streams(ctx, p)
}

func (s *spyCache) EndDevice(ctx context.Context, p availability.EndDeviceParams) (availability.DeviceEnd, error) {
	if err := s.enter("EndDevice"); err != nil {
		return availability.DeviceEnd{}, err
	}
	defer s.leave("EndDevice")
	return s.Cache.EndDevice(ctx, p)
}

func (s *spyCache) Apply(ctx context.Context, p availability.ApplyParams) error {
	if err := s.enter("Apply"); err != nil {
		return err
	}
	defer s.leave("Apply")
	return s.Cache.Apply(ctx, p)
}

func (s *spyCache) Replace(ctx context.Context, seed availability.SeedData) ([]uuid.UUID, error) {
	if err := s.enter("Replace"); err != nil {
		return nil, err
	}
	defer s.leave("Replace")
	return s.Cache.Replace(ctx, seed)
}

func (s *spyCache) CountAvailable(ctx context.Context, freshAfter time.Time) (int, error) {
	if err := s.enter("CountAvailable"); err != nil {
		return 0, err
	}
	defer s.leave("CountAvailable")
	return s.Cache.CountAvailable(ctx, freshAfter)
}

func (s *spyCache) Snapshot(ctx context.Context) (availability.Snapshot, bool, error) {
	if err := s.enter("Snapshot"); err != nil {
		return availability.Snapshot{}, false, err
	}
	defer s.leave("Snapshot")
	return s.Cache.Snapshot(ctx)
}

func (s *spyCache) StoreSnapshot(ctx context.Context, snap availability.Snapshot, ttl time.Duration) error {
	if err := s.enter("StoreSnapshot"); err != nil {
		return err
	}
	defer s.leave("StoreSnapshot")
	return s.Cache.StoreSnapshot(ctx, snap, ttl)
}

func (s *spyCache) StaleOnline(ctx context.Context, staleBefore time.Time) ([]uuid.UUID, error) {
	if err := s.enter("StaleOnline"); err != nil {
		return nil, err
	}
	defer s.leave("StaleOnline")
	return s.Cache.StaleOnline(ctx, staleBefore)
}

func (s *spyCache) Offline(ctx context.Context, p availability.OfflineParams) ([]uuid.UUID, []uuid.UUID, error) {
	if err := s.enter("Offline"); err != nil {
		return nil, p.IDs, err
	}
	defer s.leave("Offline")
	return s.Cache.Offline(ctx, p)
}

func (s *spyCache) Heartbeats(ctx context.Context) ([]availability.HeartbeatAt, error) {
	if err := s.enter("Heartbeats"); err != nil {
		return nil, err
	}
	defer s.leave("Heartbeats")
	return s.Cache.Heartbeats(ctx)
}

// spyStore wraps a Store to interleave writes with a seed.
type spyStore struct {
	availability.Store
	mu             sync.Mutex
	afterAllStates func()
}

func (s *spyStore) AllStates(ctx context.Context, endedAfter time.Time) ([]availability.MitraState, error) {
	states, err := s.Store.AllStates(ctx, endedAfter)
	s.mu.Lock()
	fn := s.afterAllStates
	s.afterAllStates = nil
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
	return states, err
}
