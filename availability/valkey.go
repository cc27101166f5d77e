package availability

import (
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
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
	// journalRetention is how long the sync journal remembers a write (a seed longer than
	// this could miss a racing write; seeds take seconds).
	journalRetention = 10 * time.Minute
	// seedTempTTL bounds the life of a crashed seed's temporary keys.
	seedTempTTL = 10 * time.Minute
	// scriptsPerRoundTrip bounds a pipeline of chunk-sized scripts (a few milliseconds of
	// server time each), so that one round trip stays far below RoundTripTimeout.
	scriptsPerRoundTrip = 8
)

// isoLayout is the heartbeat format of SPEC §4: ISO-8601 UTC with milliseconds.
const isoLayout = "2006-01-02T15:04:05.000Z"

// FormatHeartbeat renders t the way mitra:heartbeat:<id> stores it.
func FormatHeartbeat(t time.Time) string { return t.UTC().Format(isoLayout) }

// ParseHeartbeat parses a mitra:heartbeat:<id> value.
func ParseHeartbeat(s string) (time.Time, error) {
	t, err := time.Parse(isoLayout, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	return t.UTC(), err
}

// CacheConfig configures a ValkeyCache. The zero value works.
type CacheConfig struct {
	// Names gives the key names (prefix, cluster hash tag). Defaults to the names of SPEC §4.
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

// ValkeyCache is the Cache over Valkey (or Redis ≥ 7). Key names are those of SPEC §4 plus
// derived keys, all kept by the same scripts that keep the SPEC keys and rebuilt by the
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
//     FindAvailable follows (see localIndex).
//
// Every method does a bounded number of round trips, each of them a small command:
// nothing blocks Valkey for long whatever the number of mitras.
type ValkeyCache struct {
	c     valkey.Client
	n     valkeyutil.Names
	cfg   CacheConfig
	keys  cacheKeys
	hb    *valkey.Lua
	apply *script
	chunk *script
	swap  *script
	win   *script
	off   *script
	delta *script

	local *localIndex // nil with DisableLocalIndex
}

type cacheKeys struct {
	online, deactivated, atCapacity, index, available, marker, snapshot, journal string
	// heartbeatPrefix is mitra:heartbeat:<id> without the id.
	heartbeatPrefix string
	// availableSeq counts the membership changes of the available index; availableChanges
	// maps a mitra to the sequence number of its last one.
	availableSeq, availableChanges string
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
			heartbeatPrefix: n.Heartbeat(""),
		},
		// Every script is idempotent but the swap (a second RENAME would find no temporary
		// key and drop the live set).
		hb:    valkey.NewLuaScriptRetryable(heartbeatScript),
		apply: newScript(applyScript, true),
		chunk: newScript(seedChunkScript, true),
		swap:  newScript(seedSwapScript, false),
		win:   newScript(windowsScript, true),
		off:   newScript(offlineScript, true),
		delta: newScript(availableDeltaScript, true),
		local: newLocalIndex(!cfg.DisableLocalIndex),
	}
}

var _ Cache = (*ValkeyCache)(nil)

// rt bounds one round trip of a bulk operation.
func (v *ValkeyCache) rt(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, v.cfg.RoundTripTimeout)
}

// exec runs a script, bounded by RoundTripTimeout.
func (v *ValkeyCache) exec(ctx context.Context, s *script, keys, args []string) valkey.ValkeyResult {
	ctx, cancel := v.rt(ctx)
	defer cancel()
	return s.lua.Exec(ctx, v.c, keys, args)
}

