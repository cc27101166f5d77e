package pubsub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/curhat/curhat/internal/core"
)

// ErrUnavailable: the bus cannot carry the message now (Valkey unreachable, or a Memory
// bus disconnected). It is the shared core.ErrUnavailable (curhat.ErrUnavailable).
var ErrUnavailable = core.ErrUnavailable

// Bus carries small messages between the instances of a deployment on named topics. See
// the package documentation for what a subscriber may rely on.
type Bus interface {
	// Publish sends payload to every subscription of topic that is up, this instance's
	// included. It fails with an error wrapping ErrUnavailable when the message could not
	// be handed over; it is never retried.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe delivers topic's messages and resets to h, one at a time and in order, on
	// the calling goroutine, until ctx ends; it blocks until then and returns nil. It
	// reconnects by itself. It returns an error at once only for an invalid topic.
	Subscribe(ctx context.Context, topic string, h Handler) error
}

// Handler receives one subscription's events. Either function may be nil. They run on the
// goroutine that called Subscribe, one at a time: a slow one delays only its own
// subscription (and makes it lose messages past Config.Buffer).
type Handler struct {
	// Message is called with each message's payload, in publish order. The payload may be
	// shared with other subscriptions: do not modify it.
	Message func(payload []byte)
	// Reset is called whenever messages may have been missed: drop what the messages
	// would have invalidated.
	Reset func(Reset)
}

// Reset tells a subscriber that messages may have been missed.
type Reset struct {
	// Subscribed tells whether the subscription is up now. While it is not, no message
	// can arrive: a subscriber must not trust what it caches for long. Before its first
	// Reset, a subscription is not up.
	Subscribed bool
	// Dropped counts the messages dropped because the subscriber fell behind (zero for a
	// change of subscription state).
	Dropped int
}

// Defaults of Config.
const (
	// DefaultBuffer is how many messages and resets may wait for one subscriber.
	DefaultBuffer = 1024
	// DefaultPublishTimeout bounds one publish.
	DefaultPublishTimeout = time.Second
	// DefaultBackoffMin is the first wait before resubscribing.
	DefaultBackoffMin = 100 * time.Millisecond
	// DefaultBackoffMax is the longest wait between two subscription attempts.
	DefaultBackoffMax = 5 * time.Second
)

// Config configures a bus. The zero value (or nil) works.
type Config struct {
	// Logger receives lost and re-established subscriptions and dropped messages.
	// Defaults to discarding.
	Logger *slog.Logger
	// Buffer is how many messages and resets may wait for one subscriber (besides the
	// ones being delivered); past it, the waiting ones are dropped and replaced by one
	// Reset counting them. Defaults to 1024.
	Buffer int
	// PublishTimeout bounds one Publish on Valkey. Defaults to 1 second.
	PublishTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between two subscription attempts on
	// Valkey (see the package documentation). Default to 100 milliseconds and 5 seconds.
	BackoffMin, BackoffMax time.Duration
	// OnDrop, when set, is told each time a subscriber of topic lost n messages by
	// falling behind (for metrics). It runs on the transport's receive path: keep it quick.
	OnDrop func(topic string, n int)
}

// WithDefaults returns a copy of c with every zero field set to its default (and
// BackoffMax raised to BackoffMin when only BackoffMin is set above its default).
func (c *Config) WithDefaults() Config {
	out := core.Deref(c)
	out.Logger = core.LoggerOr(out.Logger)
	out.Buffer = cmp.Or(out.Buffer, DefaultBuffer)
	out.PublishTimeout = cmp.Or(out.PublishTimeout, DefaultPublishTimeout)
	out.BackoffMin = cmp.Or(out.BackoffMin, DefaultBackoffMin)
	out.BackoffMax = cmp.Or(out.BackoffMax, max(DefaultBackoffMax, out.BackoffMin))
	return out
}

// validate refuses what the defaults cannot mean, naming the field.
func (c Config) validate() error {
	switch {
	case c.Buffer < 0:
		return fmt.Errorf("pubsub config: Buffer is %d; want 0 (the default) or more", c.Buffer)
	case c.PublishTimeout < 0:
		return fmt.Errorf("pubsub config: PublishTimeout is %v; want 0 (the default) or more", c.PublishTimeout)
	case c.BackoffMin < 0:
		return fmt.Errorf("pubsub config: BackoffMin is %v; want 0 (the default) or more", c.BackoffMin)
	case c.BackoffMax < 0:
		return fmt.Errorf("pubsub config: BackoffMax is %v; want 0 (the default) or more", c.BackoffMax)
	}
	d := c.WithDefaults()
	if d.BackoffMax < d.BackoffMin {
		return fmt.Errorf("pubsub config: BackoffMax (%v) is below BackoffMin (%v)", d.BackoffMax, d.BackoffMin)
	}
	return nil
}

// configured validates cfg (nil is the zero Config) and returns it with its defaults.
func configured(cfg *Config) (Config, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c.WithDefaults(), nil
}

// checkTopic refuses an empty topic (it would subscribe to the bare key prefix).
func checkTopic(topic string) error {
	if topic == "" {
		return errors.New("pubsub: empty topic")
	}
	return nil
}
