package extension

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// MemoryStore is an in-memory Store. The zero value is not usable; call NewMemoryStore.
//
// It cannot see chat sessions, so ApplyPayment asks ExtendSession to grow one: set it
// before payments are applied (Sessions.Extend fits).
type MemoryStore struct {
	// ExtendSession grows the ends_at and minutes of a chat session that is active and
	// ends after at by minutes and returns the session as it is now with ok=true; any
	// other session is left alone with ok=false. ApplyPayment calls it under the store's
	// lock with ApplyPayment.At, so the extension and the session change together or not
	// at all. pairing.MemoryStore.ExtendChatSession and Sessions.Extend fit.
	ExtendSession func(ctx context.Context, sessionID uuid.UUID, minutes int, at time.Time) (s ChatSession, ok bool, err error)

	mu   sync.Mutex
	rows map[uuid.UUID]Extension
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{rows: map[uuid.UUID]Extension{}} }

// Len returns how many extensions the store holds.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows)
}

func (s *MemoryStore) Insert(_ context.Context, e Extension) (Extension, error) {
	switch {
	case !e.Status.Valid():
		return Extension{}, checkViolation("extensions_status_check")
	case e.Minutes < 1:
		return Extension{}, checkViolation("extensions_minutes_check")
	case e.Amount <= 0:
		return Extension{}, checkViolation("extensions_amount_check")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rows[e.ID]; ok {
		return Extension{}, fmt.Errorf("insert extension: %w: extensions_pkey", core.ErrConflict)
	}
	if e.Status.Open() {
		if _, ok := s.openLocked(e.ChatSessionID); ok {
			return Extension{}, fmt.Errorf("insert extension: the chat session already has an open extension: %w",
				ErrInvalidState)
		}
	}
	e = normalize(e)
	s.rows[e.ID] = e
	return clone(e), nil
}

func (s *MemoryStore) Get(_ context.Context, id uuid.UUID) (Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.rows[id]
	if !ok {
		return Extension{}, fmt.Errorf("get extension %s: %w", id, ErrNotFound)
	}
	return clone(e), nil
}

func (s *MemoryStore) ListForSession(_ context.Context, chatSessionID uuid.UUID) ([]Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Extension{}
	for _, e := range s.rows {
		if e.ChatSessionID == chatSessionID {
			out = append(out, clone(e))
		}
	}
	sortOldestFirst(out)
	return out, nil
}

func (s *MemoryStore) OpenForSession(_ context.Context, chatSessionID uuid.UUID) (Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.openLocked(chatSessionID)
	if !ok {
		return Extension{}, fmt.Errorf("open extension of chat session %s: %w", chatSessionID, ErrNotFound)
	}
	return clone(e), nil
}

func (s *MemoryStore) openLocked(chatSessionID uuid.UUID) (Extension, bool) {
	for _, e := range s.rows {
		if e.ChatSessionID == chatSessionID && e.Status.Open() {
			return e, true
		}
	}
	return Extension{}, false
}

func (s *MemoryStore) Transition(_ context.Context, t Transition) (Extension, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.rows[t.ID]
	if !ok {
		return Extension{}, false, fmt.Errorf("update extension %s: %w", t.ID, ErrNotFound)
	}
	if !slices.Contains(t.From, e.Status) ||
		(t.PaymentSessionID != nil && e.PaymentSessionID != nil && *e.PaymentSessionID != *t.PaymentSessionID) {
		return clone(e), false, nil
	}
	if t.To.Open() && !e.Status.Open() {
		if _, ok := s.openLocked(e.ChatSessionID); ok {
			return Extension{}, false, fmt.Errorf("update extension %s: the chat session already has an open extension: %w",
				t.ID, ErrInvalidState)
		}
	}
	e.Status = t.To
	if t.PaymentSessionID != nil {
		e.PaymentSessionID = new(*t.PaymentSessionID)
	}
	if t.DecidedBy != "" {
		e.DecidedBy = t.DecidedBy
	}
	if t.RejectReason != "" {
		e.RejectReason = t.RejectReason
	}
	if t.DecidedAt != nil {
		e.DecidedAt = new(normalTime(*t.DecidedAt))
	}
	s.rows[e.ID] = e
	return clone(e), true, nil
}

func (s *MemoryStore) ApplyPayment(ctx context.Context, a ApplyPayment) (ApplyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.rows[a.ExtensionID]
	if !ok {
		return ApplyResult{}, fmt.Errorf("apply payment %s to extension %s: %w", a.PaymentSessionID, a.ExtensionID, ErrNotFound)
	}
	paidBy := func(id uuid.UUID) bool { return e.PaymentSessionID != nil && *e.PaymentSessionID == id }
	switch {
	case e.Status == StatusPaid && paidBy(a.PaymentSessionID):
		return ApplyResult{Outcome: AlreadyApplied, Extension: clone(e)}, nil
	case e.Status != StatusApproved || (e.PaymentSessionID != nil && !paidBy(a.PaymentSessionID)):
		return ApplyResult{Outcome: NotApproved, Extension: clone(e)}, nil
	}
	if s.ExtendSession == nil {
		return ApplyResult{}, errors.New("extension: MemoryStore.ExtendSession is not set; it is needed to apply payments")
	}
	sess, ok, err := s.ExtendSession(ctx, e.ChatSessionID, e.Minutes, a.At)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("extend chat session %s: %w", e.ChatSessionID, err)
	}
	if !ok {
		return ApplyResult{Outcome: SessionNotActive, Extension: clone(e)}, nil
	}
	e.Status = StatusPaid
	e.PaymentSessionID = new(a.PaymentSessionID)
	s.rows[e.ID] = e
	return ApplyResult{Outcome: Applied, Extension: clone(e), Session: sess}, nil
}

func (s *MemoryStore) ExpireDue(_ context.Context, q ExpireQuery) ([]Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []Extension
	for _, e := range s.rows {
		switch {
		case e.Status == StatusRequested && !e.CreatedAt.After(q.RequestedBefore),
			e.Status == StatusApproved && e.PaymentSessionID == nil && e.DecidedAt != nil && !e.DecidedAt.After(q.UnchargedBefore):
			due = append(due, e)
		}
	}
	sortOldestFirst(due)
	if q.Limit > 0 && len(due) > q.Limit {
		due = due[:q.Limit]
	}
	out := make([]Extension, 0, len(due))
	for _, e := range due {
		e.Status = StatusExpired
		s.rows[e.ID] = e
		out = append(out, clone(e))
	}
	return out, nil
}

func sortOldestFirst(es []Extension) {
	slices.SortFunc(es, func(a, b Extension) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID.String(), b.ID.String()))
	})
}

// normalize stores times as Postgres does: UTC, microseconds.
func normalize(e Extension) Extension {
	e.CreatedAt = normalTime(e.CreatedAt)
	if e.DecidedAt != nil {
		e.DecidedAt = new(normalTime(*e.DecidedAt))
	}
	return clone(e)
}

func normalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// clone copies the pointer fields, so that callers never share the store's values.
func clone(e Extension) Extension {
	if e.PaymentSessionID != nil {
		e.PaymentSessionID = new(*e.PaymentSessionID)
	}
	if e.DecidedAt != nil {
		e.DecidedAt = new(*e.DecidedAt)
	}
	return e
}

func checkViolation(constraint string) error {
	return &core.ValidationError{Field: constraint, Reason: "violates a database check"}
}
