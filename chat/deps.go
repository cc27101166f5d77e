package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// The Service's view of what it works with. Each is a small interface owned here:
// *curhat.RuntimeConfig satisfies Settings, the reference server's event hub the Notifier,
// NewValkeyRateLimiter and NewMemoryRateLimiter the RateLimiter.

// Settings are the operator-editable runtime settings the Service reads, at every send;
// *curhat.RuntimeConfig satisfies it.
type Settings interface {
	// ChatMessageRatePerMinute is how many messages a sender may send in a chat session in
	// any minute (chat_message_rate_per_minute, 1..600).
	ChatMessageRatePerMinute(ctx context.Context) int
}

// DefaultSettings serves the runtime defaults; it is what a Service uses when
// Deps.Settings is nil.
type DefaultSettings struct{}

func (DefaultSettings) ChatMessageRatePerMinute(context.Context) int { return DefaultRatePerMinute }

// RateLimiter counts what one key did in a sliding window, across every instance that
// shares it.
type RateLimiter interface {
	// Allow records one event of key at now and reports true when, with it, key has at
	// most limit events in the window that ends at now (the window's start excluded). When
	// it would have more, nothing is recorded and retryAfter says when, from now, the next
	// one fits. id names the event (unique per call): a call that is resent after a lost
	// answer records it once. An error means the limiter could not answer.
	Allow(ctx context.Context, key string, id uuid.UUID, limit int, window time.Duration, now time.Time) (ok bool, retryAfter time.Duration, err error)
}

// Screening is a message on its way to the store, as a Screener sees and changes it.
type Screening struct {
	ChatSessionID uuid.UUID
	Sender        pairing.Party
	// Text is what will be stored and delivered: a Screener may mask parts of it.
	Text string
	// Flags are what the message will carry (none on the way in).
	Flags []Flag
}

// Screener inspects every message before it is stored and delivered, and may mask its text
// and flag it (the hook of the safety screening). It runs on the sender's request, before
// the store; the message as it returns it is what the store keeps, what the other party
// receives and what every replay answers. An error refuses the message (nothing is
// stored). A Screener must be quick: it is on the path of every message.
type Screener interface {
	Screen(ctx context.Context, s Screening) (Screening, error)
}

// FlagHandler acts on the messages a Screener flagged (the safety alerts of crisis
// messages, in package safety). The Service calls it for each message stored with at
// least one flag, once the store holds it and the other party's event is sent — on a replay
// too, so that a send whose handler failed, sent again with the same client_msg_id, gets
// another call: make what it does idempotent by the message's ID. Its error is returned by
// Send, although the message is stored (the app sends it again, and the replay calls the
// handler again).
type FlagHandler interface {
	MessageFlagged(ctx context.Context, f Flagged) error
}

// Flagged is a stored message with at least one flag, and the parties of its session.
type Flagged struct {
	Message           Message
	ClientID, MitraID uuid.UUID
	// Replayed: the send answered the sender's message stored before with the same
	// client_msg_id.
	Replayed bool
}

// Deps are what a Service works with besides its Store. Every field is optional: Settings
// defaults to DefaultSettings, Notifier to dropping events, Limiter to a
// NewMemoryRateLimiter (this instance's count only), Screener and Flagged to none.
type Deps struct {
	Settings Settings
	// Notifier gets the message and message_read events (pairing.Event, Payload
	// MessageEvent or MessageReadEvent), each for the other party of the session.
	Notifier pairing.Notifier
	// Limiter counts each sender's messages. A shared one (NewValkeyRateLimiter) holds the
	// limit across every instance; when it fails, the Service counts on this instance
	// instead until it answers again.
	Limiter  RateLimiter
	Screener Screener
	// Flagged is told of every message stored with a flag (safety.Alerts).
	Flagged FlagHandler
}
