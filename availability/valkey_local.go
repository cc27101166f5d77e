package availability

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// localIndex is a process-memory copy of the members of the available index, for
// FindAvailable without a Limit: returning every available mitra from Valkey means moving
// every id over the wire and parsing it, on every call (tens of milliseconds at 100k
// mitras, barely faster than Postgres). Membership of the index changes only when a mitra
// goes online or offline, is (de)activated, or reaches or leaves its capacity; a heartbeat
// moves a score, never a member. So the copy holds the members and follows their changes:
//
//   - every script that adds or removes a member of the available index increments
//     mitras:available_seq and records mitra → that number in mitras:available_changes, in
//     the same atomic step;
//   - a call sends the copy's seed marker and sequence number; one script returns the
//     changes since then (the members they left or joined, as of now) and the members whose
//     heartbeat is stale, and the call answers the copy's members minus those;
//   - the copy is reloaded in full (in windows of ChunkSize members) when the marker
//     differs (a seed swapped the index in: every seed writes a unique marker) or when more
//     than ChunkSize changes piled up since the copy's sequence.
//
// Freshness is that of reading the index itself: the answer is the index as the one script
// saw it — membership as of its sequence number, staleness as of its clock — so a change
// committed to Valkey before the call is always reflected. More than ChunkSize stale
// members (a mass disconnect) make the call read the fresh part of the index instead.
// Memory: one uuid and one map entry per available mitra (about 5 MB at 100k).
type localIndex struct {
	loadMu sync.Mutex // one full load at a time

	mu     sync.RWMutex
	marker string // seed marker the copy belongs to ("": nothing loaded)
	seq    int64  // value of mitras:available_seq the copy reflects
	ids    []uuid.UUID
	pos    map[uuid.UUID]int // id → index in ids
}

func newLocalIndex(on bool) *localIndex {
	if !on {
		return nil
	}
	return &localIndex{pos: map[uuid.UUID]int{}}
}

// errReloaded: another call reloaded the copy while this one waited to.
var errReloaded = errors.New("local index reloaded meanwhile")

// availableDelta is the reply of the delta script.
type availableDelta struct {
	marker  string
	seq     int64
	reload  bool
	changed []string
	member  []int64
	stale   []string
}

func (v *ValkeyCache) findAllLocal(ctx context.Context, q AvailableQuery) ([]uuid.UUID, error) {
	l := v.local
	maxStale := v.cfg.ChunkSize
	for range 3 {
		l.mu.RLock()
		marker, seq := l.marker, l.seq
		l.mu.RUnlock()
		d, err := v.readDelta(ctx, marker, seq, q.FreshAfter)
		if err != nil {
			return nil, err
		}
		if d.reload {
			ids, err := v.reloadLocal(ctx, d.marker, q)
			if errors.Is(err, errReloaded) {
				continue
			}
			return ids, err
		}
		l.apply(d)
		if len(d.stale) > maxStale {
			// Many stale members (a mass disconnect): read the fresh part of the index.
			return v.findFresh(ctx, q)
		}
		return l.members(d.stale, q.Exclude), nil
	}
	return v.findFresh(ctx, q) // reloads kept racing seeds: read the index itself
}

func (v *ValkeyCache) readDelta(ctx context.Context, marker string, seq int64, freshAfter time.Time) (availableDelta, error) {
	arr, err := v.exec(ctx, v.delta,
		[]string{v.keys.marker, v.keys.available, v.keys.availableSeq, v.keys.availableChanges},
		[]string{marker, strconv.FormatInt(seq, 10), ms(freshAfter), strconv.Itoa(v.cfg.ChunkSize), strconv.Itoa(v.cfg.ChunkSize)}).ToArray()
	if err != nil {
		return availableDelta{}, translate(err)
	}
	if len(arr) != 3 && len(arr) != 6 {
		return availableDelta{}, fmt.Errorf("available delta script: unexpected reply of %d elements", len(arr))
	}
	var d availableDelta
	if d.marker, err = arr[0].ToString(); err != nil {
		return d, err
	}
	if d.seq, err = arr[1].AsInt64(); err != nil {
		return d, err
	}
	flag, err := arr[2].AsInt64()
	if err != nil {
		return d, err
	}
	if d.reload = flag == 1; d.reload {
		return d, nil
	}
	if d.changed, err = arr[3].AsStrSlice(); err != nil {
		return d, err
	}
	if d.member, err = arr[4].AsIntSlice(); err != nil {
		return d, err
	}
	if d.stale, err = arr[5].AsStrSlice(); err != nil {
		return d, err
	}
	if len(d.member) != len(d.changed) {
		return d, fmt.Errorf("available delta script: %d flags for %d changes", len(d.member), len(d.changed))
	}
	return d, nil
}

