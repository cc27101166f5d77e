package chat

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
)

// Defaults of Config.
const (
	// DefaultHistoryAfterEnd is how long after a chat session's end its parties may still
	// read its messages (and send read receipts).
	DefaultHistoryAfterEnd = 24 * time.Hour
	// DefaultRatePerMinute is the default of the chat_message_rate_per_minute setting:
	// messages a sender may send in a session in any minute.
	DefaultRatePerMinute = 60
)

// RateWindow is the window of the rate limit: chat_message_rate_per_minute counts the
// messages of the last minute.
const RateWindow = time.Minute

// Config configures a Service. The zero value (or nil) works.
type Config struct {
	// Logger receives what the Service cannot return (a rate limiter that fails and is
	// replaced by this instance's own count). Defaults to discarding.
	Logger *slog.Logger
	// Clock stamps the messages and runs the rate windows and the history's end (a
	// curhat.Clock, which a host may implement). Defaults to the wall clock.
	Clock clock.Clock
	// HistoryAfterEnd: see DefaultHistoryAfterEnd. Defaults to 24 hours.
	HistoryAfterEnd time.Duration
}

// validate reports a field no default can stand for: a negative duration.
func (c *Config) validate() error {
	if c == nil {
		return nil
	}
	return core.NotNegative("Config.HistoryAfterEnd", c.HistoryAfterEnd)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *Config) WithDefaults() Config {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.HistoryAfterEnd = cmp.Or(out.HistoryAfterEnd, DefaultHistoryAfterEnd)
	return out
}
