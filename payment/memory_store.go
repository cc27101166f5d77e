package payment

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// MemoryStore is an in-memory Store. The zero value is not usable; call NewMemoryStore.
type MemoryStore struct {
	// Delivered, when set, tells Reconcile whether what a charged session paid for
	// happened: a chat session of its pairing started (chat_start), its extension applied
	// (extension) — what the Postgres store reads from those tables. It is called without
	// the store's lock held, so it may use other stores. Nil: nothing counts as delivered.
	Delivered func(ctx context.Context, s Session) (bool, error)

	mu       sync.Mutex
	sessions map[uuid.UUID]Session
	byKey    map[idemKey]uuid.UUID
	refunds  map[uuid.UUID]Refund
}

type idemKey struct {
	client uuid.UUID
	key    string
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: map[uuid.UUID]Session{}, byKey: map[idemKey]uuid.UUID{}, refunds: map[uuid.UUID]Refund{}}
}

// Len returns how many sessions the store holds.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *MemoryStore) Insert(_ context.Context, sess Session) (Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.IdempotencyKey != "" {
		if id, ok := s.byKey[idemKey{sess.ClientID, sess.IdempotencyKey}]; ok {
			return clone(s.sessions[id]), false, nil
		}
	}
	if _, ok := s.sessions[sess.ID]; ok {
		return Session{}, false, fmt.Errorf("insert payment session: %w: payment_sessions_pkey", core.ErrConflict)
	}
	sess = normalize(sess)
	s.sessions[sess.ID] = sess
	if sess.IdempotencyKey != "" {
		s.byKey[idemKey{sess.ClientID, sess.IdempotencyKey}] = sess.ID
	}
	return clone(sess), true, nil
}

func (s *MemoryStore) Get(_ context.Context, id uuid.UUID) (Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return Session{}, fmt.Errorf("get payment session %s: %w", id, ErrNotFound)
	}
	return clone(sess), nil
}

func (s *MemoryStore) FindByIdempotencyKey(_ context.Context, clientID uuid.UUID, key string) (Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byKey[idemKey{clientID, key}]
	if !ok {
		return Session{}, fmt.Errorf("find payment session by idempotency key: %w", ErrNotFound)
	}
	return clone(s.sessions[id]), nil
}

func (s *MemoryStore) SetCharge(_ context.Context, id uuid.UUID, charge Charge, at time.Time) (Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return Session{}, fmt.Errorf("get payment session %s: %w", id, ErrNotFound)
	}
	if sess.ProviderRef == "" {
		sess.ProviderRef, sess.CheckoutURL, sess.UpdatedAt = charge.ProviderRef, charge.CheckoutURL, truncate(at)
		s.sessions[id] = sess
	}
	return clone(sess), nil
}

func (s *MemoryStore) Transition(_ context.Context, t Transition) (Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[t.ID]
	if !ok {
		return Session{}, false, fmt.Errorf("get payment session %s: %w", t.ID, ErrNotFound)
	}
	at := truncate(t.At)
	if !slices.Contains(t.From, sess.Status) || !t.Expiry.Holds(sess.ExpiresAt, at) {
		return clone(sess), false, nil
	}
	sess.Status, sess.UpdatedAt = t.To, at
	if t.ProviderRef != "" && sess.ProviderRef == "" {
		sess.ProviderRef = t.ProviderRef
	}
	if t.SetPaidAt {
		sess.PaidAt = &at
	}
	if t.ClearIdempotencyKey && sess.IdempotencyKey != "" {
		delete(s.byKey, idemKey{sess.ClientID, sess.IdempotencyKey})
		sess.IdempotencyKey = ""
	}
	s.sessions[t.ID] = sess
	return clone(sess), true, nil
}

func (s *MemoryStore) ExpirePending(_ context.Context, now time.Time, limit int) ([]Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now = truncate(now)
	var due []Session
	for _, sess := range s.sessions {
		if sess.Status == StatusPending && !sess.ExpiresAt.After(now) {
			due = append(due, sess)
		}
	}
	slices.SortFunc(due, func(a, b Session) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	if limit >= 0 && len(due) > limit {
		due = due[:limit]
	}
	out := make([]Session, 0, len(due))
	for _, sess := range due {
		sess.Status, sess.UpdatedAt = StatusExpired, now
		s.sessions[sess.ID] = sess
		out = append(out, clone(sess))
	}
	return out, nil
}

func (s *MemoryStore) CountPending(_ context.Context, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = truncate(at)
	n := 0
	for _, sess := range s.sessions {
		if sess.Status == StatusPending && sess.ExpiresAt.After(at) {
			n++
		}
	}
	return n, nil
}

func (s *MemoryStore) HasPaidChatStart(_ context.Context, clientID uuid.UUID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.ClientID != clientID || sess.Purpose != PurposeChatStart {
			continue
		}
		switch sess.Status {
		case StatusPaid, StatusPartiallyRefunded, StatusRefundFailed:
			if sess.Amount == 0 || sess.Amount > s.reserved(sess.ID) {
				return true, nil
			}
		}
	}
	return false, nil
}

func (s *MemoryStore) MarkHandled(_ context.Context, id uuid.UUID, status Status, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if ok && sess.Status == status && sess.HandledAt == nil {
		t := truncate(at)
		sess.HandledAt = &t
		s.sessions[id] = sess
	}
	return nil
}

func (s *MemoryStore) ListUndelivered(_ context.Context, changedBefore time.Time, limit int) ([]Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Session
	for _, sess := range s.sessions {
		switch sess.Status {
		case StatusPaid, StatusFailed, StatusExpired:
			if sess.HandledAt == nil && !sess.UpdatedAt.After(changedBefore) {
				out = append(out, clone(sess))
			}
		}
	}
	slices.SortFunc(out, func(a, b Session) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// normalize stores times as Postgres would: UTC, microsecond precision.
func normalize(sess Session) Session {
	sess.ExpiresAt, sess.CreatedAt, sess.UpdatedAt = truncate(sess.ExpiresAt), truncate(sess.CreatedAt), truncate(sess.UpdatedAt)
	if sess.PaidAt != nil {
		t := truncate(*sess.PaidAt)
		sess.PaidAt = &t
	}
	return clone(sess)
}

func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// clone copies the pointer fields, so that callers never share memory with the store.
func clone(sess Session) Session {
	sess.PairingID = cloneID(sess.PairingID)
	sess.ChatSessionID = cloneID(sess.ChatSessionID)
	sess.ExtensionID = cloneID(sess.ExtensionID)
	if sess.PaidAt != nil {
		t := *sess.PaidAt
		sess.PaidAt = &t
	}
	if sess.HandledAt != nil {
		t := *sess.HandledAt
		sess.HandledAt = &t
	}
	return sess
}
