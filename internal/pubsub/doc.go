// Package pubsub is the SDK's one publish/subscribe bus: small messages on named topics,
// carried between the instances of a deployment by Valkey pub/sub (Valkey) or within one
// process (Memory). Runtime config invalidation, token revocation and realtime events all
// travel on it.
//
// # Delivery
//
// Pub/sub keeps nothing: a message reaches the subscriptions that are up when it is
// published, and nobody else. A subscriber cannot be sure to receive everything, but it is
// always told when it may have missed something, through Handler.Reset:
//
//   - Reset{Subscribed: true} on every (re)subscription, the first one included: what was
//     published before it, or while the subscription was down, was not delivered.
//   - Reset{Subscribed: false} as soon as the subscription is lost (connection closed,
//     server restarted or frozen): nothing arrives until the next Subscribed reset.
//   - Reset{Subscribed: true, Dropped: n} when the subscriber fell behind and n messages
//     were dropped on its behalf (see Config.Buffer).
//
// So a cache that drops everything on every Reset, and trusts what it caches only briefly
// while not subscribed, never misses an invalidation silently.
//
// # Ordering and slow subscribers
//
// A subscription's messages and resets are delivered one at a time, in the order they
// happened, on the goroutine that called Subscribe. The transport never waits for a
// subscriber: it appends to the subscription's queue, bounded by Config.Buffer, and
// returns (for Valkey this keeps valkey-go's receive loop fast, as it requires). When the
// queue is full, everything waiting in it is dropped and replaced by one Reset that counts
// the dropped messages (its Subscribed is the state at that moment); the message that
// arrived is queued after it. The subscriber then catches up from a clean state instead of
// stalling the connection or everyone else's delivery. Config.OnDrop counts such losses.
//
// # Valkey
//
// Topic t travels on the channel key prefix + t, so that with the default key names the
// runtime config topic is the shared "config:invalidate". On a cluster the bus uses sharded
// pub/sub (SPUBLISH, SSUBSCRIBE), which keeps a channel's messages in order.
//
// Each subscription holds its own dedicated connection, so that the bus, not the client's
// retry policy, decides when to reconnect, and a slow subscriber never delays the host's
// commands. A lost subscription is retried with exponential backoff: BackoffMin after a
// subscription that had been up for at least BackoffMax (one that keeps dropping sooner
// keeps the longer wait), doubling after every attempt that fails, at most BackoffMax,
// each wait jittered between half and all of it so that the instances of a deployment do
// not reconnect in step. A frozen server is noticed by
// valkey-go's background PING, which closes the connection.
//
// # Publishing
//
// A Valkey publish is bounded by Config.PublishTimeout (or the caller's deadline, when
// sooner) and fails with an error wrapping ErrUnavailable; it is never retried, since a late message
// is worth less than a subscriber's own safety net (a reset, a cache bound).
package pubsub
