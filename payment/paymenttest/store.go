// Package paymenttest provides an in-memory payment.Store and a fake payment.Gateway for
// tests and demos. The store keeps the rules of the Postgres one — a client's idempotency
// key is unique, every write is a guarded compare-and-set, ExpirePending hands each row
// to one caller — so code tested against it behaves the same on Postgres. Neither needs
// a server; both are safe for concurrent use.
//
// RunStoreContract is the conformance suite of payment.Store that pins those rules, and
// the refunds' (recorded once per cause and capped by the amount, claimed for one attempt
// at a time, settling the payment's status, found by Reconcile): the Postgres store and
// this one pass it, and a host with its own Store can run it from its tests. It uses no
// assertion library.
package paymenttest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/payment"
)

// Store is an in-memory payment.Store. The zero value is not usable; call NewStore.
type Store struct {
	// Delivered, when set, tells Reconcile whether what a charged session paid for
	// happened: a chat session of its pairing started (chat_start), its extension applied
	// (extension) — what the Postgres store reads from those tables. It is called without
	// the store's lock held, so it may use other stores. Nil: nothing counts as delivered.
	Delivered func(ctx context.Context, s payment.Session) (bool, error)

	mu       sync.Mutex
	sessions map[uuid.UUID]payment.Session
	byKey    map[idemKey]uuid.UUID
	refunds  map[uuid.UUID]payment.Refund
}

type idemKey struct {
	client uuid.UUID
	key    string
}

var _ payment.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{sessions: map[uuid.UUID]payment.Session{}, byKey: map[idemKey]uuid.UUID{}, refunds: map[uuid.UUID]payment.Refund{}}
}

// Len returns how many sessions the store holds.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Store) Insert(_ context.Context, sess payment.Session) (payment.Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.IdempotencyKey != "" {
		if id, ok := s.byKey[idemKey{sess.ClientID, sess.IdempotencyKey}]; ok {
			return clone(s.sessions[id]), false, nil
		}
	}
	if _, ok := s.sessions[sess.ID]; ok {
		return payment.Session{}, false, fmt.Errorf("insert payment session: %w: payment_sessions_pkey", core.ErrConflict)
	}
	sess = normalize(sess)
	s.sessions[sess.ID] = sess
	if sess.IdempotencyKey != "" {
		s.byKey[idemKey{sess.ClientID, sess.IdempotencyKey}] = sess.ID
	}
	return clone(sess), true, nil
}

func (s *Store) Get(_ context.Context, id uuid.UUID) (payment.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return payment.Session{}, fmt.Errorf("get payment session %s: %w", id, payment.ErrNotFound)
	}
	return clone(sess), nil
}

func (s *Store) FindByIdempotencyKey(_ context.Context, clientID uuid.UUID, key string) (payment.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byKey[idemKey{clientID, key}]
	if !ok {
		return payment.Session{}, fmt.Errorf("find payment session by idempotency key: %w", payment.ErrNotFound)
	}
	return clone(s.sessions[id]), nil
}

func (s *Store) SetCharge(_ context.Context, id uuid.UUID, charge payment.Charge, at time.Time) (payment.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return payment.Session{}, fmt.Errorf("get payment session %s: %w", id, payment.ErrNotFound)
	}
	if sess.ProviderRef == "" {
		sess.ProviderRef, sess.CheckoutURL, sess.UpdatedAt = charge.ProviderRef, charge.CheckoutURL, truncate(at)
		s.sessions[id] = sess
	}
	return clone(sess), nil
}

func (s *Store) Transition(_ context.Context, t payment.Transition) (payment.Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[t.ID]
	if !ok {
		return payment.Session{}, false, fmt.Errorf("get payment session %s: %w", t.ID, payment.ErrNotFound)
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

func (s *Store) ExpirePending(_ context.Context, now time.Time, limit int) ([]payment.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now = truncate(now)
	var due []payment.Session
	for _, sess := range s.sessions {
		if sess.Status == payment.StatusPending && !sess.ExpiresAt.After(now) {
			due = append(due, sess)
		}
	}
	slices.SortFunc(due, func(a, b payment.Session) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	if limit >= 0 && len(due) > limit {
		due = due[:limit]
	}
	out := make([]payment.Session, 0, len(due))
	for _, sess := range due {
		sess.Status, sess.UpdatedAt = payment.StatusExpired, now
		s.sessions[sess.ID] = sess
		out = append(out, clone(sess))
	}
	return out, nil
}

func (s *Store) CountPending(_ context.Context, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = truncate(at)
	n := 0
	for _, sess := range s.sessions {
		if sess.Status == payment.StatusPending && sess.ExpiresAt.After(at) {
			n++
		}
	}
	return n, nil
}

func (s *Store) HasPaidChatStart(_ context.Context, clientID uuid.UUID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.ClientID != clientID || sess.Purpose != payment.PurposeChatStart {
			continue
		}
		switch sess.Status {
		case payment.StatusPaid, payment.StatusPartiallyRefunded, payment.StatusRefundFailed:
			if sess.Amount == 0 || sess.Amount > s.reserved(sess.ID) {
				return true, nil
			}
		}
	}
	return false, nil
}

func (s *Store) MarkHandled(_ context.Context, id uuid.UUID, status payment.Status, at time.Time) error {
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

func (s *Store) ListUndelivered(_ context.Context, changedBefore time.Time, limit int) ([]payment.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []payment.Session
	for _, sess := range s.sessions {
		switch sess.Status {
		case payment.StatusPaid, payment.StatusFailed, payment.StatusExpired:
			if sess.HandledAt == nil && !sess.UpdatedAt.After(changedBefore) {
				out = append(out, clone(sess))
			}
		}
	}
	slices.SortFunc(out, func(a, b payment.Session) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// normalize stores times as Postgres would: UTC, microsecond precision.
func normalize(sess payment.Session) payment.Session {
	sess.ExpiresAt, sess.CreatedAt, sess.UpdatedAt = truncate(sess.ExpiresAt), truncate(sess.CreatedAt), truncate(sess.UpdatedAt)
	if sess.PaidAt != nil {
		t := truncate(*sess.PaidAt)
		sess.PaidAt = &t
	}
	return clone(sess)
}

func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// clone copies the pointer fields, so that callers never share memory with the store.
func clone(sess payment.Session) payment.Session {
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

func cloneID(id *uuid.UUID) *uuid.UUID {
	if id == nil {
		return nil
	}
	c := *id
	return &c
}
