package availability

// ValkeyCache: its configuration, keys and constructor, and what its methods share — round
// trips bounded by RoundTripTimeout, Valkey replies translated into the domain's errors,
// the encoding of arguments. Each behaviour has its file: valkey_heartbeat.go (the
// heartbeat guard), valkey_apply.go (mirror writes), valkey_seed.go (probe and seed),
// valkey_read.go (reads and the beacon), valkey_local.go (the process-memory copy of the
// available index), valkey_sweep.go (auto-offline and the heartbeat mirror),
// valkey_drift.go (the dump behind Drift); the Lua sources are in valkey_scripts.go.

import (
	"cmp"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/valkeyutil"
)

// Defaults of CacheConfig.
const (
	// DefaultChunkSize is how many mitras one Valkey command of a bulk operation handles.
	// It bounds how long any single command holds Valkey (about a millisecond).
	DefaultChunkSize = 1000
	// DefaultRoundTripTimeout: see CacheConfig.RoundTripTimeout.
	DefaultRoundTripTimeout = 5 * time.Second
	// scriptsPerRoundTrip bounds a pipeline of chunk-sized scripts (a few milliseconds of
	// server time each), so that one round trip stays far below RoundTripTimeout.
	scriptsPerRoundTrip = 8
)

// CacheConfig configures a ValkeyCache. The zero value works.
type CacheConfig struct {
	// Names gives the key names (prefix, cluster hash tag). Defaults to the names existing deployments read.
	Names valkeyutil.Names
	// UseClientCache serves the beacon snapshot through valkey-go's server-assisted
	// client-side cache (DoCache). It needs RESP3 and CLIENT TRACKING (Redis ≥ 6, Valkey);
	// on a client built with caching disabled DoCache behaves like Do.
	UseClientCache bool
	// ChunkSize: see DefaultChunkSize. Defaults to 1000.
	ChunkSize int
	// DisableLocalIndex turns off the process-memory copy of the available index's members
	// that FindAvailable without a Limit is served from (see ValkeyCache). Without it, such
	// a call reads the whole fresh part of the index from Valkey every time.
	DisableLocalIndex bool
	// RoundTripTimeout bounds each round trip of a multi-round-trip operation (seed,
	// sweeps, drift), on top of the deadline of the whole operation: valkey-go retries a
	// read until its context ends, so without it a bulk operation would wait out its whole
	// budget while Valkey is down. Defaults to 5 seconds (a round trip carries a few
	// milliseconds of server work; the margin is for a loaded server).
	RoundTripTimeout time.Duration
}

// ValkeyCache is the Cache over Valkey (or Redis ≥ 7). Key names are the ones existing deployments read plus
// derived keys, all kept by the same scripts that keep those keys and rebuilt by the
// seed:
//
//   - mitras:heartbeat_index (ZSET): online mitra → last ping, unix ms;
//   - mitras:at_capacity (SET): mitras whose capacity in use reached their maximum;
//   - mitras:available_index (ZSET): online mitras under capacity → last ping, unix ms —
//     FindAvailable and CountAvailable read it without any per-mitra check;
//   - mitras:seed_marker (STRING): written by the seed; missing means data loss;
//   - mitras:sync_journal (ZSET): mitra → time of its last mirror write (10 minutes), so
//     that a seed can re-sync what raced it;
//   - mitras:available_seq (STRING) and mitras:available_changes (ZSET): the log of the
//     membership changes of the available index, which the process-memory copy behind
//     FindAvailable follows (see localIndex);
//   - mitra:devices:<id> (HASH): an online mitra's device leases, device → last
//     heartbeat and device:s → last stream contact, stream open (see luaDevices);
//   - mitras:unnamed_leases (HASH): online mitra → the unnamed lease a seed gave it (unix
//     ms), one hash for every mitra so that a seed writes a chunk's in one command.
//
// Every method does a bounded number of round trips, each of them a small command:
// nothing blocks Valkey for long whatever the number of mitras.
type ValkeyCache struct {
	c     valkey.Client
	n     valkeyutil.Names
	cfg   CacheConfig
	keys  cacheKeys
	hb    *valkeyutil.Script
	apply *valkeyutil.Script
	chunk *valkeyutil.Script
	swap  *valkeyutil.Script
	win   *valkeyutil.Script
	off   *valkeyutil.Script
	delta *valkeyutil.Script
	strm  *valkeyutil.Script
	end   *valkeyutil.Script

	local *localIndex // nil with DisableLocalIndex
}

type cacheKeys struct {
	online, deactivated, atCapacity, index, available, marker, snapshot, journal string
	// heartbeatPrefix is mitra:heartbeat:<id> without the id; devicesPrefix
	// mitra:devices:<id>.
	heartbeatPrefix, devicesPrefix string
	// availableSeq counts the membership changes of the available index; availableChanges
	// maps a mitra to the sequence number of its last one.
	availableSeq, availableChanges string
	// unnamed maps an online mitra to its unnamed lease (UnnamedDevice).
	unnamed string
}