// execMulti runs a pipeline of script calls, bounded by RoundTripTimeout.
func (v *ValkeyCache) execMulti(ctx context.Context, s *script, calls []scriptCall) []valkey.ValkeyResult {
	ctx, cancel := v.rt(ctx)
	defer cancel()
	return s.execMulti(ctx, v.c, calls)
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

// script is a Lua script run with EVALSHA, falling back to EVAL when the server lost it
// (restart, SCRIPT FLUSH). Unlike valkey.Lua.ExecMulti it never sends SCRIPT LOAD to every
// node first: a pipeline of calls stays one round trip in the usual case.
//
// An idempotent script is marked retryable: valkey-go then resends it when a connection
// broke (the first command after a Valkey restart), within the caller's deadline.
type script struct {
	lua       *valkey.Lua
	src       string
	sha       string
	retryable bool
}

func newScript(src string, idempotent bool) *script {
	l := valkey.NewLuaScript(src)
	if idempotent {
		l = valkey.NewLuaScriptRetryable(src)
	}
	return &script{lua: l, src: src, sha: luaSHA(src), retryable: idempotent}
}

func (s *script) mayRetry(cmd valkey.Completed) valkey.Completed {
	if s.retryable {
		return cmd.ToRetryable()
	}
	return cmd
}

func luaSHA(src string) string {
	sum := sha1.Sum([]byte(src))
	return hex.EncodeToString(sum[:])
}

type scriptCall struct{ keys, args []string }

func (s *script) execMulti(ctx context.Context, c valkey.Client, calls []scriptCall) []valkey.ValkeyResult {
	if len(calls) == 0 {
		return nil
	}

	cmds := make(valkey.Commands, len(calls))
	for i, call := range calls {
		cmds[i] = s.mayRetry(c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(call.keys))).Key(call.keys...).Arg(call.args...).Build())
	}
	res := c.DoMulti(ctx, cmds...)
	var retry []int
	for i, r := range res {
		if ve, ok := valkey.IsValkeyErr(r.Error()); ok && ve.IsNoScript() {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		again := make(valkey.Commands, len(retry))
		for j, i := range retry {
			call := calls[i]
			again[j] = s.mayRetry(c.B().Eval().Script(s.src).Numkeys(int64(len(call.keys))).Key(call.keys...).Arg(call.args...).Build())
		}
		for j, r := range c.DoMulti(ctx, again...) {
			res[retry[j]] = r
		}
	}
	return res
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

// seedMarker is the value of the seed marker key. Seed makes every seed's marker unique:
// a process-memory copy of the available index is valid for one marker only.
type seedMarker struct {
	Seed        string     `json:"seed"`
	SeededAt    time.Time  `json:"seeded_at"`
	DefaultMax  int        `json:"default_max"`
	RecoveredAt *time.Time `json:"recovered_at,omitempty"`
}

func (v *ValkeyCache) Probe(ctx context.Context) (Probe, error) {
	res := v.doMulti(ctx,
		v.c.B().Get().Key(v.keys.marker).Build(),
		v.c.B().Info().Section("server").Build())
	var p Probe
	raw, err := res[0].ToString()
	switch {
	case valkey.IsValkeyNil(err):
	case err != nil:
		return Probe{}, translate(err)
	default:
		p.Seeded = true
		var m seedMarker
		if json.Unmarshal([]byte(raw), &m) == nil {
			p.SeededAt, p.DefaultMax, p.RecoveredAt = m.SeededAt, m.DefaultMax, m.RecoveredAt
		}
	}
	// Servers without INFO server (miniredis) give no run id: restarts are then detected by
	// the missing marker only.
	if info, err := res[1].ToString(); err == nil {
		for line := range strings.SplitSeq(info, "\n") {
			if id, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
				p.RunID = id
			}
		}
	} else if _, isServerErr := valkey.IsValkeyErr(err); !isServerErr {
		return Probe{}, err
	}
	return p, nil
}

func (v *ValkeyCache) Heartbeat(ctx context.Context, id uuid.UUID, at time.Time) (bool, error) {
	// The hot path: the key, the id and the time in both forms are one allocation, the
	// argument lists another.
	hbKey := v.keys.heartbeatPrefix
	var scratch [64]byte
	var sb strings.Builder
	sb.Grow(len(hbKey) + 36 + len(isoLayout) + 13)
	sb.WriteString(hbKey)
	sb.Write(uuidAppend(scratch[:0], id))
	sb.Write(at.UTC().AppendFormat(scratch[:0], isoLayout))
	sb.Write(strconv.AppendInt(scratch[:0], at.UnixMilli(), 10))
	all := sb.String()
	idEnd := len(hbKey) + 36
	isoEnd := idEnd + len(isoLayout)
	var lists [8]string
	keys, args := lists[:5], lists[5:]
	keys[0], keys[1], keys[2], keys[3], keys[4] = v.keys.marker, v.keys.deactivated, all[:idEnd], v.keys.index, v.keys.available
	args[0], args[1], args[2] = all[len(hbKey):idEnd], all[idEnd:isoEnd], all[isoEnd:]
	n, err := v.hb.Exec(ctx, v.c, keys, args).AsInt64()
	if err != nil {
		return false, translate(err)
	}
	if n < 0 {
		return false, ErrDeactivated
	}
	return n == 1, nil
}

