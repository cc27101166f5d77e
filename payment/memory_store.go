package payment

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/payment/ledger"
)

// MemoryStore is an in-memory Store over a memdb database: its tables payment_sessions
// and payment_refunds and, in the same transaction, those of other domains that its
// Postgres twin reads: the rows a session refers to (clients, pricing_tiers, pairings,
// chat_sessions, extensions: its foreign keys) and what Reconcile asks of them (did the
// chat start, was the extension applied). Every method is one transaction.
//
// Over the database curhat.NewMemoryClient shares, those tables are the other domains'
// stores'. A store built alone (NewMemoryStore) has none of them: its foreign keys are
// not checked, and Reconcile asks Delivered.
type MemoryStore struct {
	// Delivered, when set, tells Reconcile whether what a charged session paid for
	// happened when the store's database has no pairings and extensions tables (a store
	// built alone): a chat session of its pairing started (chat_start), its extension
	// applied (extension). It is called outside the store's transaction, so it may use
	// other stores. Nil: nothing counts as delivered.
	Delivered func(ctx context.Context, s Session) (bool, error)

	db *memdb.DB
	memTables
}

// memTables are the tables of the payment domain.
type memTables struct {
	sessions memdb.Table[uuid.UUID, Session]
	// byKey is the unique index of (client_id, idempotency_key).
	byKey   memdb.Table[idemKey, uuid.UUID]
	refunds memdb.Table[uuid.UUID, Refund]
}

