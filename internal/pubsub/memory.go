package pubsub

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// Memory is a bus within one process: every subscription of a topic (for example several
// services standing for several instances in one test) receives every message published
// on it, in one order for all. Disconnect and Reconnect simulate a lost subscription.
type Memory struct {
	cfg Config

	mu           sync.Mutex
	subs         map[string]map[*queue]struct{}
	disconnected bool
}

// NewMemory returns a connected in-process bus. cfg may be nil; only Logger, Buffer and
// OnDrop apply. It fails only for an invalid cfg.
func NewMemory(cfg *Config) (*Memory, error) {
	c, err := configured(cfg)
	if err != nil {
		return nil, err
	}
	return &Memory{cfg: c, subs: map[string]map[*queue]struct{}{}}, nil
}

// Publish implements Bus. While disconnected the message is lost, as with Valkey, and
// Publish fails with ErrUnavailable.
func (b *Memory) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.disconnected {
		return fmt.Errorf("publish on %s: %w", topic, ErrUnavailable)
	}
	payload = bytes.Clone(payload) // the caller may reuse its buffer, as with Valkey
	for q := range b.subs[topic] {
		q.message(payload)
	}
	return nil
}

// Subscribe implements Bus.
func (b *Memory) Subscribe(ctx context.Context, topic string, h Handler) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	q := newQueue(topic, b.cfg)
	b.mu.Lock()
	if b.subs[topic] == nil {
		b.subs[topic] = map[*queue]struct{}{}
	}
	b.subs[topic][q] = struct{}{}
	if !b.disconnected {
		q.state(true)
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs[topic], q)
		if len(b.subs[topic]) == 0 {
			delete(b.subs, topic)
		}
		b.mu.Unlock()
	}()
	q.run(ctx, h)
	return nil
}

// Disconnect simulates losing every subscription: subscribers are told, and messages
// published until Reconnect are lost.
func (b *Memory) Disconnect() { b.setConnected(false) }

// Reconnect re-establishes every subscription; each subscriber sees a Subscribed reset.
func (b *Memory) Reconnect() { b.setConnected(true) }

func (b *Memory) setConnected(up bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.disconnected = !up
	for _, qs := range b.subs {
		for q := range qs {
			q.state(up)
		}
	}
}
