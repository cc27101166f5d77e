package chat

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/valkeyutil"
)

// DefaultRateLimiterTimeout bounds one call of the Valkey rate limiter: it is on the path of
// every message, and a slow Valkey must not hold it (the Service counts on the instance
// instead).
const DefaultRateLimiterTimeout = 300 * time.Millisecond

// ValkeyRateLimiterConfig configures NewValkeyRateLimiter. The zero value works.
type ValkeyRateLimiterConfig struct {
	// Names gives the key names (prefix, cluster hash tag). Defaults to the unprefixed
	// names.
	Names valkeyutil.Names
	// Timeout: see DefaultRateLimiterTimeout. Defaults to 300 ms.
	Timeout time.Duration
}

// ValkeyRateLimiter is the RateLimiter over Valkey (or Redis ≥ 7), shared by every
// instance: one sorted set per key, chat:rate:<key>, of the events in the window (event id
// → unix microseconds), trimmed and checked by one script in one round trip. It is exact:
// a key never has more than limit events in any window of the callers' clocks (which
// should agree to within a few milliseconds). A key expires a window after its last
// event, so the memory is at most limit entries per key active in the last window.
type ValkeyRateLimiter struct {
	c       valkey.Client
	timeout time.Duration
	names   valkeyutil.Names
	script  *valkeyutil.Script
}

var _ RateLimiter = (*ValkeyRateLimiter)(nil)

// rateScript is the sliding log. KEYS[1]: the key's log. ARGV: now and the window in unix
// microseconds, the limit, the event id. It answers 0 when the event is recorded (or was
// already: a resent call) and otherwise the microseconds until the next one fits: when the
// oldest of the events that make the log full leaves the window.
const rateScript = `
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  return 0
end
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local at = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return math.max(1, tonumber(at[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 0`

// NewValkeyRateLimiter returns a RateLimiter over client.
func NewValkeyRateLimiter(client valkey.Client, cfg ValkeyRateLimiterConfig) *ValkeyRateLimiter {
	// Idempotent: a resent call finds its own event id and records nothing more.
	return &ValkeyRateLimiter{c: client, timeout: cmp.Or(cfg.Timeout, DefaultRateLimiterTimeout), names: cfg.Names,
		script: valkeyutil.NewScript(rateScript, true)}
}

// Key returns the Valkey key of a limiter key.
func (l *ValkeyRateLimiter) Key(key string) string { return l.names.Key("chat:rate:" + key) }

func (l *ValkeyRateLimiter) Allow(ctx context.Context, key string, id uuid.UUID, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	wait, err := l.script.Exec(ctx, l.c, []string{l.Key(key)}, []string{
		strconv.FormatInt(now.UnixMicro(), 10), strconv.FormatInt(window.Microseconds(), 10),
		strconv.Itoa(limit), id.String(),
	}).AsInt64()
	if err != nil {
		return false, 0, fmt.Errorf("chat rate limiter: %w: %v", ErrUnavailable, err)
	}
	if wait > 0 {
		return false, time.Duration(wait) * time.Microsecond, nil
	}
	return true, 0, nil
}