// NewValkeyCache returns a Cache over client.
func NewValkeyCache(client valkey.Client, cfg CacheConfig) *ValkeyCache {
	cfg.ChunkSize = cmp.Or(cfg.ChunkSize, DefaultChunkSize)
	cfg.RoundTripTimeout = cmp.Or(cfg.RoundTripTimeout, DefaultRoundTripTimeout)
	n := cfg.Names
	return &ValkeyCache{
		c: client, n: n, cfg: cfg,
		keys: cacheKeys{
			online: n.Online(), deactivated: n.Deactivated(), atCapacity: n.AtCapacity(),
			index: n.HeartbeatIndex(), available: n.Key("mitras:available_index"),
			marker: n.SeedMarker(), snapshot: n.Snapshot(),
			journal:      n.Key("mitras:sync_journal"),
			availableSeq: n.Key("mitras:available_seq"), availableChanges: n.Key("mitras:available_changes"),
			heartbeatPrefix: n.Heartbeat(""), devicesPrefix: n.Devices(""),
			unnamed: n.Key("mitras:unnamed_leases"),
		},
		// Every script is idempotent but the swap (a second RENAME would find no temporary
		// key and drop the live set).
		hb:    valkeyutil.NewScript(heartbeatScript, true),
		apply: valkeyutil.NewScript(applyScript, true),
		chunk: valkeyutil.NewScript(seedChunkScript, true),
		swap:  valkeyutil.NewScript(seedSwapScript, false),
		win:   valkeyutil.NewScript(windowsScript, true),
		off:   valkeyutil.NewScript(offlineScript, true),
		delta: valkeyutil.NewScript(availableDeltaScript, true),
		// A stream's refresh is lost rather than resent: the next pass comes in seconds,
		// and a pass must not wait on a Valkey that went away.
		strm: valkeyutil.NewScript(streamScript, false),
		// A second run of an end would find the lease gone and answer differently.
		end:   valkeyutil.NewScript(endDeviceScript, false),
		local: newLocalIndex(!cfg.DisableLocalIndex),
	}
}

var _ Cache = (*ValkeyCache)(nil)

// rt bounds one round trip of a bulk operation.
func (v *ValkeyCache) rt(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, v.cfg.RoundTripTimeout)
}

// exec runs a script, bounded by RoundTripTimeout.
func (v *ValkeyCache) exec(ctx context.Context, s *valkeyutil.Script, keys, args []string) valkey.ValkeyResult {
	ctx, cancel := v.rt(ctx)
	defer cancel()
	return s.Exec(ctx, v.c, keys, args)
}

// execMulti runs a pipeline of script calls, bounded by RoundTripTimeout.
func (v *ValkeyCache) execMulti(ctx context.Context, s *valkeyutil.Script, calls []valkeyutil.Call) []valkey.ValkeyResult {
	ctx, cancel := v.rt(ctx)
	defer cancel()
	return s.ExecMulti(ctx, v.c, calls)
}

// doMulti is DoMulti bounded by RoundTripTimeout.
func (v *ValkeyCache) doMulti(ctx context.Context, cmds ...valkey.Completed) []valkey.ValkeyResult {
	ctx, cancel := v.rt(ctx)
	defer cancel()
	return v.c.DoMulti(ctx, cmds...)
}

// do is Do bounded by RoundTripTimeout.
func (v *ValkeyCache) do(ctx context.Context, cmd valkey.Completed) valkey.ValkeyResult {
	ctx, cancel := v.rt(ctx)
	defer cancel()
	return v.c.Do(ctx, cmd)
}

// indexRange reads the members of ascending ranks [0, n) of a sorted set with their
// scores, in pipelined chunks.
func (v *ValkeyCache) indexRange(ctx context.Context, key string, n int64) ([]valkey.ZScore, error) {
	chunk := int64(v.cfg.ChunkSize)
	var cmds valkey.Commands
	for r := int64(0); r < n; r += chunk {
		cmds = append(cmds, v.c.B().Zrange().Key(key).Min(strconv.FormatInt(r, 10)).
			Max(strconv.FormatInt(min(r+chunk, n)-1, 10)).Withscores().Build())
	}
	var out []valkey.ZScore
	for _, r := range v.doMulti(ctx, cmds...) {
		zs, err := r.AsZScores()
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, zs...)
	}
	return out, nil
}

// translate turns a Valkey reply error into the domain's.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if ve, ok := valkey.IsValkeyErr(err); ok && strings.HasPrefix(ve.Error(), notSeededReply) {
		return ErrNotSeeded
	}
	return err
}

// firstError returns the first error among results.
func firstError(res []valkey.ValkeyResult) error {
	for _, r := range res {
		if err := r.Error(); err != nil {
			return translate(err)
		}
	}
	return nil
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func parseIDs(ss []string) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(ss))
	for _, s := range ss {
		if id, err := uuid.Parse(s); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func (v *ValkeyCache) seeded(r valkey.ValkeyResult) error {
	n, err := r.AsInt64()
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return ErrNotSeeded
	}
	return nil
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func heartbeatArg(t *time.Time) string {
	if t == nil {
		return ""
	}
	return FormatHeartbeat(*t)
}
