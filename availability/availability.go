package availability

import (
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Errors returned by the Mirror, its Store and its Cache. The sentinels are the shared ones
// of package curhat, so errors.Is works with either name.
var (
	// ErrNotFound: no mitra has this id.
	ErrNotFound = core.ErrNotFound
	// ErrDeactivated: the mitra has been deactivated by an operator.
	ErrDeactivated = core.ErrDeactivated
	// ErrUnavailable: Postgres cannot be reached (Valkey failures never surface: reads fall
	// back to Postgres and writes after a Postgres commit are best-effort).
	ErrUnavailable = core.ErrUnavailable
	// ErrStaleWrite: Postgres refused a write because of a concurrent one; retry.
	ErrStaleWrite = core.ErrStaleWrite
	// ErrNotSeeded is returned by a Cache whose data does not come from a complete seed
	// (fresh server, restart, FLUSHALL): its answers cannot be trusted, so the Mirror answers
	// from Postgres and asks for a reseed.
	ErrNotSeeded = errors.New("availability: valkey mirror is not seeded")
)

// Capacity statuses: a chat session in one of them holds a slot of its mitra's capacity.
const (
	ChatStatusActive         = "active"
	ChatStatusPendingPayment = "pending_payment"
)

// Mitra is a listener as stored in Postgres.
type Mitra struct {
	ID          uuid.UUID
	DisplayName string
	// IsActive is false once an operator deactivated the mitra.
	IsActive bool
	IsOnline bool
	// LastHeartbeatAt is the last ping known to Postgres. Pings go to Valkey and are copied
	// here by MirrorHeartbeats, so it may lag the live value by one mirror interval.
	LastHeartbeatAt *time.Time
	// MaxConcurrentSessions is nil when the runtime default applies.
	MaxConcurrentSessions *int
	// AwayReason says why the system took the mitra offline (AwayMissedOffers); "" when
	// it did not. Going online clears it.
	AwayReason string
	// Labels are what routing matches a client's preferences against (operators set them).
	Labels Labels
	// ProfileUpdatedAt is when the profile (display name, maximum, labels) last changed:
	// the token of UpdateProfile's optimistic lock. Presence never moves it; UpdatedAt
	// moves on every write.
	ProfileUpdatedAt time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// CreateMitraParams are the fields of a new mitra.
type CreateMitraParams struct {
	// DisplayName: 1 to 200 characters.
	DisplayName string
	// MaxConcurrentSessions: nil (runtime default) or 1 to 100.
	MaxConcurrentSessions *int
}

// Limits of CreateMitraParams, as in the schema.
const (
	MaxDisplayNameLength = 200
	MaxSessionsLimit     = 100
)

// Validate checks the fields against the limits of the schema.
func (p CreateMitraParams) Validate() error {
	n := len([]rune(p.DisplayName))
	if n == 0 || n > MaxDisplayNameLength {
		return core.Invalid("display_name", "must be 1 to %d characters", MaxDisplayNameLength)
	}
	if p.MaxConcurrentSessions != nil && (*p.MaxConcurrentSessions < 1 || *p.MaxConcurrentSessions > MaxSessionsLimit) {
		return core.Invalid("max_concurrent_sessions", "must be between 1 and %d", MaxSessionsLimit)
	}
	return nil
}

// MitraState is everything the mirror holds about one mitra, as Postgres implies it.
type MitraState struct {
	ID                    uuid.UUID
	IsActive              bool
	IsOnline              bool
	LastHeartbeatAt       *time.Time
	MaxConcurrentSessions *int
	// OpenSessions is the capacity in use: chat sessions in active or pending_payment.
	OpenSessions int
	// InWrapup: a chat session of the mitra ended less than the wrap-up ago
	// (Config.Wrapup); the mitra is then offered nothing, as if at capacity. The store
	// reads it only when asked (a wrap-up above 0); otherwise it is false.
	InWrapup bool
}

// MaxSessions is the mitra's own maximum, or defaultMax when it has none.
func (s MitraState) MaxSessions(defaultMax int) int {
	if s.MaxConcurrentSessions != nil {
		return *s.MaxConcurrentSessions
	}
	return defaultMax
}

// AtCapacity reports whether every slot of the mitra is taken, or the mitra is in its
// wrap-up: either way it takes no new chat session, and the mirror keeps it out of the
// available index and count.
func (s MitraState) AtCapacity(defaultMax int) bool {
	return s.InWrapup || s.OpenSessions >= s.MaxSessions(defaultMax)
}

// Reachable reports whether the mitra is online, active and pinged at or after freshAfter.
func (s MitraState) Reachable(freshAfter time.Time) bool {
	return s.IsActive && s.IsOnline && s.LastHeartbeatAt != nil && !s.LastHeartbeatAt.Before(freshAfter)
}

// Available reports whether the mitra can take a new chat session.
func (s MitraState) Available(freshAfter time.Time, defaultMax int) bool {
	return s.Reachable(freshAfter) && !s.AtCapacity(defaultMax)
}

// HeartbeatAt is one mitra's last ping.
type HeartbeatAt struct {
	MitraID uuid.UUID
	At      time.Time
}

// FindOptions narrows FindAvailable.
type FindOptions struct {
	// Limit caps the number of ids returned, freshest heartbeat first. 0 returns every
	// available mitra (in no particular order).
	Limit int
	// Exclude lists mitras to leave out (for example those already offered a pairing).
	Exclude []uuid.UUID
}

// AvailableQuery is FindOptions resolved by the Mirror for its Store and Cache.
type AvailableQuery struct {
	// FreshAfter: a heartbeat older than this is stale.
	FreshAfter time.Time
	// DefaultMax is the capacity of a mitra without its own maximum.
	DefaultMax int
	Limit      int
	Exclude    []uuid.UUID
	// EndedAfter: a mitra with a chat session that ended after it is in its wrap-up, not
	// available. The zero time: no wrap-up (no chat session is read for it).
	EndedAfter time.Time
}

// Snapshot is the availability beacon: how many mitras were available, and when.
type Snapshot struct {
	AvailableCount int
	AsOf           time.Time
}

// MitraStatus is a mitra's own view of its status (GET /api/mitra/status).
type MitraStatus struct {
	Online    bool
	IsActive  bool
	Reachable bool
	// ActiveSessions counts the chat sessions holding capacity (active + pending_payment).
	ActiveSessions int
	// MaxConcurrentSessions is the effective maximum (the mitra's own, or the default).
	MaxConcurrentSessions int
	// Devices hold a live lease of the mitra, most recently seen first (Mirror.Devices).
	Devices []Device
	// AwayReason is why the system took the offline mitra offline (see Mitra.AwayReason).
	AwayReason string
}

// SeedReport says what SeedFromPostgres did.
type SeedReport struct {
	// Mitras read from Postgres; Online, Deactivated and AtCapacity are the sizes of the
	// sets written.
	Mitras, Online, Deactivated, AtCapacity int
	// CaughtUp counts mitras changed while the seed ran, re-synced after the swap.
	CaughtUp int
	Duration time.Duration
}

// AutoOfflineReport says what AutoOffline did.
type AutoOfflineReport struct {
	// Candidates had a stale heartbeat in Valkey.
	Candidates int
	// Offlined went offline in Postgres and Valkey.
	Offlined int
	// Revived pinged between the read and the write and stayed online.
	Revived int
	// Repaired were candidates that Postgres showed offline already, or fresher (a ping
	// that fell back to Postgres): their Valkey state was re-synced.
	Repaired int
	Duration time.Duration
}

// HeartbeatMirrorReport says what MirrorHeartbeats did.
type HeartbeatMirrorReport struct {
	// Read heartbeats from Valkey; Updated rows moved forward in Postgres.
	Read, Updated int
	Duration      time.Duration
}

// DriftReport lists where the Valkey mirror differs from what Postgres implies.
type DriftReport struct {
	// Seeded is false when the seed marker is missing (every read falls back then).
	Seeded bool
	// Mitras is the number of mitras compared.
	Mitras      int
	Differences []Difference
	Duration    time.Duration
}

// Count is the number of differences.
func (r DriftReport) Count() int { return len(r.Differences) }

// Difference is one disagreement between the mirror and Postgres.
type Difference struct {
	MitraID uuid.UUID
	// Field: "online", "deactivated", "capacity", "at_capacity", "heartbeat" (missing for an
	// online mitra, present for an offline one, or older than Postgres), "heartbeat_index"
	// (the derived index disagrees with the heartbeat key), "available_index" or "devices"
	// (a device lease of an offline mitra, or one fresher than the heartbeat).
	Field    string
	Postgres string
	Valkey   string
}
