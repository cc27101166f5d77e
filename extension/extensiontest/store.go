// Package extensiontest provides an in-memory extension.Store and fakes of the services an
// extension.Service works with (Sessions, Reachability, Settings, Notifier), for tests and
// demos. The store keeps the rules of the Postgres one — one open extension per chat
// session, every write a guarded compare-and-set, ExpireDue handing each row to one
// caller, ApplyPayment all-or-nothing — so code tested against it behaves the same on
// Postgres. Nothing here needs a server; everything is safe for concurrent use.
//
// RunStoreContract is the conformance suite of extension.Store that pins those rules: the
// Postgres store and this one pass it, and a host with its own Store can run it from its
// tests. It uses no assertion library.
package extensiontest

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

	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/core"
)

// Store is an in-memory extension.Store. The zero value is not usable; call NewStore.
//
// It cannot see chat sessions, so ApplyPayment asks ExtendSession to grow one: set it
// before payments are applied (Sessions.Extend fits).
type Store struct {
	// ExtendSession grows the ends_at and minutes of a chat session that is active and
	// ends after at by minutes and returns the session as it is now with ok=true; any
	// other session is left alone with ok=false. ApplyPayment calls it under the store's
	// lock with ApplyPayment.At, so the extension and the session change together or not
	// at all. pairingtest.Store.ExtendChatSession and Sessions.Extend fit.
	ExtendSession func(ctx context.Context, sessionID uuid.UUID, minutes int, at time.Time) (s extension.ChatSession, ok bool, err error)

	mu   sync.Mutex
	rows map[uuid.UUID]extension.Extension
}

var _ extension.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store { return &Store{rows: map[uuid.UUID]extension.Extension{}} }

// Len returns how many extensions the store holds.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows)
}

