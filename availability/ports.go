package availability

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// Store is the durable truth about mitras: Postgres (NewPostgresStore) or memory
// (NewMemoryStore). Errors: ErrNotFound, ErrDeactivated, ErrUnavailable,
// *curhat.ValidationError.
type Store interface {
	CreateMitra(ctx context.Context, p CreateMitraParams) (Mitra, error)
	GetMitra(ctx context.Context, id uuid.UUID) (Mitra, error)
	// SetOnline marks an active mitra online with a heartbeat at `at` (never moved back).
	// ErrDeactivated or ErrNotFound leave everything unchanged.
	SetOnline(ctx context.Context, id uuid.UUID, at time.Time) (Mitra, error)
	SetOffline(ctx context.Context, id uuid.UUID) (Mitra, error)
	// SetAway takes an online mitra offline for a reason of the system's (AwayReasons):
	// the reason is kept until the mitra goes online again (SetOnline clears it). A mitra
	// that is offline already is returned unchanged, changed false. ErrNotFound for an
	// unknown mitra; a reason that is not one of the AwayReasons is a
	// *curhat.ValidationError.
	SetAway(ctx context.Context, id uuid.UUID, reason string) (m Mitra, changed bool, err error)
	// SetActive (de)activates a mitra. Deactivation also sets it offline and revokes every
	// auth session of the mitra, in the same transaction.
	SetActive(ctx context.Context, id uuid.UUID, active bool) (Mitra, error)
	// Heartbeat is the Postgres fallback of Mirror.Heartbeat: the full mitra lookup (unknown
	// → ErrNotFound, deactivated → ErrDeactivated), and for an online mitra a
	// last_heartbeat_at update that never moves it back. It reports is_online.
	Heartbeat(ctx context.Context, id uuid.UUID, at time.Time) (online bool, err error)

	// States returns the state of each existing mitra among ids (InWrapup false).
	States(ctx context.Context, ids []uuid.UUID) ([]MitraState, error)
	// LockStates reads the state of each existing mitra among ids while holding a lock per
	// mitra, and keeps the locks until fn returns. Mirror updates of one mitra are applied to
	// Valkey inside fn, so they reach Valkey in the order Postgres saw them, across
	// instances. A mitra with a chat session (status ended) that ended after endedAfter is
	// InWrapup; the zero endedAfter reads no chat session for it (InWrapup false).
	LockStates(ctx context.Context, ids []uuid.UUID, endedAfter time.Time, fn func([]MitraState) error) error
	// AllStates is one consistent snapshot of every mitra, InWrapup as in LockStates.
	AllStates(ctx context.Context, endedAfter time.Time) ([]MitraState, error)

	// OfflineStale sets offline each online mitra among ids (nil: every mitra) whose
	// last_heartbeat_at is before staleBefore (or unset), and classifies the others.
	OfflineStale(ctx context.Context, ids []uuid.UUID, staleBefore time.Time) (OfflineResult, error)
	// RestoreOnline undoes OfflineStale for the given mitras, each only if its row is still
	// exactly as OfflineStale left it (nothing else wrote it since). It returns the ids
	// restored.
	RestoreOnline(ctx context.Context, rows []OfflinedMitra) ([]uuid.UUID, error)
	// MirrorHeartbeats moves last_heartbeat_at forward to the given times (never back), in
	// one statement. It returns the number of rows changed.
	MirrorHeartbeats(ctx context.Context, hbs []HeartbeatAt) (int, error)
	// LowerHeartbeat moves last_heartbeat_at back to at when it is later (updated_at
	// untouched): a device's lease ended, and the mitra's heartbeat is now the freshest
	// lease left. It reports whether the row changed.
	LowerHeartbeat(ctx context.Context, id uuid.UUID, at time.Time) (bool, error)

	// The read paths, used when Valkey cannot answer.
	IsReachable(ctx context.Context, id uuid.UUID, freshAfter time.Time) (bool, error)
	FindAvailable(ctx context.Context, q AvailableQuery) ([]uuid.UUID, error)
	// CountAvailable counts what FindAvailable would return without a Limit.
	CountAvailable(ctx context.Context, q AvailableQuery) (int, error)
	OnlineCount(ctx context.Context) (int, error)

	// ListMitras returns the mitras matching q, newest first (created_at, then id, both
	// descending), from q.Offset, at most q.Limit of them (Reachable left false), and how
	// many match in all.
	ListMitras(ctx context.Context, q MitraListQuery) ([]ListedMitra, int, error)

	// Operators' profile edits (see ProfileStore).
	ProfileStore
}