// uuidAppend appends the canonical form of id (as id.String) to b.
func uuidAppend(b []byte, id uuid.UUID) []byte {
	var tmp [36]byte
	hex.Encode(tmp[0:8], id[0:4])
	tmp[8] = '-'
	hex.Encode(tmp[9:13], id[4:6])
	tmp[13] = '-'
	hex.Encode(tmp[14:18], id[6:8])
	tmp[18] = '-'
	hex.Encode(tmp[19:23], id[8:10])
	tmp[23] = '-'
	hex.Encode(tmp[24:], id[10:])
	return append(b, tmp[:]...)
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

func (v *ValkeyCache) Apply(ctx context.Context, p ApplyParams) error {
	now := ms(p.At)
	retention := strconv.FormatInt(journalRetention.Milliseconds(), 10)
	calls := make([]scriptCall, len(p.States))
	for i, st := range p.States {
		s := st.ID.String()
		calls[i] = scriptCall{
			keys: []string{v.keys.online, v.keys.deactivated, v.keys.atCapacity, v.keys.index,
				v.n.Heartbeat(s), v.n.Capacity(s), v.keys.journal, v.keys.available,
				v.keys.availableSeq, v.keys.availableChanges},
			args: []string{s, bit(st.IsActive), bit(st.IsOnline), heartbeatArg(st.LastHeartbeatAt),
				strconv.Itoa(st.OpenSessions), bit(st.AtCapacity(p.DefaultMax)), now, retention},
		}
	}
	return firstError(v.execMulti(ctx, v.apply, calls))
}

func (v *ValkeyCache) Replace(ctx context.Context, seed SeedData) ([]uuid.UUID, error) {
	run := "mitras:seed:" + uuid.NewString()
	tmp := [5]string{v.n.Key(run + ":online"), v.n.Key(run + ":deactivated"), v.n.Key(run + ":at_capacity"),
		v.n.Key(run + ":index"), v.n.Key(run + ":available")}
	ttl := strconv.Itoa(int(seedTempTTL.Seconds()))

	// Build aside: chunks of rows, each one script call, many calls per round trip. The
	// calls of the next round trip are built while Valkey runs those of the previous one,
	// and two round trips are in flight, so that Valkey does not wait for the client.
	if err := v.buildSeed(ctx, seed, tmp, ttl); err != nil {
		v.dropTemp(tmp)
		return nil, fmt.Errorf("build seed: %w", err)
	}

	marker, _ := json.Marshal(seedMarker{Seed: uuid.NewString(), SeededAt: seed.At.UTC(), DefaultMax: seed.DefaultMax})
	recovered, _ := json.Marshal(seed.At.UTC())
	keys := []string{v.keys.online, v.keys.deactivated, v.keys.atCapacity, v.keys.index, v.keys.available}
	keys = append(keys, tmp[:]...)
	for _, k := range tmp {
		keys = append(keys, k+":trash")
	}
	keys = append(keys, v.keys.marker, v.keys.snapshot, v.keys.journal, v.keys.availableChanges)
	oldIndex := tmp[3] + ":trash"
	changed, err := v.exec(ctx, v.swap, keys, []string{ms(seed.Started), string(marker), strings.Trim(string(recovered), `"`), ttl}).AsStrSlice()
	if err != nil {
		v.dropTemp(tmp)
		return nil, fmt.Errorf("swap seed: %w", translate(err))
	}
	if err := v.mergePings(ctx, oldIndex, seed.Started); err != nil {
		return nil, fmt.Errorf("merge the pings received during the seed: %w", err)
	}
	return parseIDs(changed), nil
}

// mergePings moves the new indexes' scores forward to the pings the old heartbeat index
// received since `since` (while the seed was building), then drops the old index. The
// old index is no longer written, so it is read in pages of ranks; each write is one ZADD
// XX GT of a page: only members of the new indexes, never backwards. Meanwhile the new
// indexes may lag those pings (by at most the seed's duration); a new ping fixes that as
// well, and the heartbeat strings were never behind.
func (v *ValkeyCache) mergePings(ctx context.Context, oldIndex string, since time.Time) error {
	res := v.doMulti(ctx,
		v.c.B().Zcard().Key(oldIndex).Build(),
		v.c.B().Zcount().Key(oldIndex).Min("-inf").Max("("+ms(since)).Build())
	size, err := res[0].AsInt64()
	if err != nil {
		return translate(err)
	}
	older, err := res[1].AsInt64()
	if err != nil {
		return translate(err)
	}
	// Pages by rank (O(log N) each, unlike an offset into a score range).
	chunk := int64(v.cfg.ChunkSize)
	var reads valkey.Commands
	for r := older; r < size; r += chunk {
		reads = append(reads, v.c.B().Zrange().Key(oldIndex).Min(strconv.FormatInt(r, 10)).
			Max(strconv.FormatInt(min(r+chunk, size)-1, 10)).Withscores().Build())
	}
	var writes valkey.Commands
	for _, r := range v.doMulti(ctx, reads...) {
		zs, err := r.AsZScores()
		if err != nil {
			return translate(err)
		}
		if len(zs) == 0 {
			continue
		}
		idx := v.c.B().Zadd().Key(v.keys.index).Xx().Gt().ScoreMember()
		avail := v.c.B().Zadd().Key(v.keys.available).Xx().Gt().ScoreMember()
		for _, z := range zs {
			idx = idx.ScoreMember(z.Score, z.Member)
			avail = avail.ScoreMember(z.Score, z.Member)
		}
		writes = append(writes, idx.Build(), avail.Build())
	}
	for start := 0; start < len(writes); start += 2 * scriptsPerRoundTrip {
		if err := firstError(v.doMulti(ctx, writes[start:min(start+2*scriptsPerRoundTrip, len(writes))]...)); err != nil {
			return err
		}
	}
	return translate(v.do(ctx, v.c.B().Unlink().Key(oldIndex).Build()).Error())
}

// seedRoundTripsInFlight is how many round trips of seed chunks are sent at a time.
const seedRoundTripsInFlight = 2

// buildSeed writes the seed's rows into the temporary keys tmp.
func (v *ValkeyCache) buildSeed(ctx context.Context, seed SeedData, tmp [5]string, ttl string) error {
	rowsPerCall := max(v.cfg.ChunkSize/4, 1) // a few milliseconds of server time per call
	build := func(rows []MitraState) scriptCall {
		keys := append(make([]string, 0, len(tmp)+1+2*len(rows)), tmp[:]...)
		keys = append(keys, v.keys.index)
		args := append(make([]string, 0, 1+5*len(rows)), ttl)
		for _, st := range rows {
			s := st.ID.String()
			keys = append(keys, v.n.Heartbeat(s), v.n.Capacity(s))
			flags := bit(st.IsActive) + bit(st.IsOnline) + bit(st.AtCapacity(seed.DefaultMax))
			pgMS := ""
			if st.LastHeartbeatAt != nil {
				pgMS = ms(*st.LastHeartbeatAt)
			}
			args = append(args, s, flags, heartbeatArg(st.LastHeartbeatAt), pgMS, strconv.Itoa(st.OpenSessions))
		}
		return scriptCall{keys: keys, args: args}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []scriptCall)
	errs := make(chan error, seedRoundTripsInFlight)
	var wg sync.WaitGroup
	for range seedRoundTripsInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				if err := firstError(v.execMulti(ctx, v.chunk, batch)); err != nil {
					errs <- err
					cancel()
					for range batches { // let the producer finish
					}
					return
				}
			}
		}()
	}
	perBatch := rowsPerCall * scriptsPerRoundTrip