func (s *Store) Insert(_ context.Context, e extension.Extension) (extension.Extension, error) {
	switch {
	case !e.Status.Valid():
		return extension.Extension{}, checkViolation("extensions_status_check")
	case e.Minutes < 1:
		return extension.Extension{}, checkViolation("extensions_minutes_check")
	case e.Amount <= 0:
		return extension.Extension{}, checkViolation("extensions_amount_check")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rows[e.ID]; ok {
		return extension.Extension{}, fmt.Errorf("insert extension: %w: extensions_pkey", core.ErrConflict)
	}
	if e.Status.Open() {
		if _, ok := s.openLocked(e.ChatSessionID); ok {
			return extension.Extension{}, fmt.Errorf("insert extension: the chat session already has an open extension: %w",
				extension.ErrInvalidState)
		}
	}
	e = normalize(e)
	s.rows[e.ID] = e
	return clone(e), nil
}

func (s *Store) Get(_ context.Context, id uuid.UUID) (extension.Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.rows[id]
	if !ok {
		return extension.Extension{}, fmt.Errorf("get extension %s: %w", id, extension.ErrNotFound)
	}
	return clone(e), nil
}

func (s *Store) ListForSession(_ context.Context, chatSessionID uuid.UUID) ([]extension.Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []extension.Extension{}
	for _, e := range s.rows {
		if e.ChatSessionID == chatSessionID {
			out = append(out, clone(e))
		}
	}
	sortOldestFirst(out)
	return out, nil
}

func (s *Store) OpenForSession(_ context.Context, chatSessionID uuid.UUID) (extension.Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.openLocked(chatSessionID)
	if !ok {
		return extension.Extension{}, fmt.Errorf("open extension of chat session %s: %w", chatSessionID, extension.ErrNotFound)
	}
	return clone(e), nil
}

func (s *Store) openLocked(chatSessionID uuid.UUID) (extension.Extension, bool) {
	for _, e := range s.rows {
		if e.ChatSessionID == chatSessionID && e.Status.Open() {
			return e, true
		}
	}
	return extension.Extension{}, false
}

func (s *Store) Transition(_ context.Context, t extension.Transition) (extension.Extension, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.rows[t.ID]
	if !ok {
		return extension.Extension{}, false, fmt.Errorf("update extension %s: %w", t.ID, extension.ErrNotFound)
	}
	if !slices.Contains(t.From, e.Status) ||
		(t.PaymentSessionID != nil && e.PaymentSessionID != nil && *e.PaymentSessionID != *t.PaymentSessionID) {
		return clone(e), false, nil
	}
	if t.To.Open() && !e.Status.Open() {
		if _, ok := s.openLocked(e.ChatSessionID); ok {
			return extension.Extension{}, false, fmt.Errorf("update extension %s: the chat session already has an open extension: %w",
				t.ID, extension.ErrInvalidState)
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

func (s *Store) ApplyPayment(ctx context.Context, a extension.ApplyPayment) (extension.ApplyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.rows[a.ExtensionID]
	if !ok {
		return extension.ApplyResult{}, fmt.Errorf("apply payment %s to extension %s: %w", a.PaymentSessionID, a.ExtensionID, extension.ErrNotFound)
	}
	paidBy := func(id uuid.UUID) bool { return e.PaymentSessionID != nil && *e.PaymentSessionID == id }
	switch {
	case e.Status == extension.StatusPaid && paidBy(a.PaymentSessionID):
		return extension.ApplyResult{Outcome: extension.AlreadyApplied, Extension: clone(e)}, nil
	case e.Status != extension.StatusApproved || (e.PaymentSessionID != nil && !paidBy(a.PaymentSessionID)):
		return extension.ApplyResult{Outcome: extension.NotApproved, Extension: clone(e)}, nil
	}
	if s.ExtendSession == nil {
		return extension.ApplyResult{}, errors.New("extensiontest: Store.ExtendSession is not set; it is needed to apply payments")
	}
	sess, ok, err := s.ExtendSession(ctx, e.ChatSessionID, e.Minutes, a.At)
	if err != nil {
		return extension.ApplyResult{}, fmt.Errorf("extend chat session %s: %w", e.ChatSessionID, err)
	}
	if !ok {
		return extension.ApplyResult{Outcome: extension.SessionNotActive, Extension: clone(e)}, nil
	}
	e.Status = extension.StatusPaid
	e.PaymentSessionID = new(a.PaymentSessionID)
	s.rows[e.ID] = e
	return extension.ApplyResult{Outcome: extension.Applied, Extension: clone(e), Session: sess}, nil
}

func (s *Store) ExpireDue(_ context.Context, q extension.ExpireQuery) ([]extension.Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []extension.Extension
	for _, e := range s.rows {
		switch {
		case e.Status == extension.StatusRequested && !e.CreatedAt.After(q.RequestedBefore),
			e.Status == extension.StatusApproved && e.PaymentSessionID == nil && e.DecidedAt != nil && !e.DecidedAt.After(q.UnchargedBefore):
			due = append(due, e)
		}
	}
	sortOldestFirst(due)
	if q.Limit > 0 && len(due) > q.Limit {
		due = due[:q.Limit]
	}
	out := make([]extension.Extension, 0, len(due))
	for _, e := range due {
		e.Status = extension.StatusExpired
		s.rows[e.ID] = e
		out = append(out, clone(e))
	}
	return out, nil
}

func sortOldestFirst(es []extension.Extension) {
	slices.SortFunc(es, func(a, b extension.Extension) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID.String(), b.ID.String()))
	})
}

// normalize stores times as Postgres does: UTC, microseconds.
func normalize(e extension.Extension) extension.Extension {
	e.CreatedAt = normalTime(e.CreatedAt)
	if e.DecidedAt != nil {
		e.DecidedAt = new(normalTime(*e.DecidedAt))
	}
	return clone(e)
}

func normalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// clone copies the pointer fields, so that callers never share the store's values.
func clone(e extension.Extension) extension.Extension {
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
