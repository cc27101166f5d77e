package availability

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
)

// MemoryStore is an in-memory Store over a memdb database: its table mitras and, in the
// same transaction, the chat sessions of the pairing domain that hold a mitra's capacity
// (what its Postgres twin counts). SetOnDeactivate is called inside a deactivation to
// revoke the mitra's auth sessions (the host's).
//
// Over the database curhat.NewMemoryClient shares, chat_sessions is the pairing store's. A
// store built alone (NewMemoryStore) has no chat sessions: SetOpenSessions gives the
// count, or every mitra has none.
type MemoryStore struct {
	db     *memdb.DB
	mitras memdb.Table[uuid.UUID, *Mitra]
	last   time.Time

	// syncMu is the per-mitra lock of LockStates (one lock for all: simpler, same order).
	syncMu sync.Mutex

	hooksMu      sync.RWMutex
	openSessions func(ctx context.Context, mitraID uuid.UUID) (int, error)
	lastEnded    func(ctx context.Context, mitraID uuid.UUID) (time.Time, error)
	onDeactivate func(ctx context.Context, mitraID uuid.UUID) error
}

// NewMemoryStore returns an empty MemoryStore over a database of its own.
func NewMemoryStore() *MemoryStore { return NewMemoryStoreIn(memdb.New()) }

// NewMemoryStoreIn returns a MemoryStore over db, whose tables it shares with the stores of
// the other domains built over it (curhat.NewMemoryClient builds them all over one), and
// with any other availability MemoryStore over db (a second instance). Hosts call
// NewMemoryStore, or curhat.NewMemoryClient for the whole product.
func NewMemoryStoreIn(db *memdb.DB) *MemoryStore {
	return &MemoryStore{db: db, mitras: memdb.NewTable[uuid.UUID, *Mitra](db, "mitras", func(m *Mitra) memdb.Row {
		return memdb.Row{"is_active": m.IsActive, "max_concurrent_sessions": m.MaxConcurrentSessions, "display_name": m.DisplayName}
	})}
}

var _ Store = (*MemoryStore)(nil)

// SetOpenSessions sets the function counting a mitra's chat sessions in active or
// pending_payment when the store's database has no chat_sessions table (a store built
// alone). It is called outside the store's transactions.
func (s *MemoryStore) SetOpenSessions(fn func(ctx context.Context, mitraID uuid.UUID) (int, error)) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.openSessions = fn
}

// SetLastSessionEnd sets the function returning when a mitra's last chat session ended
// (the zero time: none) when the store's database has no chat_sessions table (a store
// built alone): the wrap-up's rule (MitraState.InWrapup). It is called outside the store's
// transactions.
func (s *MemoryStore) SetLastSessionEnd(fn func(ctx context.Context, mitraID uuid.UUID) (time.Time, error)) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.lastEnded = fn
}

// SetOnDeactivate sets the function called when a mitra is deactivated, to revoke its auth
// sessions. It runs inside the deactivation: if it fails, the deactivation does not happen
// (as a rolled-back transaction). It must not call a store of the MemoryStore's database.
func (s *MemoryStore) SetOnDeactivate(fn func(ctx context.Context, mitraID uuid.UUID) error) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.onDeactivate = fn
}

// countOpen returns the open sessions of a mitra: from open, the counts of a snapshot, or
// (nil: the database has no chat sessions) from SetOpenSessions' function, called outside
// the transaction.
func (s *MemoryStore) countOpen(ctx context.Context, open map[uuid.UUID]int, id uuid.UUID) (int, error) {
	if open != nil {
		return open[id], nil
	}
	s.hooksMu.RLock()
	fn := s.openSessions
	s.hooksMu.RUnlock()
	if fn == nil {
		return 0, nil
	}
	return fn(ctx, id)
}

// openCounts counts the open chat sessions (active, pending_payment) of every mitra that
// has one, from chat_sessions; false when the database has no such table.
func openCounts(tx *memdb.Tx) (map[uuid.UUID]int, bool) {
	if !tx.Has("chat_sessions") {
		return nil, false
	}
	n := map[uuid.UUID]int{}
	for row := range tx.Rows("chat_sessions") {
		switch memdb.Col[string](row, "status") {
		case "active", "pending_payment":
			n[memdb.Col[uuid.UUID](row, "mitra_id")]++
		}
	}
	return n, true
}

