package curhat

import (
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/pubsub"
)

// Bus carries small messages between the instances of a deployment on named topics: the
// runtime config's invalidations ("config:invalidate"), and whatever a host needs to
// broadcast (the reference server sends token revocations and realtime events on it).
//
// Pub/sub keeps nothing, so a subscriber is told through BusHandler.Reset whenever it may
// have missed messages: on every (re)subscription, when the subscription is lost, and when
// it fell behind and messages were dropped for it. A cache that drops everything on a
// reset, and trusts itself only briefly while not subscribed, never misses an
// invalidation silently. Each subscription's messages and resets arrive one at a time, in
// order, on the goroutine that called Subscribe. NewValkeyBus reconnects by itself with
// exponential backoff and bounds every publish by a deadline.
//
// Its methods: Publish(ctx, topic, payload) sends payload to every subscription of topic
// that is up (an error wrapping ErrUnavailable when it could not be handed over; never
// retried); Subscribe(ctx, topic, h) delivers topic's messages and resets to h until ctx
// ends, blocking until then (an error at once only for an invalid topic).
type Bus = pubsub.Bus

// BusHandler receives one subscription's messages and resets; either func may be nil.
// Message(payload) gets each message in publish order (the payload may be shared: do not
// modify it); Reset(BusReset) is called whenever messages may have been missed.
type BusHandler = pubsub.Handler

// BusReset tells a subscriber that messages may have been missed: Subscribed tells whether
// its subscription is up now (before the first reset it is not), Dropped counts the
// messages dropped because it fell behind (0 for a change of subscription state).
type BusReset = pubsub.Reset

// BusConfig configures NewValkeyBus. The zero value (or nil) works; WithDefaults returns a
// copy with every zero field set to its default. Fields: Logger (lost and re-established
// subscriptions, dropped messages; defaults to discarding), Buffer (messages and resets
// that may wait for one subscriber; DefaultBusBuffer), PublishTimeout (bounds one publish;
// DefaultBusPublishTimeout), BackoffMin and BackoffMax (the wait between two subscription
// attempts; DefaultBusBackoffMin, DefaultBusBackoffMax) and OnDrop(topic, n) (told when a
// subscriber of topic lost n messages, for metrics; keep it quick).
type BusConfig = pubsub.Config

// MemoryBus is a Bus within one process (tests, demos, a single instance): Publish and
// Subscribe as the Bus; Disconnect and Reconnect simulate a lost subscription.
type MemoryBus = pubsub.Memory

// ValkeyBus is a Bus over Valkey pub/sub: Publish and Subscribe as the Bus.
type ValkeyBus = pubsub.Valkey

// Defaults of BusConfig.
const (
	// DefaultBusBuffer is how many messages and resets may wait for one subscriber before
	// they are dropped and reported as one reset.
	DefaultBusBuffer = pubsub.DefaultBuffer
	// DefaultBusPublishTimeout bounds one publish.
	DefaultBusPublishTimeout = pubsub.DefaultPublishTimeout
	// DefaultBusBackoffMin is the first wait before resubscribing to Valkey.
	DefaultBusBackoffMin = pubsub.DefaultBackoffMin
	// DefaultBusBackoffMax is the longest wait between two subscription attempts.
	DefaultBusBackoffMax = pubsub.DefaultBackoffMax
)

// NewMemoryBus returns a connected in-process bus.
func NewMemoryBus() *MemoryBus {
	b, _ := pubsub.NewMemory(nil) // the zero config is valid
	return b
}

// NewValkeyBus returns a bus over Valkey pub/sub whose channels are the topics under the
// key prefix of names (names.ConfigInvalidate() is the runtime config's channel: with the
// default names, "config:invalidate", byte for byte, as existing deployments listen). On a cluster client it uses
// sharded pub/sub, which keeps each channel's messages in order. cfg may be nil. It fails
// for a nil client or a negative setting in cfg, naming it.
func NewValkeyBus(client valkey.Client, names KeyNames, cfg *BusConfig) (*ValkeyBus, error) {
	return pubsub.NewValkey(client, names.Prefix(), cfg)
}