type idemKey struct {
	client uuid.UUID
	key    string
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store over a database of its own.
func NewMemoryStore() *MemoryStore { return NewMemoryStoreIn(memdb.New()) }

// NewMemoryStoreIn returns a MemoryStore over db, whose tables it shares with the stores of
// the other domains built over it (curhat.NewMemoryClient builds them all over one), and
// with any other payment MemoryStore over db (a second instance). Hosts call
// NewMemoryStore, or curhat.NewMemoryClient for the whole product.
func NewMemoryStoreIn(db *memdb.DB) *MemoryStore {
	return &MemoryStore{db: db, memTables: memTables{
		sessions: memdb.NewTable[uuid.UUID, Session](db, "payment_sessions", func(s Session) memdb.Row {
			return memdb.Row{"id": s.ID, "client_id": s.ClientID, "purpose": string(s.Purpose), "status": string(s.Status),
				"amount": s.Amount, "currency": s.Currency, "paid_at": s.PaidAt, "created_at": s.CreatedAt,
				"platform_fee_percent": s.PlatformFeePercent, "pairing_id": s.PairingID, "chat_session_id": s.ChatSessionID}
		}),
		byKey: memdb.NewTable[idemKey, uuid.UUID](db, "payment_sessions_idem_uidx", nil),
		refunds: memdb.NewTable[uuid.UUID, Refund](db, "payment_refunds", func(r Refund) memdb.Row {
			return memdb.Row{"payment_id": r.PaymentID, "amount": r.Amount, "status": string(r.Status), "created_at": r.CreatedAt}
		}),
	}}
}

// Len returns how many sessions the store holds.
func (s *MemoryStore) Len() int {
	defer s.db.Begin().End()
	return len(s.sessions)
}

// checkSession applies the checks of payment_sessions to a row to insert, as Postgres
// reports them (pgutil.Translate).
func checkSession(s Session) error {
	check := func(name string) error {
		return &core.ValidationError{Field: "payment_sessions_" + name, Reason: "violates a database check"}
	}
	switch {
	case !s.Purpose.Valid():
		return check("purpose_check")
	case !s.Status.Valid():
		return check("status_check")
	case s.Minutes < 1:
		return check("minutes_check")
	case s.BaseAmount < 0:
		return check("base_amount_check")
	case s.DiscountAmount < 0:
		return check("discount_amount_check")
	case s.Amount < 0:
		return check("amount_check")
	case s.Amount != s.BaseAmount-s.DiscountAmount:
		return check("check")
	case s.RefundedAmount < 0 || s.RefundedAmount > s.Amount:
		return check("refunded_amount_check")
	}
	return nil
}

// checkReferences applies the foreign keys of payment_sessions, in the order Postgres
// does: the immediate ones (client, tier), then the deferred ones at the commit.
func checkReferences(tx *memdb.Tx, s Session) error {
	if tx.Missing("clients", s.ClientID) {
		return fmt.Errorf("client %s: %w", s.ClientID, ErrNotFound)
	}
	refs := []struct {
		table, field string
		id           *uuid.UUID
	}{
		{"pricing_tiers", "tier_id", &s.TierID},
		{"pairings", "pairing_id", s.PairingID},
		{"chat_sessions", "chat_session_id", s.ChatSessionID},
		{"extensions", "extension_id", s.ExtensionID},
	}
	for _, r := range refs {
		if r.id != nil && tx.Missing(r.table, *r.id) {
			return &core.ValidationError{Field: r.field, Reason: "refers to a row that does not exist"}
		}
	}
	return nil
}

func (s *MemoryStore) Insert(_ context.Context, sess Session) (Session, bool, error) {
	tx := s.db.Begin()
	defer tx.End()
	if sess.IdempotencyKey != "" {
		if id, ok := s.byKey[idemKey{sess.ClientID, sess.IdempotencyKey}]; ok {
			return clone(s.sessions[id]), false, nil
		}
	}
	if err := checkSession(sess); err != nil {
		return Session{}, false, fmt.Errorf("insert payment session: %w", err)
	}
	if _, ok := s.sessions[sess.ID]; ok {
		return Session{}, false, fmt.Errorf("insert payment session: %w: payment_sessions_pkey", core.ErrConflict)
	}
	if err := checkReferences(tx, sess); err != nil {
		return Session{}, false, fmt.Errorf("insert payment session: %w", err)
	}
	sess = normalize(sess)
	s.sessions[sess.ID] = sess
	if sess.IdempotencyKey != "" {
		s.byKey[idemKey{sess.ClientID, sess.IdempotencyKey}] = sess.ID
	}
	return clone(sess), true, nil
}

func (s *MemoryStore) Get(_ context.Context, id uuid.UUID) (Session, error) {
	defer s.db.Begin().End()
	sess, ok := s.sessions[id]
	if !ok {
		return Session{}, fmt.Errorf("get payment session %s: %w", id, ErrNotFound)
	}
	return clone(sess), nil
}

func (s *MemoryStore) FindByIdempotencyKey(_ context.Context, clientID uuid.UUID, key string) (Session, error) {
	defer s.db.Begin().End()
	id, ok := s.byKey[idemKey{clientID, key}]
	if !ok {
		return Session{}, fmt.Errorf("find payment session by idempotency key: %w", ErrNotFound)
	}
	return clone(s.sessions[id]), nil
}

func (s *MemoryStore) SetCharge(_ context.Context, id uuid.UUID, charge Charge, at time.Time) (Session, error) {
	defer s.db.Begin().End()
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
	tx := s.db.Begin()
	defer tx.End()
	sess, ok := s.sessions[t.ID]
	if !ok {
		return Session{}, false, fmt.Errorf("get payment session %s: %w", t.ID, ErrNotFound)
	}
	at := truncate(t.At)
	if !slices.Contains(t.From, sess.Status) || !t.Expiry.Holds(sess.ExpiresAt, at) || t.refMismatch(sess) {
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
	if t.FeePercent != nil {
		sess.PlatformFeePercent = ptr(*t.FeePercent)
	}
	if t.To == StatusPaid {
		if txn, ok := ledger.PaymentPaid(sess.ID, sess.Amount, sess.Currency, at); ok {
			if _, err := ledger.PostIn(tx, txn); err != nil {
				return Session{}, false, fmt.Errorf("payment session %s to %s: %w", t.ID, t.To, err)
			}
		}
	}
	s.sessions[t.ID] = sess
	return clone(sess), true, nil
}

func (s *MemoryStore) ExpirePending(_ context.Context, now time.Time, limit int) ([]Session, error) {
	defer s.db.Begin().End()
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
	defer s.db.Begin().End()
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
	defer s.db.Begin().End()
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
	defer s.db.Begin().End()
	sess, ok := s.sessions[id]
	if ok && sess.Status == status && sess.HandledAt == nil {
		t := truncate(at)
		sess.HandledAt = &t
		s.sessions[id] = sess
	}
	return nil
}

func (s *MemoryStore) ListUndelivered(_ context.Context, changedBefore time.Time, limit int) ([]Session, error) {
	defer s.db.Begin().End()
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

func ptr[T any](v T) *T { return &v }

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
	if sess.PlatformFeePercent != nil {
		sess.PlatformFeePercent = ptr(*sess.PlatformFeePercent)
	}
	return sess
}