produce:
	for start := 0; start < len(seed.States); start += perBatch {
		rows := seed.States[start:min(start+perBatch, len(seed.States))]
		batch := make([]scriptCall, 0, scriptsPerRoundTrip)
		for at := 0; at < len(rows); at += rowsPerCall {
			batch = append(batch, build(rows[at:min(at+rowsPerCall, len(rows))]))
		}
		select {
		case batches <- batch:
		case <-ctx.Done():
			break produce
		}
	}
	close(batches)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// dropTemp deletes a failed seed's temporary keys (best-effort: they expire anyway).
func (v *ValkeyCache) dropTemp(tmp [5]string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v.c.Do(ctx, v.c.B().Unlink().Key(tmp[:]...).Build())
}

func (v *ValkeyCache) IsReachable(ctx context.Context, id uuid.UUID, freshAfter time.Time) (bool, error) {
	s := id.String()
	res := v.doMulti(ctx,
		v.c.B().Exists().Key(v.keys.marker).Build(),
		v.c.B().Sismember().Key(v.keys.online).Member(s).Build(),
		v.c.B().Sismember().Key(v.keys.deactivated).Member(s).Build(),
		v.c.B().Get().Key(v.n.Heartbeat(s)).Build())
	if err := v.seeded(res[0]); err != nil {
		return false, err
	}
	online, err := res[1].AsBool()
	if err != nil {
		return false, translate(err)
	}
	deactivated, err := res[2].AsBool()
	if err != nil {
		return false, translate(err)
	}
	raw, err := res[3].ToString()
	if valkey.IsValkeyNil(err) {
		return false, nil
	}
	if err != nil {
		return false, translate(err)
	}
	at, err := ParseHeartbeat(raw)
	if err != nil {
		return false, nil // an unreadable heartbeat is no proof of life
	}
	return online && !deactivated && !at.Before(freshAfter), nil
}

