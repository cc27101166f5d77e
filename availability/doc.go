// Package availability keeps mitra availability — online, deactivated, capacity and
// heartbeat — in Postgres (the source of truth) and mirrors it into Valkey so that the hot
// paths (heartbeat, availability beacon, pairing blast, dashboard counts) never touch
// Postgres. Writes go to Postgres first and to Valkey best-effort; reads go to Valkey first
// and fall back to Postgres on any Valkey error.
//
// # Pieces
//
// [Mirror] is the service. It depends on a [Store] (the truth: [NewPostgresStore], or
// NewMemoryStore in memory) and an optional [Cache] (the mirror:
// [NewValkeyCache], or NewMemoryCache). With a nil Cache every call is served
// by Postgres alone. Both in-memory implementations pass the same contract suites as the
// real ones; NewMemoryCache, unlike a fresh Valkey, starts seeded (it mirrors
// an empty store), so a Store filled before the Mirror is built still needs
// [Mirror.SeedFromPostgres].
//
// # Keys
//
// The keys existing deployments read keep exactly their meaning (default names, or under a prefix; in
// cluster mode every key carries one hash tag, so scripts and pipelines stay in one slot):
//
//	mitras:online           SET     online, active mitra ids
//	mitras:deactivated      SET     deactivated mitra ids
//	mitra:capacity:<id>     STRING  chat sessions in active + pending_payment
//	mitra:heartbeat:<id>    STRING  last ping, "2026-05-25T10:07:55.123Z"; only for online mitras
//	availability:snapshot   STRING  {"available_count":N,"as_of":"…"}, TTL 10 s
//
// Derived keys, written by the same scripts as the keys above (one round trip each) and
// rebuilt by every seed:
//
//	mitras:heartbeat_index  ZSET    online mitra → last ping (unix ms): stale detection, mirror
//	mitras:at_capacity      SET     mitras whose capacity in use reached their maximum
//	mitras:available_index  ZSET    online mitras under capacity → last ping (unix ms)
//	mitras:seed_marker      STRING  written by the seed (unique per seed); its absence means data loss
//	mitras:sync_journal     ZSET    mitra → time of its last mirror write (10 minutes)
//	mitras:available_seq    STRING  count of the membership changes of the available index
//	mitras:available_changes ZSET   mitra → number of its last such change (reset by each seed)
//	mitra:devices:<id>      HASH    an online mitra's device leases (see Devices)
//	mitras:unnamed_leases   HASH    online mitra → its unnamed lease, unix ms (see Devices)
//
// # Hot paths
//
// Heartbeat is one Lua script, one round trip, no Postgres: a deactivated mitra is refused
// (ErrDeactivated); an online one has its heartbeat moved forward (never back: instances'
// clocks differ) and gets online=true; any other — offline, for example auto-offlined, or
// unknown — gets online=false and nothing is written, so a heartbeat key exists only for an
// online mitra. The app then calls SetOnline to come back. For an online mitra the script
// runs five commands: the marker check, one ZADD XX GT CH on the heartbeat index (which holds
// exactly the online mitras, never behind the string nor any lease) that both finds the
// mitra online and tells whether the ping is newer, then the string and the available index
// (XX), then the device's heartbeat, one HSET of its own field, unread: a ping newer than
// the mitra's heartbeat is newer than every lease. A ping that is not newer (another
// device's in the same millisecond, or from an instance whose clock is behind) reads the
// device's field first and only moves it forward.
//
// # Devices
//
// A mitra may be signed in on several devices (a phone and a tablet). Each device holds its
// own lease in mitra:devices:<id>, a HASH of two fields a device: device →
// "HHHHHHHHHHHHH", the device's last heartbeat, and device:s → "SSSSSSSSSSSSS:O", the last
// contact of its event stream and whether that stream is open (unix milliseconds, 13
// digits: they compare as strings; the second field only once the device had a stream).
// The heartbeat has a field of its own so that a ping writes it without reading the lease.
// A device's lease is the later of the two, and the mitra's heartbeat — mitra:heartbeat:<id>
// and the index, keeping their meaning — is its freshest lease: every write of a lease is a
// ping of the mitra, and none is ever fresher than the heartbeat. The key shares the hash
// tag of every other key in cluster mode, so each script stays in one slot; it exists only
// for an online mitra (every script that takes a mitra offline deletes it), and holds at
// most Config.MaxDevices devices (10): a new device beyond them evicts the lease that ends
// first, an open stream's last. A device that signed off keeps an empty lease: its field
// holds zeros in the layout before (below), so that instances still running that layout
// during an upgrade recognise it too.
//
// Hashes written before this layout held both parts in the device's field
// ("HHHHHHHHHHHHH:SSSSSSSSSSSSS:O", and the unnamed lease as the field "*"). They need no
// migration: a value of that form without a device:s field is read as its heartbeat and its
// stream part (a signed-off device's, all zeros, stays signed off), and the next write of
// the device replaces it — a heartbeat writes the heartbeat field alone, so an open
// stream's part is then rebuilt by the next refresh pass (within half a ReconnectGrace);
// an old "*" field is read as the mitra's unnamed lease.
//
//   - HeartbeatDevice (Heartbeat: DefaultDevice) pings from one device, creating its lease;
//     SetOnlineDevice (SetOnline) goes online from one. Still one round trip.
//   - EndDevice ends one device's lease (it signed off); the device keeps an empty lease
//     while the mitra stays online, so that its event stream, left open for a chat's
//     events, does not bring it back. If the lease was the mitra's freshest, the heartbeat,
//     the index and the available index move back to the freshest lease left (and
//     last_heartbeat_at in Postgres, Store.LowerHeartbeat: a re-sync must not raise it
//     again); when no live lease is left — none, or only stale ones — the mitra goes
//     offline (SetOffline, Postgres first). SetOffline is every device's offline.
//   - An event stream is a lease for its device (OpenStream): the refresh passes of Start
//     write the leases of every stream open on this instance in one pipeline per pass,
//     twice per ReconnectGrace. When a device's last stream closes (Stream.Close) its lease
//     is marked closed and kept for ReconnectGrace (20 s): a stream of the device opening
//     within it, on any instance, refreshes it and nothing anybody sees changes (the online
//     set, the available index, Postgres); past it, a timer of the closing instance ends
//     the stream's lease (the device's own heartbeat, if fresh, stays), and the mitra goes
//     offline if it was the last. If that instance stops first, the lease lasts until it
//     goes stale, as a silent heartbeat does. Each refresh tells a stream whether its
//     device is online (StreamParams.OnPresence); RefreshStreams refreshes one mitra's
//     streams at once, for a host that changed its presence and will not wait for a pass.
//   - Postgres knows no devices. A seed keeps the leases of online mitras and deletes the
//     others'; when Postgres holds a heartbeat fresher than Valkey's (after a data loss, or
//     pings that fell back to Postgres) it gives it the unnamed lease UnnamedDevice, some
//     device's that nobody can name, which holds the mitra until it goes stale rather than
//     let a device signing off take it offline under its other devices' feet. A heartbeat no
//     lease explains stands the same way. The unnamed leases of all mitras are one HASH,
//     mitras:unnamed_leases (mitra → unix ms), so that a seed writes a chunk's with one
//     command and creates no key per mitra for them; every script that takes a mitra offline
//     drops its field, as it deletes its device hash. The unnamed lease counts for no bound
//     (MaxDevices is about named devices) and is never evicted.
//   - When Valkey fails, device ids are ignored: a ping goes to Postgres as before, a
//     stream's refresh moves last_heartbeat_at forward (one statement per pass), and a
//     device signing off is the seed's offline (the other devices learn it at their next
//     ping, and go online again).
//
// FindAvailable with a Limit is one ZRANGE of the available index from the freshest
// heartbeat (Limit plus the excluded ids), whatever the number of online mitras. Without a
// Limit it is served from a process-memory copy of the available index's members: their
// set changes only when a mitra goes on or offline, is (de)activated or reaches or leaves
// its capacity, never on a heartbeat. Every script that changes it logs the change
// (mitras:available_seq, mitras:available_changes); one script per call returns the changes
// since the copy and the stale members, as of one instant, so the answer is as fresh as
// reading the index itself in one round trip. A new seed marker, or more than ChunkSize
// changes, reloads the copy (in windows, below); more than ChunkSize stale members make the
// call read the fresh part of the index instead: a script splits it into windows of
// ChunkSize members by score, then every window is read in one pipeline of small ZRANGEs
// (no command holds Valkey for long). Scores only grow, so a mitra that pings during the
// scan moves to a later window and is never missed. CacheConfig.DisableLocalIndex turns the
// copy off (about 5 MB at 100k available mitras). CountAvailable recomputes with one ZCOUNT
// (O(log N)) and is served from availability:snapshot, itself copied in process memory
// until its as_of is SnapshotTTL old; a miss is recomputed once per instance at a time,
// every concurrent caller waiting for that one result. CacheConfig.UseClientCache reads the
// snapshot through valkey-go's server-assisted client-side cache (optional: it needs
// CLIENT TRACKING).
//
// # Failures
//
// Every Valkey call carries a deadline: Config.ValkeyTimeout (300 ms) for a single round
// trip; CacheConfig.RoundTripTimeout (5 s) for each round trip of the bulk operations, and
// Config.ValkeyBulkTimeout (15 s) for the whole of one. valkey-go retries reads until their
// context ends, so without deadlines a read would hang for as long as Valkey is down.
//
// A read that fails in Valkey — down, hung (bounded by ValkeyTimeout: a read answers within
// ValkeyTimeout plus one Postgres query), or without the seed marker (restart, FLUSHALL) —
// is answered by the equivalent Postgres query (one JOIN) and counted
// (Hooks.ValkeyFallback). A cache found without the seed marker also requests a reseed and
// logs a warning, at most one a minute, for the host that never seeds (nor runs Start). A heartbeat then goes to Postgres: the full mitra lookup (so a
// deactivated mitra is refused during an outage too) and a last_heartbeat_at update.
// After a Valkey failure the request paths skip Valkey for WatchdogInterval, so that an
// outage costs one ValkeyTimeout per interval rather than one per request; the next call
// after that tries Valkey again, and the watchdog ends the window as soon as it reaches it.
//
// A write commits in Postgres, then re-reads the mitra under a per-mitra advisory lock and
// applies its whole state to Valkey while holding the lock: writers of one mitra reach
// Valkey in Postgres order, across instances. A Valkey error after the commit is logged,
// counted (Hooks.ValkeyWriteFailed) and never returned; it requests a reseed. Capacity is
// always derived from chat_sessions (RecomputeCapacity), never incremented.
//
// # Seed and watchdog
//
// SeedFromPostgres builds the sets and indexes aside under temporary keys and swaps them in
// with one script, so no reader sees a half-built set; it never replaces a heartbeat Valkey
// holds with an older one from Postgres. Each chunk of rows is one round trip, each kind of
// write of the chunk one variadic command: plain commands for what does not depend on what
// Valkey holds (the temporary sets, the capacities, the keys of the mitras that are not
// online), one script for the online mitras' scores, heartbeats and unnamed leases. The
// swap keeps the old heartbeat index for a moment: the pings it received while the seed
// was building are merged into the new indexes afterwards, a page at a time (ZADD XX GT),
// so that the swap itself stays O(1). A write that commits after the seed read Postgres
// can reach the old sets just before the swap: every mirror write is noted in the sync
// journal, the swap returns those written since the seed began, and the seed re-syncs them
// from Postgres. What is left is a write whose own Valkey write failed: it requested a
// reseed. The watchdog (Start) probes Valkey every WatchdogInterval (2 s) and reseeds when
// Valkey is reachable again after an outage, lost its data (marker missing), restarted
// (run_id changed), the default capacity changed, or a reseed was requested. The sweeps
// package also reseeds periodically to heal any drift; Drift lists it.
//
// # Sweeps
//
// AutoOffline reads the stale mitras (every lease stale) from Valkey (any Valkey error
// aborts the run before anything is written), sets them offline in Postgres (unless Postgres holds a fresher
// ping), then in Valkey with a script that keeps any mitra that pinged since the read; such
// a mitra, and any whose Valkey write failed, is set back online in Postgres, guarded by the
// updated_at the sweep wrote so that a later write by someone else is never undone.
// After Valkey lost its data, its heartbeats are rebuilt from Postgres, which lags the
// pings by up to one heartbeat mirror interval; for one stale threshold after such a
// recovery (recorded in the seed marker) the sweep offlines nobody, so that a mitra whose
// last pings were lost is not taken for silent. A mitra that really went silent is then
// offlined up to that much later.
// MirrorHeartbeats copies the heartbeats to mitras.last_heartbeat_at in one UNNEST
// statement that never moves a timestamp back.
package availability