// TxStore is a Store that can run in the caller's transaction: what Mirror.CreateMitraTx
// needs of the store (else ErrNoTx). PostgresStore is one. A host's wrapper around it
// (tracing, metrics) keeps the …Tx methods by being one too: embedding *PostgresStore
// gives it WithTx, and a WithTx of its own that wraps what the inner store's returns keeps
// the wrapper in the transaction as well.
type TxStore interface {
	Store
	// WithTx returns the store with every statement run in tx, the caller's transaction
	// (the store's own transactions become savepoints of it).
	WithTx(tx pgx.Tx) Store
}

// OfflineResult classifies the candidates of OfflineStale.
type OfflineResult struct {
	// Offlined went offline now.
	Offlined []OfflinedMitra
	// Offline were offline (or deactivated, or unknown) already.
	Offline []uuid.UUID
	// Fresh are online with a heartbeat in Postgres at or after staleBefore (a ping that
	// fell back to Postgres).
	Fresh []uuid.UUID
}

// OfflinedMitra is a mitra set offline by OfflineStale, with the updated_at it wrote: the
// token RestoreOnline checks.
type OfflinedMitra struct {
	ID        uuid.UUID
	UpdatedAt time.Time
}

// Cache is the Valkey side of the mirror: NewValkeyCache or NewMemoryCache.
// Every method is bounded by its ctx. A Cache whose data does not come from a complete seed
// answers reads with ErrNotSeeded.
type Cache interface {
	// Probe tells whether the data comes from a complete seed and identifies the server
	// process (a changed RunID means a restart).
	Probe(ctx context.Context) (Probe, error)
	// Heartbeat records a ping of one device at p.At, in one round trip: a deactivated
	// mitra is refused with ErrDeactivated; an online mitra's heartbeat and the device's
	// lease move forward (never back) and online is true; for any other mitra nothing is
	// written and online is false. A device beyond p.MaxDevices evicts the lease that
	// ends first.
	Heartbeat(ctx context.Context, p HeartbeatParams) (online bool, err error)
	// Streams writes the leases of event streams, in one round trip per ChunkSize: an
	// open stream refreshes its device's lease as a ping would (creating it if the device
	// had none); a closed one keeps its last contact and is marked closed. Nothing is
	// written for a mitra that is not online, nor for a device that signed off (EndDevice
	// leaves it an empty lease, until the device's next heartbeat), so that a stream kept
	// open after signing off does not bring the device back.
	Streams(ctx context.Context, p StreamsParams) ([]StreamResult, error)
	// EndDevice ends a device's lease (or only its closed stream's): the mitra's heartbeat
	// becomes its freshest lease left — unless the heartbeat was fresher than every lease
	// before (a ping no device lease explains), then it stays. It reports whether no live
	// lease is left (the caller sets the mitra offline).
	EndDevice(ctx context.Context, p EndDeviceParams) (DeviceEnd, error)
	// Devices returns the device leases of each mitra among ids (none for an offline one;
	// a device that signed off has an empty one).
	Devices(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]DeviceLease, error)
	// Apply writes the mirror of each state (online, deactivated, heartbeat never moved back,
	// capacity, derived indexes; the device leases of a mitra that is not online deleted)
	// and notes the write in the sync journal.
	Apply(ctx context.Context, p ApplyParams) error
	// Replace rebuilds the whole mirror from a Postgres snapshot: built aside, swapped in
	// atomically, keeping any heartbeat fresher than Postgres's, and writes the seed marker.
	// The device leases of online mitras stay, the others' go; a heartbeat only Postgres
	// had gets the UnnamedDevice lease.
	// It returns the mitras written by Apply or Offline since seed.Started (their writes
	// may have raced the snapshot): the caller re-syncs them.
	Replace(ctx context.Context, seed SeedData) (changed []uuid.UUID, err error)

	IsReachable(ctx context.Context, id uuid.UUID, freshAfter time.Time) (bool, error)
	// FindAvailable ignores q.DefaultMax: capacity was judged when it was written.
	FindAvailable(ctx context.Context, q AvailableQuery) ([]uuid.UUID, error)
	CountAvailable(ctx context.Context, freshAfter time.Time) (int, error)
	OnlineCount(ctx context.Context) (int, error)
	// Snapshot returns the shared beacon value; ok is false when there is none.
	Snapshot(ctx context.Context) (s Snapshot, ok bool, err error)
	StoreSnapshot(ctx context.Context, s Snapshot, ttl time.Duration) error

	// StaleOnline lists online mitras whose heartbeat is before staleBefore.
	StaleOnline(ctx context.Context, staleBefore time.Time) ([]uuid.UUID, error)
	// Offline removes each of p.IDs (and its device leases) from the online mirror unless
	// it pinged at or after p.StaleBefore meanwhile (then it is returned in revived and
	// left alone), and notes the removals in the sync journal. On error, failed lists the
	// ids whose outcome is unknown.
	Offline(ctx context.Context, p OfflineParams) (revived, failed []uuid.UUID, err error)
	// Heartbeats returns the heartbeat of every online mitra.
	Heartbeats(ctx context.Context) ([]HeartbeatAt, error)
	// Dump reads the mirror for Drift: the sets, the index, and the per-mitra keys of ids.
	Dump(ctx context.Context, ids []uuid.UUID) (Dump, error)
}