// endedAfter returns the mitras with a chat session (status ended) that ended after
// after, from chat_sessions; false when the database has no such table.
func endedAfter(tx *memdb.Tx, after time.Time) (map[uuid.UUID]bool, bool) {
	if !tx.Has("chat_sessions") {
		return nil, false
	}
	out := map[uuid.UUID]bool{}
	for row := range tx.Rows("chat_sessions") {
		if at := memdb.Col[*time.Time](row, "ended_at"); memdb.Col[string](row, "status") == "ended" && at != nil && at.After(after) {
			out[memdb.Col[uuid.UUID](row, "mitra_id")] = true
		}
	}
	return out, true
}

// inWrapup tells whether a mitra ended a chat session after after: from ended, the set of
// a snapshot, or (nil: the database has no chat sessions) from SetLastSessionEnd's
// function, called outside the transaction.
func (s *MemoryStore) inWrapup(ctx context.Context, ended map[uuid.UUID]bool, id uuid.UUID, after time.Time) (bool, error) {
	if ended != nil {
		return ended[id], nil
	}
	s.hooksMu.RLock()
	fn := s.lastEnded
	s.hooksMu.RUnlock()
	if fn == nil {
		return false, nil
	}
	at, err := fn(ctx, id)
	return at.After(after), err
}

// stamp returns a strictly increasing time, like updated_at in Postgres.
func (s *MemoryStore) stamp() time.Time {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !now.After(s.last) {
		now = s.last.Add(time.Microsecond)
	}
	s.last = now
	return now
}

func clone(m *Mitra) Mitra {
	c := *m
	if m.LastHeartbeatAt != nil {
		t := *m.LastHeartbeatAt
		c.LastHeartbeatAt = &t
	}
	if m.MaxConcurrentSessions != nil {
		n := *m.MaxConcurrentSessions
		c.MaxConcurrentSessions = &n
	}
	c.Labels = m.Labels.clone()
	return c
}

func (s *MemoryStore) CreateMitra(ctx context.Context, p CreateMitraParams) (Mitra, error) {
	p.DisplayName = strings.TrimSpace(p.DisplayName)
	if err := p.Validate(); err != nil {
		return Mitra{}, err
	}
	defer s.db.Begin().End()
	now := s.stamp()
	m := &Mitra{ID: uuid.New(), DisplayName: p.DisplayName, IsActive: true, ProfileUpdatedAt: now, CreatedAt: now, UpdatedAt: now}
	if p.MaxConcurrentSessions != nil {
		n := *p.MaxConcurrentSessions
		m.MaxConcurrentSessions = &n
	}
	s.mitras[m.ID] = m
	return clone(m), nil
}

func (s *MemoryStore) GetMitra(ctx context.Context, id uuid.UUID) (Mitra, error) {
	defer s.db.Begin().End()
	m, ok := s.mitras[id]
	if !ok {
		return Mitra{}, ErrNotFound
	}
	return clone(m), nil
}

func laterOf(cur *time.Time, at time.Time) *time.Time {
	at = at.UTC().Truncate(time.Microsecond)
	if cur != nil && !cur.Before(at) {
		return cur
	}
	return &at
}

func (s *MemoryStore) SetOnline(ctx context.Context, id uuid.UUID, at time.Time) (Mitra, error) {
	defer s.db.Begin().End()
	m, ok := s.mitras[id]
	if !ok {
		return Mitra{}, ErrNotFound
	}
	if !m.IsActive {
		return Mitra{}, ErrDeactivated
	}
	m.IsOnline = true
	m.LastHeartbeatAt = laterOf(m.LastHeartbeatAt, at)
	m.AwayReason = ""
	m.UpdatedAt = s.stamp()
	return clone(m), nil
}

func (s *MemoryStore) SetOffline(ctx context.Context, id uuid.UUID) (Mitra, error) {
	defer s.db.Begin().End()
	m, ok := s.mitras[id]
	if !ok {
		return Mitra{}, ErrNotFound
	}
	m.IsOnline = false
	m.UpdatedAt = s.stamp()
	return clone(m), nil
}