// window is one slice of the fresh available index: [min, max] as ZRANGE BYSCORE bounds, optionally
// with a LIMIT (for a run of equal scores longer than a chunk).
type window struct {
	min, max      string
	limited       bool
	offset, count int64
}

// windowsRead is what the windows script found.
type windowsRead struct {
	count   int
	windows []window
	marker  string
	seq     int64
}

// windows splits the part of the available index scored at or above lo (unix ms, or
// "-inf") into windows of about ChunkSize members.
func (v *ValkeyCache) windows(ctx context.Context, lo string) (windowsRead, error) {
	chunk := v.cfg.ChunkSize
	arr, err := v.exec(ctx, v.win, []string{v.keys.marker, v.keys.available, v.keys.availableSeq},
		[]string{lo, strconv.Itoa(chunk)}).ToArray()
	if err != nil {
		return windowsRead{}, translate(err)
	}
	if len(arr) != 4 {
		return windowsRead{}, fmt.Errorf("windows script: unexpected reply of %d elements", len(arr))
	}
	var wr windowsRead
	fresh, err := arr[0].AsInt64()
	if err != nil {
		return windowsRead{}, err
	}
	bounds, err := arr[1].AsStrSlice()
	if err != nil {
		return windowsRead{}, err
	}
	if wr.marker, err = arr[2].ToString(); err != nil {
		return windowsRead{}, err
	}
	if wr.seq, err = arr[3].AsInt64(); err != nil {
		return windowsRead{}, err
	}
	wr.count = int(fresh)
	if fresh == 0 {
		return wr, nil
	}
	// Windows are half-open score ranges [b(i), b(i+1)), the last one open-ended. Scores
	// only grow (GT), so a member moving during the scan moves to a later window: nobody
	// present throughout is missed. Equal boundaries (a run of equal scores) merge into one
	// window read in LIMIT slices.
	parts := 1
	emit := func(hi string) {
		if parts == 1 {
			wr.windows = append(wr.windows, window{min: lo, max: hi})
			return
		}
		for p := range parts {
			count := int64(chunk)
			if p == parts-1 {
				count = -1 // the rest, however many joined meanwhile
			}
			wr.windows = append(wr.windows, window{min: lo, max: hi, limited: true, offset: int64(p * chunk), count: count})
		}
	}
	for _, b := range bounds {
		if b == lo {
			parts++
			continue
		}
		emit("(" + b)
		lo, parts = b, 1
	}
	emit("+inf")
	return wr, nil
}

