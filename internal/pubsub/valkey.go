package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Valkey is a bus over Valkey pub/sub: topic t travels on the channel prefix+t, so that
// with the default (empty) key prefix the runtime config topic is the shared
// "config:invalidate" byte for byte.
//
// On a cluster it uses sharded pub/sub (SPUBLISH and SSUBSCRIBE, Valkey and Redis 7.0 or
// later): a channel's messages all pass through the shard that owns its slot, which keeps
// them in order. A classic PUBLISH enters the cluster at whichever node the client picks
// and reaches a subscriber on another node through the cluster bus, so two messages from
// one publisher can arrive out of order (and every message is broadcast to every node).
type Valkey struct {
	client  valkey.Client
	prefix  string
	sharded bool
	cfg     Config
}

// NewValkey returns a bus over client whose channels are prefix + topic. cfg may be nil.
// It fails for a nil client or an invalid cfg.
func NewValkey(client valkey.Client, prefix string, cfg *Config) (*Valkey, error) {
	if client == nil {
		return nil, errors.New("pubsub: nil Valkey client")
	}
	c, err := configured(cfg)
	if err != nil {
		return nil, err
	}
	return &Valkey{client: client, prefix: prefix, sharded: client.Mode() == valkey.ClientModeCluster, cfg: c}, nil
}

// Publish implements Bus, bounded by Config.PublishTimeout.
func (b *Valkey) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	channel := b.prefix + topic
	var cmd valkey.Completed
	if b.sharded {
		cmd = b.client.B().Spublish().Channel(channel).Message(string(payload)).Build()
	} else {
		cmd = b.client.B().Publish().Channel(channel).Message(string(payload)).Build()
	}
	// A publish is a write: valkey-go does not retry it, so the deadline bounds one attempt.
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("publish on %s: %w: %v", channel, ErrUnavailable, err)
	}
	return nil
}

// Subscribe implements Bus. The subscription has no deadline by nature: its liveness is
// watched by valkey-go's background PING, which closes a connection whose server stopped
// answering.
func (b *Valkey) Subscribe(ctx context.Context, topic string, h Handler) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := newQueue(topic, b.cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.follow(ctx, b.prefix+topic, q)
	}()
	q.run(ctx, h)
	cancel()
	<-done
	return nil
}

// follow holds the subscription until ctx ends, resubscribing with backoff.
func (b *Valkey) follow(ctx context.Context, channel string, q *queue) {
	bo := backoff{min: b.cfg.BackoffMin, max: b.cfg.BackoffMax, next: b.cfg.BackoffMin}
	quiet := false // an outage is logged once, at its first failed attempt
	for {
		start := time.Now()
		up, err := b.attempt(ctx, channel, q)
		if ctx.Err() != nil {
			return
		}
		q.state(false)
		if up {
			quiet = false
			if time.Since(start) >= b.cfg.BackoffMax {
				bo.next = bo.min
			}
		}
		wait := bo.wait()
		if !quiet {
			b.cfg.Logger.Info("pubsub: not subscribed; retrying with backoff", "channel", channel, "retry_in", wait, "err", err)
			quiet = true
		} else {
			b.cfg.Logger.Debug("pubsub: subscription attempt failed", "channel", channel, "retry_in", wait, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// attempt subscribes on a dedicated connection and holds the subscription until the
// connection or ctx ends. up tells whether the server confirmed the subscription. A
// dedicated connection returns from Receive when it breaks, instead of redialling by
// itself at valkey-go's pace: the reconnection policy stays the bus's.
func (b *Valkey) attempt(ctx context.Context, channel string, q *queue) (up bool, err error) {
	dc, release := b.client.Dedicate()
	defer release()
	defer dc.Close() // a connection that carried a subscription is not reused (Close releases it too)
	var cmd valkey.Completed
	kind := "subscribe" // the confirmation that the subscription is up
	if b.sharded {
		cmd, kind = dc.B().Ssubscribe().Channel(channel).Build(), "ssubscribe"
	} else {
		cmd = dc.B().Subscribe().Channel(channel).Build()
	}
	var confirmed atomic.Bool
	hooked := valkey.WithOnSubscriptionHook(ctx, func(s valkey.PubSubSubscription) {
		if s.Kind == kind && s.Channel == channel {
			confirmed.Store(true)
			q.state(true)
		}
	})
	err = dc.Receive(hooked, cmd, func(m valkey.PubSubMessage) {
		q.message([]byte(m.Message))
	})
	return confirmed.Load(), err
}

// backoff is an exponential backoff with "equal jitter": each wait is between half and all
// of the current step, and the step doubles up to max.
type backoff struct {
	min, max, next time.Duration
}

func (b *backoff) wait() time.Duration {
	d := b.next
	b.next = min(2*b.next, b.max)
	return d/2 + rand.N(d/2+1)
}