func (s *MemoryStore) SetAway(ctx context.Context, id uuid.UUID, reason string) (Mitra, bool, error) {
	if err := ValidAwayReason(reason); err != nil {
		return Mitra{}, false, err
	}
	defer s.db.Begin().End()
	m, ok := s.mitras[id]
	if !ok {
		return Mitra{}, false, ErrNotFound
	}
	if !m.IsOnline {
		return clone(m), false, nil
	}
	m.IsOnline = false
	m.AwayReason = reason
	m.UpdatedAt = s.stamp()
	return clone(m), true, nil
}

func (s *MemoryStore) SetActive(ctx context.Context, id uuid.UUID, active bool) (Mitra, error) {
	s.hooksMu.RLock()
	revoke := s.onDeactivate
	s.hooksMu.RUnlock()
	defer s.db.Begin().End()
	m, ok := s.mitras[id]
	if !ok {
		return Mitra{}, ErrNotFound
	}
	if !active && revoke != nil {
		if err := revoke(ctx, id); err != nil {
			return Mitra{}, err
		}
	}
	m.IsActive = active
	m.IsOnline = m.IsOnline && active
	m.UpdatedAt = s.stamp()
	return clone(m), nil
}

func (s *MemoryStore) Heartbeat(ctx context.Context, id uuid.UUID, at time.Time) (bool, error) {
	defer s.db.Begin().End()
	m, ok := s.mitras[id]
	switch {
	case !ok:
		return false, ErrNotFound
	case !m.IsActive:
		return false, ErrDeactivated
	case !m.IsOnline:
		return false, nil
	}
	m.LastHeartbeatAt = laterOf(m.LastHeartbeatAt, at)
	return true, nil
}

// snapshot copies the rows of ids (nil: all) in one transaction, with their open
// sessions when the database has chat sessions (open is nil otherwise).
func (s *MemoryStore) snapshot(ids []uuid.UUID) (rows []Mitra, open map[uuid.UUID]int) {
	rows, open, _ = s.snapshotEnded(ids, time.Time{})
	return rows, open
}

// snapshotEnded is snapshot with, for a non-zero after, the mitras that ended a chat
// session after it (ended is nil otherwise, or when the database has no chat sessions).
func (s *MemoryStore) snapshotEnded(ids []uuid.UUID, after time.Time) (rows []Mitra, open map[uuid.UUID]int, ended map[uuid.UUID]bool) {
	tx := s.db.Begin()
	defer tx.End()
	open, _ = openCounts(tx)
	if !after.IsZero() {
		ended, _ = endedAfter(tx, after)
	}
	return s.rows(ids), open, ended
}

func (s *MemoryStore) rows(ids []uuid.UUID) []Mitra {
	var out []Mitra
	if ids == nil {
		for _, m := range s.mitras {
			out = append(out, clone(m))
		}
		return out
	}
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		if m, ok := s.mitras[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, clone(m))
		}
	}
	return out
}

