package availability

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Routing labels on the offer path (SPEC §26). A blast's routing step filters the
// available mitras by their labels; reading them from Postgres per offer would put a
// query on every blast, ring and late join. The Mirror keeps them in process instead:
// a copy of every labelled mitra, loaded once, then refreshed at most every
// LabelRefresh by one query returning only the mitras whose profile changed since the
// last refresh (an index on profile_updated_at; usually no row), and at once after an
// edit made through this Mirror. An edit made on another instance is seen within
// LabelRefresh. Memory: a map entry per labelled mitra.

// LabelStore is what the Mirror reads labels from; PostgresStore and MemoryStore have it.
type LabelStore interface {
	// LabelsChangedSince returns the labels of the mitras whose profile changed at or
	// after since (the zero time: of every mitra having labels), and the store's clock
	// reading as the next call's since. A mitra whose labels were cleared comes back with
	// empty Labels.
	LabelsChangedSince(ctx context.Context, since time.Time) ([]MitraLabels, time.Time, error)
}

// MitraLabels are the labels of one mitra.
type MitraLabels struct {
	ID     uuid.UUID
	Labels Labels
}

// labelOverlap re-reads the profiles changed shortly before the last refresh: an edit
// whose transaction started before that refresh's clock reading but committed after it.
const labelOverlap = time.Minute

// DefaultLabelRefresh is Config.LabelRefresh's default.
const DefaultLabelRefresh = 2 * time.Second

type labelIndex struct {
	store LabelStore
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex // one refresh at a time
	state atomic.Pointer[labelState]
	dirty atomic.Bool
}

// labelState is one copy of the labels. Mitras share few distinct label sets, so each set
// is kept once and a filter asks its question once per set, not once per mitra.
type labelState struct {
	sets     []Labels            // the distinct label sets
	setOf    map[string]int32    // a set's key (labelKey) → its index in sets
	of       map[uuid.UUID]int32 // labelled mitra → the index of its labels in sets
	since    time.Time           // the store's clock at the last refresh
	loadedAt time.Time           // the index's clock at the last refresh
}

// labelKey is one string per distinct label set (topics hold no NUL: Labels.Validate).
func labelKey(l Labels) string {
	return strings.Join(l.Languages, "\x00") + "\x01" + strings.Join(l.Topics, "\x00") + "\x01" + l.Gender
}

// with returns a copy of st with changed applied (a copy shares nothing st's readers
// see change), or st's maps as they are when changed changes nothing.
func (st *labelState) with(changed []MitraLabels) *labelState {
	var diff []MitraLabels
	for _, c := range changed {
		i, labelled := st.of[c.ID]
		if labelled && !c.Labels.empty() && labelKey(st.sets[i]) == labelKey(c.Labels) || !labelled && c.Labels.empty() {
			continue // re-read unchanged (the overlap of refreshes)
		}
		diff = append(diff, c)
	}
	if len(diff) == 0 {
		return &labelState{sets: st.sets, setOf: st.setOf, of: st.of}
	}
	next := &labelState{sets: slices.Clip(st.sets), setOf: maps.Clone(st.setOf), of: maps.Clone(st.of)}
	if next.setOf == nil {
		next.setOf, next.of = map[string]int32{}, map[uuid.UUID]int32{}
	}
	for _, c := range diff {
		if c.Labels.empty() {
			delete(next.of, c.ID)
			continue
		}
		k := labelKey(c.Labels)
		i, ok := next.setOf[k]
		if !ok {
			i = int32(len(next.sets))
			next.sets = append(next.sets, c.Labels)
			next.setOf[k] = i
		}
		next.of[c.ID] = i
	}
	return next
}

func newLabelIndex(store Store, every time.Duration, now func() time.Time) *labelIndex {
	ls, ok := store.(LabelStore)
	if !ok {
		return nil
	}
	return &labelIndex{store: ls, every: every, now: now}
}

// current returns labels no older than every (or than the last invalidation).
func (x *labelIndex) current(ctx context.Context) (*labelState, error) {
	if st := x.state.Load(); st != nil && !x.dirty.Load() && x.now().Sub(st.loadedAt) < x.every {
		return st, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	st := x.state.Load()
	if st != nil && !x.dirty.Load() && x.now().Sub(st.loadedAt) < x.every {
		return st, nil // refreshed while this call waited
	}
	x.dirty.Store(false)
	var since time.Time
	if st != nil {
		since = st.since.Add(-labelOverlap)
	}
	changed, storeNow, err := x.store.LabelsChangedSince(ctx, since)
	if err != nil {
		x.dirty.Store(st != nil) // try again at the next call
		if st != nil {
			return st, fmt.Errorf("refresh mitra labels: %w", err)
		}
		return nil, fmt.Errorf("load mitra labels: %w", err)
	}
	if st == nil {
		st = &labelState{}
	}
	next := st.with(changed)
	next.since, next.loadedAt = storeNow, x.now()
	x.state.Store(next)
	return next, nil
}

func (l Labels) empty() bool { return len(l.Languages) == 0 && len(l.Topics) == 0 && l.Gender == "" }

// FilterByLabels returns the first limit (0: all) mitras of ids, in their order, whose
// labels keep accepts (a mitra without labels is offered as empty Labels), from the
// in-process copy of the
// labels (see above): no store read unless the copy is due for its refresh. A refresh
// that fails serves the last copy (and logs); with no copy at all it is an error. The
// routing steps of pairing call it with the client's preferences.
func (m *Mirror) FilterByLabels(ctx context.Context, ids []uuid.UUID, limit int, keep func(Labels) bool) ([]uuid.UUID, error) {
	if len(ids) == 0 {
		return ids, nil
	}
	st, err := m.labelState(ctx)
	if st == nil {
		return nil, err
	}
	keepUnlabelled := keep(Labels{})   // most mitras: asked once
	fits := make([]int8, len(st.sets)) // per label set: 0 not asked yet, 1 kept, -1 not
	var out []uuid.UUID
	for _, id := range ids {
		i, labelled := st.of[id]
		if labelled && fits[i] == 0 {
			fits[i] = -1
			if keep(st.sets[i]) {
				fits[i] = 1
			}
		}
		if labelled && fits[i] == 1 || !labelled && keepUnlabelled {
			out = append(out, id)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (m *Mirror) labelState(ctx context.Context) (*labelState, error) {
	if m.labels == nil {
		return &labelState{}, nil // a store without labels: nobody has any
	}
	st, err := m.labels.current(ctx)
	if err != nil && st != nil {
		m.log.WarnContext(ctx, "refresh of mitra labels failed; routing uses the last copy", "err", err)
		err = nil
	}
	return st, err
}

// invalidateLabels makes the next read refresh the labels (after an edit through this
// Mirror).
func (m *Mirror) invalidateLabels() {
	if m.labels != nil {
		m.labels.dirty.Store(true)
	}
}