// readWindows reads every window in one pipeline, with the scores when asked.
func (v *ValkeyCache) readWindows(ctx context.Context, ws []window, withScores bool) []valkey.ValkeyResult {
	cmds := make(valkey.Commands, len(ws))
	for i, w := range ws {
		r := v.c.B().Zrange().Key(v.keys.available).Min(w.min).Max(w.max).Byscore()
		switch {
		case w.limited && withScores:
			cmds[i] = r.Limit(w.offset, w.count).Withscores().Build()
		case w.limited:
			cmds[i] = r.Limit(w.offset, w.count).Build()
		case withScores:
			cmds[i] = r.Withscores().Build()
		default:
			cmds[i] = r.Build()
		}
	}
	return v.doMulti(ctx, cmds...)
}

// FindAvailable reads the available index: online, active mitras under capacity, scored
// by heartbeat (kept by the same scripts that keep the sets), so no per-mitra check is
// left to do. With a Limit it is one ZRANGE from the freshest heartbeat, of Limit plus the
// excluded ids. Without, it is served from the process-memory copy of the index's members
// (one round trip: the changes since the copy, and the few stale members), or, with
// DisableLocalIndex, by reading the fresh part of the index: two round trips whatever the
// number of mitras, the window boundaries, then every window in one pipeline.
func (v *ValkeyCache) FindAvailable(ctx context.Context, q AvailableQuery) ([]uuid.UUID, error) {
	if q.Limit == 0 && v.local != nil {
		return v.findAllLocal(ctx, q)
	}
	if q.Limit == 0 {
		return v.findFresh(ctx, q)
	}
	var excluded map[uuid.UUID]bool
	if len(q.Exclude) > 0 {
		excluded = make(map[uuid.UUID]bool, len(q.Exclude))
		for _, id := range q.Exclude {
			excluded[id] = true
		}
	}
	res := v.c.DoMulti(ctx,
		v.c.B().Exists().Key(v.keys.marker).Build(),
		v.c.B().Zrange().Key(v.keys.available).Min("+inf").Max(ms(q.FreshAfter)).Byscore().Rev().
			Limit(0, int64(q.Limit+len(excluded))).Build())
	if err := v.seeded(res[0]); err != nil {
		return nil, err
	}
	return collectIDs(res[1:], excluded, q.Limit, q.Limit)
}

// findFresh reads the whole fresh part of the available index, in windows.
func (v *ValkeyCache) findFresh(ctx context.Context, q AvailableQuery) ([]uuid.UUID, error) {
	wr, err := v.windows(ctx, ms(q.FreshAfter))
	if err != nil || len(wr.windows) == 0 {
		return nil, err
	}
	excluded := make(map[uuid.UUID]bool, len(q.Exclude))
	for _, id := range q.Exclude {
		excluded[id] = true
	}
	return collectIDs(v.readWindows(ctx, wr.windows, false), excluded, 0, wr.count)
}

