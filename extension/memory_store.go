package extension

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/pairing"
)

// MemoryStore is an in-memory Store over a memdb database: its table extensions and, in
// the same transaction, those of other domains that its Postgres twin reads or writes:
// chat_sessions (a paid extension grows its session), pricing_tiers and payment_sessions
// (its foreign keys). Every method is one transaction.
//
// Over the database curhat.NewMemoryClient shares, those tables are the other domains'
// stores'. A store built alone (NewMemoryStore) has none of them: its foreign keys are
// not checked, and ApplyPayment grows the session through ExtendSession.
type MemoryStore struct {
	// ExtendSession grows a chat session when the store's database has no chat_sessions
	// table (a store built alone): it grows the ends_at and minutes of a session that is
	// active and ends after at by minutes and returns the session as it is now with
	// ok=true; any other session is left alone with ok=false. ApplyPayment calls it in its
	// transaction with ApplyPayment.At, so the extension and the session change together or
	// not at all; it must not call a store of this database. extensiontest.Sessions.Extend
	// fits.
	ExtendSession func(ctx context.Context, sessionID uuid.UUID, minutes int, at time.Time) (s pairing.ChatSession, ok bool, err error)

	db   *memdb.DB
	rows memdb.Table[uuid.UUID, Extension]
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store over a database of its own.
func NewMemoryStore() *MemoryStore { return NewMemoryStoreIn(memdb.New()) }

// NewMemoryStoreIn returns a MemoryStore over db, whose tables it shares with the stores of
// the other domains built over it (curhat.NewMemoryClient builds them all over one), and
// with any other extension MemoryStore over db (a second instance). Hosts call
// NewMemoryStore, or curhat.NewMemoryClient for the whole product.
func NewMemoryStoreIn(db *memdb.DB) *MemoryStore {
	return &MemoryStore{db: db, rows: memdb.NewTable[uuid.UUID, Extension](db, "extensions", func(e Extension) memdb.Row {
		return memdb.Row{"status": string(e.Status), "payment_session_id": e.PaymentSessionID,
			"chat_session_id": e.ChatSessionID, "amount": e.Amount}
	})}
}

// Len returns how many extensions the store holds.
func (s *MemoryStore) Len() int {
	defer s.db.Begin().End()
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
	tx := s.db.Begin()
	defer tx.End()
	if _, ok := s.rows[e.ID]; ok {
		return Extension{}, fmt.Errorf("insert extension: %w: extensions_pkey", core.ErrConflict)
	}
	if e.Status.Open() {
		if _, ok := s.openLocked(e.ChatSessionID); ok {
			return Extension{}, fmt.Errorf("insert extension: the chat session already has an open extension: %w",
				ErrInvalidState)
		}
	}
	if err := checkReferences(tx, e.ChatSessionID, e.TierID, e.PaymentSessionID); err != nil {
		return Extension{}, fmt.Errorf("insert extension: %w", err)
	}
	e = normalize(e)
	s.rows[e.ID] = e
	return clone(e), nil
}

func (s *MemoryStore) Get(_ context.Context, id uuid.UUID) (Extension, error) {
	defer s.db.Begin().End()
	e, ok := s.rows[id]
	if !ok {
		return Extension{}, fmt.Errorf("get extension %s: %w", id, ErrNotFound)
	}
	return clone(e), nil
}

func (s *MemoryStore) ListForSession(_ context.Context, chatSessionID uuid.UUID) ([]Extension, error) {
	defer s.db.Begin().End()
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
	defer s.db.Begin().End()
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

// checkReferences applies the foreign keys of extensions: its chat session, its tier and
// its payment (when set) exist.
func checkReferences(tx *memdb.Tx, chatSessionID, tierID uuid.UUID, paymentID *uuid.UUID) error {
	switch {
	case tx.Missing("chat_sessions", chatSessionID):
		return fmt.Errorf("chat session %s: %w", chatSessionID, ErrNotFound)
	case tx.Missing("pricing_tiers", tierID):
		return fmt.Errorf("tier %s: %w", tierID, ErrNotFound)
	case paymentID != nil && tx.Missing("payment_sessions", *paymentID):
		return fmt.Errorf("payment session %s: %w", *paymentID, ErrNotFound)
	}
	return nil
}

func (s *MemoryStore) Transition(_ context.Context, t Transition) (Extension, bool, error) {
	tx := s.db.Begin()
	defer tx.End()
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
	if t.PaymentSessionID != nil && tx.Missing("payment_sessions", *t.PaymentSessionID) {
		return Extension{}, false, fmt.Errorf("update extension %s: payment session %s: %w", t.ID, *t.PaymentSessionID, ErrNotFound)
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
	tx := s.db.Begin()
	defer tx.End()
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
	// The foreign key of payment_session_id, checked when the row is written: as Postgres
	// at the commit, only once the session grows.
	paymentExists := func() error {
		if tx.Missing("payment_sessions", a.PaymentSessionID) {
			return fmt.Errorf("payment session %s: %w", a.PaymentSessionID, ErrNotFound)
		}
		return nil
	}
	sess, ok, err := s.extendSession(ctx, tx, e.ChatSessionID, e.Minutes, a.At, paymentExists)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply payment %s to extension %s: %w", a.PaymentSessionID, a.ExtensionID, err)
	}
	if !ok {
		return ApplyResult{Outcome: SessionNotActive, Extension: clone(e)}, nil
	}
	e.Status = StatusPaid
	e.PaymentSessionID = new(a.PaymentSessionID)
	s.rows[e.ID] = e
	return ApplyResult{Outcome: Applied, Extension: clone(e), Session: sess}, nil
}

// extendSession grows the ends_at and minutes of a chat session that is active and ends
// after at, in the chat_sessions table of the database (as the Postgres store updates it),
// or through ExtendSession in a store built alone. ok=false: the session is not active, or
// its time is up (an extension must not revive it), or there is none. check runs before
// anything is written (once the session is known to grow, over a shared database); its
// error changes nothing.
func (s *MemoryStore) extendSession(ctx context.Context, tx *memdb.Tx, id uuid.UUID, minutes int, at time.Time, check func() error) (pairing.ChatSession, bool, error) {
	sessions, shared := memdb.Open[uuid.UUID, pairing.ChatSession](tx, "chat_sessions")
	if !shared {
		if s.ExtendSession == nil {
			return pairing.ChatSession{}, false, errors.New("the store has no chat_sessions table and MemoryStore.ExtendSession is not set")
		}
		if err := check(); err != nil {
			return pairing.ChatSession{}, false, err
		}
		return s.ExtendSession(ctx, id, minutes, at)
	}
	c, ok := sessions[id]
	if !ok || c.Status != pairing.SessionActive || c.EndsAt == nil || !c.EndsAt.After(at) {
		return pairing.ChatSession{}, false, nil
	}
	if err := check(); err != nil {
		return pairing.ChatSession{}, false, err
	}
	ends := c.EndsAt.Add(time.Duration(minutes) * time.Minute)
	c.EndsAt, c.Minutes, c.UpdatedAt = &ends, c.Minutes+minutes, normalTime(at)
	sessions[id] = c
	return c, true, nil
}

func (s *MemoryStore) ExpireDue(_ context.Context, q ExpireQuery) ([]Extension, error) {
	defer s.db.Begin().End()
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
