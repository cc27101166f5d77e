package pricing

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
)

// DefaultCurrency is the currency of new tiers when Config.Currency is empty.
const DefaultCurrency = "IDR"

// Errors returned by PricingStore. Stale writes come back as *StaleWriteError, which
// matches ErrStaleWrite with errors.Is.
var (
	// ErrNotFound: no tier with that id (or no promotion row).
	ErrNotFound = core.ErrNotFound
	// ErrStaleWrite: the expected updated_at no longer matches the row; nothing was written.
	ErrStaleWrite = core.ErrStaleWrite
	// ErrDuplicateTier: a tier with the same (mode, minutes) exists, active or not.
	// Reactivate it instead of creating a twin.
	ErrDuplicateTier = errors.New("a tier with this mode and minutes already exists")
	// ErrNoTier: there is no active tier for the (mode, minutes) asked for. It is the one
	// value pairing and extension return too (curhat.ErrNoTier).
	ErrNoTier = core.ErrNoTier
)

// StaleWriteError is returned when an optimistic-lock token no longer matches. Current
// holds the row as it is now — a Tier, a []Tier (the tiers of the mode, for a reorder) or
// a Promotion — so a caller (and the HTTP 409 body) can show what changed.
type StaleWriteError struct {
	Current any
}

func (e *StaleWriteError) Error() string { return ErrStaleWrite.Error() }

// Unwrap makes errors.Is(err, ErrStaleWrite) hold.
func (e *StaleWriteError) Unwrap() error { return ErrStaleWrite }

// CurrentValue returns Current, for error handlers that serve stale writes of several
// packages through one interface (the reference server's 409 body).
func (e *StaleWriteError) CurrentValue() any { return e.Current }

// Config configures a PricingStore. The zero value works.
type Config struct {
	// Logger receives a line per successful mutation. Defaults to discarding.
	Logger *slog.Logger
	// Clock stamps updated_at and history rows (a curhat.Clock, which a host may
	// implement). Defaults to the wall clock.
	Clock clock.Clock
	// Currency of new tiers and of the client catalog. Defaults to DefaultCurrency.
	Currency string
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *Config) WithDefaults() Config {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.Currency = cmp.Or(out.Currency, DefaultCurrency)
	return out
}

// PricingStore manages price tiers and the first-session promotion and quotes prices.
// Every mutation is optimistically locked on the row's updated_at and audited with one
// history row in the same transaction. Nothing is cached: a quote always reflects the
// latest committed edit.
type PricingStore struct {
	store Store
	cfg   Config
}

// NewPricingStore returns a PricingStore over store (NewPostgresStore, or
// NewMemoryStore in tests). cfg may be nil. It fails, naming the field, when store
// is nil or cfg.Currency is not three upper-case letters.
func NewPricingStore(store Store, cfg *Config) (*PricingStore, error) {
	if err := core.FirstError(core.Required("store", store == nil), cfg.validate()); err != nil {
		return nil, fmt.Errorf("pricing.NewPricingStore: %w", err)
	}
	return &PricingStore{store: store, cfg: cfg.WithDefaults()}, nil
}

// validate reports a field no default can stand for.
func (c *Config) validate() error {
	if c == nil || c.Currency == "" {
		return nil
	}
	if len(c.Currency) != 3 || strings.ContainsFunc(c.Currency, func(r rune) bool { return r < 'A' || r > 'Z' }) {
		return core.Invalid("Config.Currency", "must be an ISO 4217 code of three upper-case letters, not %q", c.Currency)
	}
	return nil
}

// now is the clock's time at Postgres precision (microseconds, UTC).
func (p *PricingStore) now() time.Time { return Token(p.cfg.Clock.Now()) }

// Token normalises an updated_at value to the precision at which tokens are compared:
// UTC, truncated to the microsecond (what Postgres stores).
func Token(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nextToken is the updated_at of a row written at now whose previous token was prev. It
// always moves forward, so two writes within one microsecond (or a clock stepping back)
// still give distinct tokens — the Go equivalent of
// GREATEST(now, updated_at + interval '1 microsecond') under the row's CAS.
func nextToken(now, prev time.Time) time.Time {
	if floor := prev.Add(time.Microsecond); now.Before(floor) {
		return floor
	}
	return now
}