// ApplyParams are the mirror writes of Cache.Apply.
type ApplyParams struct {
	States []MitraState
	// DefaultMax is the capacity of a mitra without its own maximum.
	DefaultMax int
	// At stamps the writes in the sync journal.
	At time.Time
}

// OfflineParams are the removals of Cache.Offline.
type OfflineParams struct {
	IDs         []uuid.UUID
	StaleBefore time.Time
	// At stamps the removals in the sync journal.
	At time.Time
}

// Probe is what Cache.Probe found.
type Probe struct {
	// Seeded: the seed marker is present.
	Seeded bool
	// SeededAt and DefaultMax are read from the marker (DefaultMax 0: not known, as for
	// an in-memory cache seeded empty that nothing was written to yet).
	SeededAt   time.Time
	DefaultMax int
	// RecoveredAt is when a seed last rebuilt a Valkey that had lost its data (nil: never).
	// Its heartbeats then came from Postgres, which lags the pings by up to one heartbeat
	// mirror interval.
	RecoveredAt *time.Time
	// RunID identifies the server process ("" when unknown).
	RunID string
}

// SeedData is what Cache.Replace rebuilds the mirror from.
type SeedData struct {
	States     []MitraState
	DefaultMax int
	// Started is a time before the Postgres snapshot was read: heartbeats written to the
	// live index since then are merged into the new one at the swap, and the mitras written
	// since then are returned for a re-sync.
	Started time.Time
	// At is when the seed ran: the marker's seeded_at, and its recovered_at when Valkey had
	// no marker (data lost) — later seeds keep that recovered_at.
	At time.Time
}

// Dump is the raw content of the mirror, for Drift.
type Dump struct {
	Seeded      bool
	Online      map[uuid.UUID]bool
	Deactivated map[uuid.UUID]bool
	AtCapacity  map[uuid.UUID]bool
	// Index is the derived heartbeat index (unix milliseconds); Available the derived
	// index of online mitras under capacity (same scores).
	Index, Available map[uuid.UUID]int64
	// Heartbeats and Capacity hold the per-mitra keys that exist, for the ids asked and
	// every member of Online.
	Heartbeats map[uuid.UUID]time.Time
	Capacity   map[uuid.UUID]int
	// Devices holds the device leases that exist, for the same mitras.
	Devices map[uuid.UUID][]DeviceLease
}

// DB is what NewPostgresStore takes: a *pgxpool.Pool, or a pgx.Tx (curhat.DB). Its
// methods are pgx's: Exec, Query and QueryRow run a statement; Begin starts a transaction
// (a savepoint inside a pgx.Tx).
type DB = pgutil.DB
