package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/valkey-io/valkey-go"
)

// broadcaster carries small messages to every server instance (token revocations, realtime
// events). Valkey pub/sub across instances; in-process in memory mode.
type broadcaster interface {
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe delivers messages on topic to fn until ctx ends, in a goroutine of its own.
	// onReset is called whenever messages may have been lost (a (re)subscription).
	Subscribe(ctx context.Context, topic string, fn func([]byte), onReset func())
}

// memBus is an in-process broadcaster.
type memBus struct {
	mu   sync.RWMutex
	subs map[string]map[*memSub]struct{}
}

type memSub struct{ fn func([]byte) }

func newMemBus() *memBus { return &memBus{subs: map[string]map[*memSub]struct{}{}} }

func (b *memBus) Publish(_ context.Context, topic string, payload []byte) error {
	b.mu.RLock()
	subs := make([]*memSub, 0, len(b.subs[topic]))
	for s := range b.subs[topic] {
		subs = append(subs, s)
	}
	b.mu.RUnlock()
	for _, s := range subs {
		s.fn(payload)
	}
	return nil
}

func (b *memBus) Subscribe(ctx context.Context, topic string, fn func([]byte), onReset func()) {
	s := &memSub{fn: fn}
	b.mu.Lock()
	if b.subs[topic] == nil {
		b.subs[topic] = map[*memSub]struct{}{}
	}
	b.subs[topic][s] = struct{}{}
	b.mu.Unlock()
	if onReset != nil {
		onReset()
	}
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		delete(b.subs[topic], s)
		b.mu.Unlock()
	})
}

// valkeyBus broadcasts over Valkey pub/sub; channel names carry the key prefix.
type valkeyBus struct {
	client  valkey.Client
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	wg      sync.WaitGroup
}

func (b *valkeyBus) Publish(ctx context.Context, topic string, payload []byte) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.client.Do(ctx, b.client.B().Publish().Channel(b.prefix+topic).Message(string(payload)).Build()).Error()
}

func (b *valkeyBus) Subscribe(ctx context.Context, topic string, fn func([]byte), onReset func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		hooked := valkey.WithOnSubscriptionHook(ctx, func(s valkey.PubSubSubscription) {
			if s.Kind == "subscribe" && onReset != nil {
				onReset()
			}
		})
		for ctx.Err() == nil {
			err := b.client.Receive(hooked, b.client.B().Subscribe().Channel(b.prefix+topic).Build(),
				func(m valkey.PubSubMessage) { fn([]byte(m.Message)) })
			if ctx.Err() != nil {
				return
			}
			b.log.Warn("pub/sub subscription lost; resubscribing", "topic", topic, "err", err)
			if onReset != nil {
				onReset()
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

// wait blocks until every subscription goroutine has returned (after their contexts ended).
func (b *valkeyBus) wait() { b.wg.Wait() }