func (s *MemoryStore) states(ctx context.Context, ids []uuid.UUID, endedAfter time.Time) ([]MitraState, error) {
	rows, open, ended := s.snapshotEnded(ids, endedAfter)
	out := make([]MitraState, 0, len(rows))
	for _, m := range rows {
		n, err := s.countOpen(ctx, open, m.ID)
		if err != nil {
			return nil, err
		}
		st := MitraState{
			ID: m.ID, IsActive: m.IsActive, IsOnline: m.IsOnline, LastHeartbeatAt: m.LastHeartbeatAt,
			MaxConcurrentSessions: m.MaxConcurrentSessions, OpenSessions: n,
		}
		if !endedAfter.IsZero() {
			if st.InWrapup, err = s.inWrapup(ctx, ended, m.ID, endedAfter); err != nil {
				return nil, err
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *MemoryStore) States(ctx context.Context, ids []uuid.UUID) ([]MitraState, error) {
	return s.states(ctx, nonNil(ids), time.Time{})
}

func (s *MemoryStore) LockStates(ctx context.Context, ids []uuid.UUID, endedAfter time.Time, fn func([]MitraState) error) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	states, err := s.states(ctx, nonNil(ids), endedAfter)
	if err != nil {
		return err
	}
	return fn(states)
}

func (s *MemoryStore) AllStates(ctx context.Context, endedAfter time.Time) ([]MitraState, error) {
	return s.states(ctx, nil, endedAfter)
}

func (s *MemoryStore) OfflineStale(ctx context.Context, ids []uuid.UUID, staleBefore time.Time) (OfflineResult, error) {
	defer s.db.Begin().End()
	if ids == nil {
		for id, m := range s.mitras {
			if m.IsOnline {
				ids = append(ids, id)
			}
		}
	}
	var res OfflineResult
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		m, ok := s.mitras[id]
		switch {
		case ok && m.IsOnline && (m.LastHeartbeatAt == nil || m.LastHeartbeatAt.Before(staleBefore)):
			m.IsOnline = false
			m.UpdatedAt = s.stamp()
			res.Offlined = append(res.Offlined, OfflinedMitra{ID: id, UpdatedAt: m.UpdatedAt})
		case !ok || !m.IsOnline || !m.IsActive:
			res.Offline = append(res.Offline, id)
		default:
			res.Fresh = append(res.Fresh, id)
		}
	}
	return res, nil
}

func (s *MemoryStore) RestoreOnline(ctx context.Context, rows []OfflinedMitra) ([]uuid.UUID, error) {
	defer s.db.Begin().End()
	var out []uuid.UUID
	for _, r := range rows {
		m, ok := s.mitras[r.ID]
		if ok && m.UpdatedAt.Equal(r.UpdatedAt) && !m.IsOnline && m.IsActive {
			m.IsOnline = true
			m.UpdatedAt = s.stamp()
			out = append(out, r.ID)
		}
	}
	return out, nil
}

func (s *MemoryStore) MirrorHeartbeats(ctx context.Context, hbs []HeartbeatAt) (int, error) {
	defer s.db.Begin().End()
	n := 0
	for _, h := range hbs {
		m, ok := s.mitras[h.MitraID]
		if !ok {
			continue
		}
		if next := laterOf(m.LastHeartbeatAt, h.At); next != m.LastHeartbeatAt {
			m.LastHeartbeatAt = next
			n++
		}
	}
	return n, nil
}

func (s *MemoryStore) LowerHeartbeat(ctx context.Context, id uuid.UUID, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	defer s.db.Begin().End()
	m, ok := s.mitras[id]
	at = at.UTC().Truncate(time.Microsecond)
	if !ok || m.LastHeartbeatAt == nil || !m.LastHeartbeatAt.After(at) {
		return false, nil
	}
	m.LastHeartbeatAt = &at
	return true, nil
}

func (s *MemoryStore) IsReachable(ctx context.Context, id uuid.UUID, freshAfter time.Time) (bool, error) {
	st, err := s.States(ctx, []uuid.UUID{id})
	if err != nil || len(st) == 0 {
		return false, err
	}
	return st[0].Reachable(freshAfter), nil
}

func (s *MemoryStore) available(ctx context.Context, q AvailableQuery) ([]MitraState, error) {
	all, err := s.AllStates(ctx, q.EndedAfter)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, st := range all {
		if st.Available(q.FreshAfter, q.DefaultMax) && !slices.Contains(q.Exclude, st.ID) {
			out = append(out, st)
		}
	}
	return out, nil
}

func (s *MemoryStore) FindAvailable(ctx context.Context, q AvailableQuery) ([]uuid.UUID, error) {
	av, err := s.available(ctx, q)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(av, func(a, b MitraState) int { return b.LastHeartbeatAt.Compare(*a.LastHeartbeatAt) })
	if q.Limit > 0 && len(av) > q.Limit {
		av = av[:q.Limit]
	}
	out := make([]uuid.UUID, len(av))
	for i, st := range av {
		out[i] = st.ID
	}
	return out, nil
}

func (s *MemoryStore) CountAvailable(ctx context.Context, q AvailableQuery) (int, error) {
	av, err := s.available(ctx, q)
	return len(av), err
}

func (s *MemoryStore) OnlineCount(ctx context.Context) (int, error) {
	defer s.db.Begin().End()
	n := 0
	for _, m := range s.mitras {
		if m.IsOnline && m.IsActive {
			n++
		}
	}
	return n, nil
}
