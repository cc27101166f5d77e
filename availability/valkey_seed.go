package availability

// The seed of ValkeyCache — build aside, swap in, merge the pings received meanwhile — and
// the probe of the seed marker it writes, which the watchdog reads.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/valkeyutil"
)

// seedTempTTL bounds the life of a crashed seed's temporary keys.
const seedTempTTL = 10 * time.Minute

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

// seedBatch is one round trip's worth of a seed: the chunk scripts of its online mitras and
// the plain commands of all of its rows.
type seedBatch struct {
	calls []valkeyutil.Call
	cmds  valkey.Commands
}

// buildSeed writes the seed's rows into the temporary keys tmp.
func (v *ValkeyCache) buildSeed(ctx context.Context, seed SeedData, tmp [5]string, ttl string) error {
	// A few milliseconds of server time per round trip: per row two keys (the two strings),
	// its unnamed lease (one field of a hash shared by every mitra) and three set inserts.
	rowsPerCall := max(v.cfg.ChunkSize/6, 1)
	// chunk adds the writes of rows to b: the script for the online ones (their scores
	// depend on what Valkey holds), plain commands for the rest.
	chunk := func(b *seedBatch, rows []MitraState) {
		keys := append(make([]string, 0, 4+len(rows)), tmp[3], tmp[4], v.keys.index, v.keys.unnamed)
		args := append(make([]string, 0, 1+4*len(rows)), ttl)
		online := v.c.B().Sadd().Key(tmp[0]).Member()
		deact := v.c.B().Sadd().Key(tmp[1]).Member()
		full := v.c.B().Sadd().Key(tmp[2]).Member()
		caps := v.c.B().Mset().KeyValue()
		var gone, goneIDs []string // the keys and unnamed leases of the mitras not online
		var nOnline, nDeact, nFull int
		for _, st := range rows {
			s := st.ID.String()
			caps = caps.KeyValue(v.n.Capacity(s), strconv.Itoa(st.OpenSessions))
			atCap := st.AtCapacity(seed.DefaultMax)
			if atCap {
				full, nFull = full.Member(s), nFull+1
			}
			if !st.IsActive {
				deact, nDeact = deact.Member(s), nDeact+1
			}
			if !st.IsActive || !st.IsOnline {
				gone = append(gone, v.n.Heartbeat(s), v.n.Devices(s))
				goneIDs = append(goneIDs, s)
				continue
			}
			online, nOnline = online.Member(s), nOnline+1
			pgMS := ""
			if st.LastHeartbeatAt != nil {
				pgMS = string(appendMillis13(nil, *st.LastHeartbeatAt))
			}
			keys = append(keys, v.n.Heartbeat(s))
			args = append(args, s, bit(atCap), heartbeatArg(st.LastHeartbeatAt), pgMS)
		}
		b.cmds = append(b.cmds, caps.Build())
		if nOnline > 0 {
			b.cmds = append(b.cmds, online.Build())
			b.calls = append(b.calls, valkeyutil.Call{Keys: keys, Args: args})
		}
		if nDeact > 0 {
			b.cmds = append(b.cmds, deact.Build())
		}
		if nFull > 0 {
			b.cmds = append(b.cmds, full.Build())
		}
		if len(gone) > 0 {
			b.cmds = append(b.cmds, v.c.B().Del().Key(gone...).Build(),
				v.c.B().Hdel().Key(v.keys.unnamed).Field(goneIDs...).Build())
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan seedBatch)
	errs := make(chan error, seedRoundTripsInFlight)
	var wg sync.WaitGroup
	for range seedRoundTripsInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				for i, c := range b.cmds { // idempotent, as the script is: resent after a broken connection
					b.cmds[i] = c.ToRetryable()
				}
				err := firstError(v.doMulti(ctx, b.cmds...))
				if err == nil {
					err = firstError(v.execMulti(ctx, v.chunk, b.calls))
				}
				if err != nil {
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
	// In order of heartbeat, each chunk's members go to the tail of the two temporary
	// sorted sets, along a path Valkey just walked, instead of to random places in them.
	states := byHeartbeat(seed.States)
produce:
	for start := 0; start < len(states); start += perBatch {
		rows := states[start:min(start+perBatch, len(states))]
		var b seedBatch
		for at := 0; at < len(rows); at += rowsPerCall {
			chunk(&b, rows[at:min(at+rowsPerCall, len(rows))])
		}
		// The temporary sets expire if the seed dies before its swap: each batch that
		// creates one sets its expiry after creating it.
		for _, k := range tmp[:3] {
			b.cmds = append(b.cmds, v.c.B().Expire().Key(k).Seconds(int64(seedTempTTL.Seconds())).Build())
		}
		select {
		case batches <- b:
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

// byHeartbeat returns a copy of states in ascending order of the Postgres heartbeat (none
// first), then id: about the order of the scores the seed writes (a heartbeat that Valkey
// holds is later than Postgres's by at most a heartbeat mirror interval).
func byHeartbeat(states []MitraState) []MitraState {
	// Sorted as small keys with the heartbeat in unix ms computed once, not as the states
	// themselves (100k of them at each seed).
	type key struct {
		ms int64
		i  int
	}
	keys := make([]key, len(states))
	for i, st := range states {
		keys[i].i = i
		if st.LastHeartbeatAt != nil {
			keys[i].ms = st.LastHeartbeatAt.UnixMilli()
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.ms != b.ms {
			return cmp.Compare(a.ms, b.ms)
		}
		return bytes.Compare(states[a.i].ID[:], states[b.i].ID[:])
	})
	out := make([]MitraState, len(states))
	for j, k := range keys {
		out[j] = states[k.i]
	}
	return out
}
