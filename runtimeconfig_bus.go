package curhat

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/valkey-io/valkey-go"
)

// ConfigBus carries "this key changed" between the instances of a deployment. Messages are
// keys only: a subscriber drops its cached copy and rereads the store.
type ConfigBus interface {
	// Publish announces that key changed.
	Publish(ctx context.Context, key ConfigKey) error
	// Subscribe calls onKey for every published key until ctx ends, and blocks until then.
	// It calls onReset(true) on every (re)subscribe and onReset(false) when the
	// subscription is lost: messages may have been missed in between, so the subscriber
	// must drop everything it cached, and must not trust what it caches while not
	// subscribed. The callbacks run one at a time, in order, on Subscribe's goroutine.
	// Subscribe reconnects by itself.
	Subscribe(ctx context.Context, onKey func(ConfigKey), onReset func(subscribed bool)) error
}

// busQueue hands events from a transport (whose handler must stay fast) to the subscriber's
// callbacks. Keys coalesce; a reset subsumes every key queued before it.
type busQueue struct {
	mu         sync.Mutex
	keys       []ConfigKey
	queued     map[ConfigKey]bool
	reset      bool
	subscribed bool
	wake       chan struct{}
}

func newBusQueue() *busQueue {
	return &busQueue{queued: map[ConfigKey]bool{}, wake: make(chan struct{}, 1)}
}

func (q *busQueue) pushKey(k ConfigKey) {
	q.mu.Lock()
	if !q.queued[k] {
		q.queued[k] = true
		q.keys = append(q.keys, k)
	}
	q.mu.Unlock()
	q.signal()
}

func (q *busQueue) pushReset(subscribed bool) {
	q.mu.Lock()
	q.reset, q.subscribed = true, subscribed
	q.keys, q.queued = nil, map[ConfigKey]bool{}
	q.mu.Unlock()
	q.signal()
}

func (q *busQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events until ctx ends.
func (q *busQueue) run(ctx context.Context, onKey func(ConfigKey), onReset func(bool)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		q.mu.Lock()
		reset, subscribed, keys := q.reset, q.subscribed, q.keys
		q.reset, q.keys, q.queued = false, nil, map[ConfigKey]bool{}
		q.mu.Unlock()
		if reset && onReset != nil {
			onReset(subscribed)
		}
		if onKey != nil {
			for _, k := range keys {
				onKey(k)
			}
		}
	}
}

// MemoryConfigBus is an in-process ConfigBus: every subscriber (for example several
// RuntimeConfig instances in one test) receives every published key. Disconnect and
// Reconnect simulate a lost subscription.
type MemoryConfigBus struct {
	mu           sync.Mutex
	subs         map[*busQueue]struct{}
	disconnected bool
}

// NewMemoryConfigBus returns a connected in-process bus.
func NewMemoryConfigBus() *MemoryConfigBus {
	return &MemoryConfigBus{subs: map[*busQueue]struct{}{}}
}

// Publish delivers key to every subscriber (nobody while disconnected: the message is lost,
// as with Valkey pub/sub).
func (b *MemoryConfigBus) Publish(ctx context.Context, key ConfigKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.disconnected {
		return fmt.Errorf("publish %s: %w", key, ErrUnavailable)
	}
	for q := range b.subs {
		q.pushKey(key)
	}
	return nil
}

// Subscribe implements ConfigBus.
func (b *MemoryConfigBus) Subscribe(ctx context.Context, onKey func(ConfigKey), onReset func(bool)) error {
	q := newBusQueue()
	b.mu.Lock()
	b.subs[q] = struct{}{}
	if !b.disconnected {
		q.pushReset(true)
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, q)
		b.mu.Unlock()
	}()
	q.run(ctx, onKey, onReset)
	return nil
}

// Disconnect simulates losing the subscription: subscribers are told, and messages
// published until Reconnect are lost.
func (b *MemoryConfigBus) Disconnect() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.disconnected = true
	for q := range b.subs {
		q.pushReset(false)
	}
}

// Reconnect re-establishes every subscription (each subscriber sees a reset).
func (b *MemoryConfigBus) Reconnect() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.disconnected = false
	for q := range b.subs {
		q.pushReset(true)
	}
}

// Valkey bus timings.
const (
	// configPublishTimeout bounds one PUBLISH.
	configPublishTimeout = time.Second
	// Backoff between attempts when Receive gives up (valkey-go normally retries by itself).
	configResubscribeMin = 100 * time.Millisecond
	configResubscribeMax = 5 * time.Second
)

// NewValkeyConfigBus returns a ConfigBus on a Valkey pub/sub channel (normally
// valkeyutil.Names.ConfigInvalidate(), "config:invalidate"). The message is the key.
func NewValkeyConfigBus(client valkey.Client, channel string) ConfigBus {
	return &valkeyConfigBus{client: client, channel: channel}
}

type valkeyConfigBus struct {
	client  valkey.Client
	channel string
}

func (b *valkeyConfigBus) Publish(ctx context.Context, key ConfigKey) error {
	ctx, cancel := context.WithTimeout(ctx, configPublishTimeout)
	defer cancel()
	cmd := b.client.B().Publish().Channel(b.channel).Message(string(key)).Build()
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("publish %s on %s: %w: %v", key, b.channel, ErrUnavailable, err)
	}
	return nil
}

// Subscribe holds one SUBSCRIBE for as long as ctx lives. The subscription has no deadline
// by nature: its liveness is watched by valkey-go's background PING (a dead or frozen server
// closes the connection), and both ends of a connection are reported through the hooks.
func (b *valkeyConfigBus) Subscribe(ctx context.Context, onKey func(ConfigKey), onReset func(bool)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := newBusQueue()
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.receive(ctx, q)
	}()
	q.run(ctx, onKey, onReset)
	cancel()
	<-done
	return nil
}

func (b *valkeyConfigBus) receive(ctx context.Context, q *busQueue) {
	// The subscription hook fires on every (re)subscribe, including those valkey-go does
	// by itself after a reconnect; the return hook fires whenever one connection's
	// subscription ends (connection lost, or ctx done).
	rctx := valkey.WithOnSubscriptionHook(ctx, func(s valkey.PubSubSubscription) {
		if s.Kind == "subscribe" && s.Channel == b.channel {
			q.pushReset(true)
		}
	})
	rctx = valkey.WithOnReceiveReturnHook(rctx, func(err error, _ valkey.CommandClient) error {
		q.pushReset(false)
		return err
	})
	handler := func(m valkey.PubSubMessage) { q.pushKey(ConfigKey(m.Message)) }

	backoff := configResubscribeMin
	for {
		start := time.Now()
		_ = b.client.Receive(rctx, b.client.B().Subscribe().Channel(b.channel).Build(), handler)
		if ctx.Err() != nil {
			return
		}
		q.pushReset(false)
		if time.Since(start) > configResubscribeMax {
			backoff = configResubscribeMin
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, configResubscribeMax)
	}
}
