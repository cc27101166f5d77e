package availability

// The reads of ValkeyCache: reachability, the available index (in one ZRANGE, or in
// windows), the counts and the beacon snapshot.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/valkey-io/valkey-go"
)

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

// snapshotJSON is the stored form of the beacon.
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
