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

// buildSeed writes the seed's rows into the temporary keys tmp.
func (v *ValkeyCache) buildSeed(ctx context.Context, seed SeedData, tmp [5]string, ttl string) error {
	// A few milliseconds of server time per call: three keys a row (the two strings and the
	// unnamed lease) and three set inserts take a call of 250 rows to about 11 ms at 100k
	// mitras, 166 rows to about 7 ms.
	rowsPerCall := max(v.cfg.ChunkSize/6, 1)
	build := func(rows []MitraState) valkeyutil.Call {
		keys := append(make([]string, 0, len(tmp)+1+3*len(rows)), tmp[:]...)
		keys = append(keys, v.keys.index)
		args := append(make([]string, 0, 1+5*len(rows)), ttl)
		for _, st := range rows {
			s := st.ID.String()
			keys = append(keys, v.n.Heartbeat(s), v.n.Capacity(s), v.n.Devices(s))
			flags := bit(st.IsActive) + bit(st.IsOnline) + bit(st.AtCapacity(seed.DefaultMax))
			pgMS := ""
			if st.LastHeartbeatAt != nil {
				pgMS = string(appendMillis13(nil, *st.LastHeartbeatAt))
			}
			args = append(args, s, flags, heartbeatArg(st.LastHeartbeatAt), pgMS, strconv.Itoa(st.OpenSessions))
		}
		return valkeyutil.Call{Keys: keys, Args: args}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []valkeyutil.Call)
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
	// In order of heartbeat, each chunk's members go to the tail of the two temporary
	// sorted sets, along a path Valkey just walked, instead of to random places in them.
	states := byHeartbeat(seed.States)
produce:
	for start := 0; start < len(states); start += perBatch {
		rows := states[start:min(start+perBatch, len(states))]
		batch := make([]valkeyutil.Call, 0, scriptsPerRoundTrip)
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

// byHeartbeat returns a copy of states in ascending order of the Postgres heartbeat (none
// first), then id: about the order of the scores the seed writes (a heartbeat that Valkey
// holds is later than Postgres's by at most a heartbeat mirror interval).
func byHeartbeat(states []MitraState) []MitraState {
	out := slices.Clone(states)
	slices.SortFunc(out, func(a, b MitraState) int {
		var x, y int64
		if a.LastHeartbeatAt != nil {
			x = a.LastHeartbeatAt.UnixMilli()
		}
		if b.LastHeartbeatAt != nil {
			y = b.LastHeartbeatAt.UnixMilli()
		}
		if x != y {
			return cmp.Compare(x, y)
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out
}