// collectIDs parses the members of replies, without the excluded ids and duplicates (a
// member that pings during a windowed scan moves to a later window and may be read twice),
// up to limit (0: all).
func collectIDs(replies []valkey.ValkeyResult, excluded map[uuid.UUID]bool, limit, expect int) ([]uuid.UUID, error) {
	seen := make(map[uuid.UUID]bool, expect)
	out := make([]uuid.UUID, 0, expect)
	for _, r := range replies {
		ids, err := r.AsStrSlice()
		if err != nil {
			return nil, translate(err)
		}
		for _, id := range parseIDs(ids) {
			if !excluded[id] && !seen[id] && (limit == 0 || len(out) < limit) {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// CountAvailable is one ZCOUNT on the available index: O(log N).
func (v *ValkeyCache) CountAvailable(ctx context.Context, freshAfter time.Time) (int, error) {
	res := v.c.DoMulti(ctx,
		v.c.B().Exists().Key(v.keys.marker).Build(),
		v.c.B().Zcount().Key(v.keys.available).Min(ms(freshAfter)).Max("+inf").Build())
	if err := v.seeded(res[0]); err != nil {
		return 0, err
	}
	n, err := res[1].AsInt64()
	return int(n), translate(err)
}

func (v *ValkeyCache) OnlineCount(ctx context.Context) (int, error) {
	res := v.doMulti(ctx,
		v.c.B().Exists().Key(v.keys.marker).Build(),
		v.c.B().Scard().Key(v.keys.online).Build())
	if err := v.seeded(res[0]); err != nil {
		return 0, err
	}
	n, err := res[1].AsInt64()
	return int(n), translate(err)
}

// snapshotJSON is the stored form of the beacon (SPEC §4).
type snapshotJSON struct {
	AvailableCount int    `json:"available_count"`
	AsOf           string `json:"as_of"`
}

func (v *ValkeyCache) Snapshot(ctx context.Context) (Snapshot, bool, error) {
	var res valkey.ValkeyResult
	if v.cfg.UseClientCache {
		res = v.c.DoCache(ctx, v.c.B().Get().Key(v.keys.snapshot).Cache(), DefaultSnapshotTTL)
	} else {
		res = v.do(ctx, v.c.B().Get().Key(v.keys.snapshot).Build())
	}
	raw, err := res.ToString()
	if valkey.IsValkeyNil(err) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, translate(err)
	}
	var sj snapshotJSON
	if err := json.Unmarshal([]byte(raw), &sj); err != nil {
		return Snapshot{}, false, nil // unreadable: recompute and overwrite it
	}
	at, err := time.Parse(time.RFC3339Nano, sj.AsOf)
	if err != nil {
		return Snapshot{}, false, nil
	}
	return Snapshot{AvailableCount: sj.AvailableCount, AsOf: at.UTC()}, true, nil
}

func (v *ValkeyCache) StoreSnapshot(ctx context.Context, s Snapshot, ttl time.Duration) error {
	raw, _ := json.Marshal(snapshotJSON{AvailableCount: s.AvailableCount, AsOf: FormatHeartbeat(s.AsOf)})
	return translate(v.do(ctx, v.c.B().Set().Key(v.keys.snapshot).Value(string(raw)).
		PxMilliseconds(max(ttl.Milliseconds(), 1)).Build()).Error())
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

func (v *ValkeyCache) StaleOnline(ctx context.Context, staleBefore time.Time) ([]uuid.UUID, error) {
	cutoff := staleBefore.UnixMilli()
	res := v.doMulti(ctx,
		v.c.B().Exists().Key(v.keys.marker).Build(),
		v.c.B().Zcount().Key(v.keys.index).Min("-inf").Max("("+strconv.FormatInt(cutoff, 10)).Build())
	if err := v.seeded(res[0]); err != nil {
		return nil, err
	}
	n, err := res[1].AsInt64()
	if err != nil || n == 0 {
		return nil, translate(err)
	}
	// The stale members are the lowest ranks. A member that pings meanwhile leaves that
	// prefix (and may shift a stale one out of the ranks read: it waits for the next run).
	zs, err := v.indexRange(ctx, v.keys.index, n)
	if err != nil {
		return nil, err
	}
	out := make([]uuid.UUID, 0, len(zs))
	for _, z := range zs {
		if int64(z.Score) < cutoff {
			if id, err := uuid.Parse(z.Member); err == nil {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

func (v *ValkeyCache) Offline(ctx context.Context, p OfflineParams) (revived, failed []uuid.UUID, err error) {
	ids := p.IDs
	per := max(v.cfg.ChunkSize/8, 1) // a removal costs about eight commands
	now := ms(p.At)
	var calls []scriptCall
	var groups [][]uuid.UUID
	for start := 0; start < len(ids); start += per {
		group := ids[start:min(start+per, len(ids))]
		keys := []string{v.keys.online, v.keys.index, v.keys.journal, v.keys.available, v.keys.availableSeq, v.keys.availableChanges}
		args := []string{FormatHeartbeat(p.StaleBefore), now}
		for _, id := range group {
			s := id.String()
			keys = append(keys, v.n.Heartbeat(s))
			args = append(args, s)
		}
		calls = append(calls, scriptCall{keys: keys, args: args})
		groups = append(groups, group)
	}
	for start := 0; start < len(calls); start += scriptsPerRoundTrip {
		end := min(start+scriptsPerRoundTrip, len(calls))
		for i, r := range v.execMulti(ctx, v.off, calls[start:end]) {
			ss, e := r.AsStrSlice()
			if e != nil {
				failed = append(failed, groups[start+i]...)
				err = cmp.Or(err, translate(e))
				continue
			}
			revived = append(revived, parseIDs(ss)...)
		}
	}
	return revived, failed, err
}

func (v *ValkeyCache) Heartbeats(ctx context.Context) ([]HeartbeatAt, error) {
	res := v.doMulti(ctx,
		v.c.B().Exists().Key(v.keys.marker).Build(),
		v.c.B().Zcard().Key(v.keys.index).Build())
	if err := v.seeded(res[0]); err != nil {
		return nil, err
	}
	n, err := res[1].AsInt64()
	if err != nil || n == 0 {
		return nil, translate(err)
	}
	zs, err := v.indexRange(ctx, v.keys.index, n)
	if err != nil {
		return nil, err
	}
	out := make([]HeartbeatAt, 0, len(zs))
	for _, z := range zs {
		id, err := uuid.Parse(z.Member)
		if err != nil || z.Score <= 0 || z.Score > math.MaxInt64 {
			continue
		}
		out = append(out, HeartbeatAt{MitraID: id, At: time.UnixMilli(int64(z.Score)).UTC()})
	}
	return out, nil
}

// members reads a whole set with SSCAN (never one long SMEMBERS).
func (v *ValkeyCache) members(ctx context.Context, key string) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	var cursor uint64
	for {
		e, err := v.do(ctx, v.c.B().Sscan().Key(key).Cursor(cursor).Count(int64(v.cfg.ChunkSize)).Build()).AsScanEntry()
		if err != nil {
			return nil, translate(err)
		}
		for _, id := range parseIDs(e.Elements) {
			out[id] = true
		}
		if cursor = e.Cursor; cursor == 0 {
			return out, nil
		}
	}
}

func (v *ValkeyCache) Dump(ctx context.Context, ids []uuid.UUID) (Dump, error) {
	d := Dump{Index: map[uuid.UUID]int64{}, Available: map[uuid.UUID]int64{}, Heartbeats: map[uuid.UUID]time.Time{}, Capacity: map[uuid.UUID]int{}}
	n, err := v.do(ctx, v.c.B().Exists().Key(v.keys.marker).Build()).AsInt64()
	if err != nil {
		return Dump{}, translate(err)
	}
	d.Seeded = n == 1
	if d.Online, err = v.members(ctx, v.keys.online); err != nil {
		return Dump{}, err
	}
	if d.Deactivated, err = v.members(ctx, v.keys.deactivated); err != nil {
		return Dump{}, err
	}
	if d.AtCapacity, err = v.members(ctx, v.keys.atCapacity); err != nil {
		return Dump{}, err
	}
	for key, into := range map[string]map[uuid.UUID]int64{v.keys.index: d.Index, v.keys.available: d.Available} {
		size, err := v.do(ctx, v.c.B().Zcard().Key(key).Build()).AsInt64()
		if err != nil {
			return Dump{}, translate(err)
		}
		zs, err := v.indexRange(ctx, key, size)
		if err != nil {
			return Dump{}, err
		}
		for _, z := range zs {
			if id, err := uuid.Parse(z.Member); err == nil {
				into[id] = int64(z.Score)
			}
		}
	}
	all := map[uuid.UUID]bool{}
	for _, id := range ids {
		all[id] = true
	}
	for id := range d.Online {
		all[id] = true
	}
	for id := range d.Index {
		all[id] = true
	}
	list := make([]uuid.UUID, 0, len(all))
	for id := range all {
		list = append(list, id)
	}
	for start := 0; start < len(list); start += v.cfg.ChunkSize {
		group := list[start:min(start+v.cfg.ChunkSize, len(list))]
		cmds := make(valkey.Commands, 0, 2*len(group))
		for _, id := range group {
			s := id.String()
			cmds = append(cmds, v.c.B().Get().Key(v.n.Heartbeat(s)).Build(), v.c.B().Get().Key(v.n.Capacity(s)).Build())
		}
		res := v.doMulti(ctx, cmds...)
		for i, id := range group {
			if raw, err := res[2*i].ToString(); err == nil {
				at, _ := ParseHeartbeat(raw)
				d.Heartbeats[id] = at
			} else if !valkey.IsValkeyNil(err) {
				return Dump{}, translate(err)
			}
			if c, err := res[2*i+1].AsInt64(); err == nil {
				d.Capacity[id] = int(c)
			} else if !valkey.IsValkeyNil(err) {
				return Dump{}, translate(err)
			}
		}
	}
	return d, nil
}