// reloadLocal reads the whole available index with its scores, installs it as the copy,
// and answers q from what it read.
func (v *ValkeyCache) reloadLocal(ctx context.Context, marker string, q AvailableQuery) ([]uuid.UUID, error) {
	l := v.local
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	l.mu.RLock()
	current := l.marker
	l.mu.RUnlock()
	if current == marker {
		return nil, errReloaded
	}
	wr, err := v.windows(ctx, "-inf")
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, wr.count)
	pos := make(map[uuid.UUID]int, wr.count)
	var out []uuid.UUID
	fresh := float64(q.FreshAfter.UnixMilli())
	var excluded map[uuid.UUID]bool
	for _, id := range q.Exclude {
		if excluded == nil {
			excluded = map[uuid.UUID]bool{}
		}
		excluded[id] = true
	}
	if len(wr.windows) > 0 {
		for _, r := range v.readWindows(ctx, wr.windows, true) {
			zs, err := r.AsZScores()
			if err != nil {
				return nil, translate(err)
			}
			for _, z := range zs {
				id, err := uuid.Parse(z.Member)
				if err != nil {
					continue
				}
				if _, dup := pos[id]; dup {
					continue
				}
				pos[id] = len(ids)
				ids = append(ids, id)
				if z.Score >= fresh && !excluded[id] {
					out = append(out, id)
				}
			}
		}
	}
	l.mu.Lock()
	if l.marker != wr.marker || l.seq < wr.seq {
		l.marker, l.seq, l.ids, l.pos = wr.marker, wr.seq, ids, pos
	}
	l.mu.Unlock()
	if out == nil {
		out = []uuid.UUID{}
	}
	return out, nil
}

// apply brings the copy to the delta's sequence number, unless it is there already.
func (l *localIndex) apply(d availableDelta) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.marker != d.marker || d.seq <= l.seq {
		return
	}
	for i, s := range d.changed {
		id, err := uuid.Parse(s)
		if err != nil {
			continue
		}
		at, present := l.pos[id]
		switch {
		case d.member[i] == 1 && !present:
			l.pos[id] = len(l.ids)
			l.ids = append(l.ids, id)
		case d.member[i] == 0 && present:
			last := len(l.ids) - 1
			l.ids[at] = l.ids[last]
			l.pos[l.ids[at]] = at
			l.ids = l.ids[:last]
			delete(l.pos, id)
		}
	}
	l.seq = d.seq
}

// members copies the copy's members, without the stale and the excluded ones.
func (l *localIndex) members(stale []string, exclude []uuid.UUID) []uuid.UUID {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var skip []int
	for _, s := range stale {
		if id, err := uuid.Parse(s); err == nil {
			if at, ok := l.pos[id]; ok {
				skip = append(skip, at)
			}
		}
	}
	for _, id := range exclude {
		if at, ok := l.pos[id]; ok {
			skip = append(skip, at)
		}
	}
	slices.Sort(skip)
	skip = slices.Compact(skip)
	out := make([]uuid.UUID, 0, len(l.ids)-len(skip))
	prev := 0
	for _, at := range skip {
		out = append(out, l.ids[prev:at]...)
		prev = at + 1
	}
	return append(out, l.ids[prev:]...)
}
