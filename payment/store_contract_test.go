package payment_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/payment"
)

// The Store contract: every test below runs against Postgres and the in-memory store.

// row returns a pending session of purpose as the Service would insert it at t0.
func (e *env) row(purpose payment.Purpose) payment.Session {
	p := e.params(purpose)
	return payment.Session{
		ID: uuid.New(), ClientID: p.ClientID, Purpose: purpose, PairingID: p.PairingID, ChatSessionID: p.ChatSessionID,
		ExtensionID: p.ExtensionID, TierID: p.TierID, Minutes: p.Minutes, BaseAmount: 50000, DiscountAmount: 5000,
		Amount: 45000, Currency: "IDR", Status: payment.StatusPending,
		ExpiresAt: t0.Add(15 * time.Minute), CreatedAt: t0, UpdatedAt: t0,
	}
}

func (e *env) insert(t *testing.T, s payment.Session) payment.Session {
	t.Helper()
	stored, inserted, err := e.store.Insert(context.Background(), s)
	require.NoError(t, err)
	require.True(t, inserted)
	return stored
}

func TestStoreContract_InsertThenGetReturnsEveryField(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, purpose := range []payment.Purpose{payment.PurposeChatStart, payment.PurposeExtension} {
			want := e.row(purpose)
			want.IdempotencyKey = "key-" + want.ID.String()
			want.ExpiresAt = want.ExpiresAt.Add(123456 * time.Nanosecond).Truncate(time.Microsecond)
			stored := e.insert(t, want)
			require.Equal(t, want, stored)
			got, err := e.store.Get(ctx, want.ID)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		// A free session is inserted paid, with its paid_at.
		free := e.row(payment.PurposeChatStart)
		free.BaseAmount, free.DiscountAmount, free.Amount = 50000, 50000, 0
		free.Status, free.PaidAt = payment.StatusPaid, ptr(t0)
		require.Equal(t, free, e.insert(t, free))
	})
}

func TestStoreContract_UnknownIDsAndKeysAreNotFound(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.store.Get(ctx, uuid.New())
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.store.FindByIdempotencyKey(ctx, uuid.New(), "nope")
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, _, err = e.store.Transition(ctx, payment.Transition{ID: uuid.New(), From: []payment.Status{payment.StatusPending}, To: payment.StatusPaid, At: t0})
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.store.SetCharge(ctx, uuid.New(), payment.Charge{ProviderRef: "x"}, t0)
		require.ErrorIs(t, err, payment.ErrNotFound)
	})
}

func TestStoreContract_DuplicateIDIsAConflict(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		s := e.insert(t, e.row(payment.PurposeChatStart))
		_, _, err := e.store.Insert(context.Background(), s)
		require.ErrorIs(t, err, core.ErrConflict)
	})
}

func TestStoreContract_IdempotencyKeyIsUniquePerClient(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first := e.row(payment.PurposeChatStart)
		first.IdempotencyKey = "k1"
		first = e.insert(t, first)

		again := first
		again.ID, again.Amount, again.BaseAmount, again.DiscountAmount = uuid.New(), 1, 1, 0
		got, inserted, err := e.store.Insert(ctx, again)
		require.NoError(t, err)
		require.False(t, inserted, "same client, same key: the first row comes back")
		require.Equal(t, first, got)

		other := e.row(payment.PurposeChatStart) // another client
		other.IdempotencyKey = "k1"
		e.insert(t, other)

		found, err := e.store.FindByIdempotencyKey(ctx, first.ClientID, "k1")
		require.NoError(t, err)
		require.Equal(t, first.ID, found.ID)
		require.Equal(t, 2, e.count())
	})
}

func TestStoreContract_ConcurrentInsertsWithOneKeyStoreOneRow(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		base := e.row(payment.PurposeChatStart)
		base.IdempotencyKey = "race"
		var (
			mu       sync.Mutex
			ids      = map[uuid.UUID]bool{}
			inserted int
		)
		parallel(20, func(int) {
			s := base
			s.ID = uuid.New()
			got, ins, err := e.store.Insert(context.Background(), s)
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			ids[got.ID] = true
			if ins {
				inserted++
			}
		})
		require.Equal(t, 1, inserted)
		require.Len(t, ids, 1)
		require.Equal(t, 1, e.count())
	})
}

func TestStoreContract_SetChargeRecordsTheFirstChargeOnly(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.insert(t, e.row(payment.PurposeChatStart))
		got, err := e.store.SetCharge(ctx, s.ID, payment.Charge{ProviderRef: "ref-1", CheckoutURL: "https://pay/1"}, t0.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, "ref-1", got.ProviderRef)
		require.Equal(t, "https://pay/1", got.CheckoutURL)
		require.Equal(t, t0.Add(time.Second), got.UpdatedAt)

		got, err = e.store.SetCharge(ctx, s.ID, payment.Charge{ProviderRef: "ref-2", CheckoutURL: "https://pay/2"}, t0.Add(2*time.Second))
		require.NoError(t, err)
		require.Equal(t, "ref-1", got.ProviderRef)
		require.Equal(t, "https://pay/1", got.CheckoutURL)
		require.Equal(t, t0.Add(time.Second), got.UpdatedAt)
	})
}

func TestStoreContract_TransitionIsGuardedByStatus(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.insert(t, e.row(payment.PurposeChatStart))
		at := t0.Add(time.Minute)
		paid, changed, err := e.store.Transition(ctx, payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusPaid,
			At: at, ProviderRef: "ref", SetPaidAt: true,
		})
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, payment.StatusPaid, paid.Status)
		require.Equal(t, "ref", paid.ProviderRef)
		require.Equal(t, at, *paid.PaidAt)
		require.Equal(t, at, paid.UpdatedAt)

		again, changed, err := e.store.Transition(ctx, payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusFailed, At: at.Add(time.Minute),
		})
		require.NoError(t, err)
		require.False(t, changed, "the row is no longer pending")
		require.Equal(t, paid, again, "the current row comes back untouched")

		refunded, changed, err := e.store.Transition(ctx, payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPaid, payment.StatusRefundFailed}, To: payment.StatusRefunded,
			At: at.Add(time.Minute), ProviderRef: "another-ref",
		})
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, "ref", refunded.ProviderRef, "a provider ref is never overwritten")
		require.Equal(t, at, *refunded.PaidAt)
	})
}

func TestStoreContract_TransitionExpiryGuardsMeetAtExpiresAt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.insert(t, e.row(payment.PurposeChatStart))
		toPaid := payment.Transition{ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusPaid, Expiry: payment.BeforeExpiry}
		toExpired := payment.Transition{ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusExpired, Expiry: payment.AfterExpiry}

		toExpired.At = s.ExpiresAt.Add(-time.Microsecond)
		_, changed, err := e.store.Transition(ctx, toExpired)
		require.NoError(t, err)
		require.False(t, changed, "not expired a microsecond before expires_at")

		toPaid.At = s.ExpiresAt
		_, changed, err = e.store.Transition(ctx, toPaid)
		require.NoError(t, err)
		require.False(t, changed, "no longer payable at expires_at")

		toExpired.At = s.ExpiresAt
		got, changed, err := e.store.Transition(ctx, toExpired)
		require.NoError(t, err)
		require.True(t, changed, "expired at expires_at")
		require.Equal(t, payment.StatusExpired, got.Status)
	})
}

func TestStoreContract_ClearingTheIdempotencyKeyFreesIt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.row(payment.PurposeChatStart)
		s.IdempotencyKey = "retry-me"
		s = e.insert(t, s)
		failed, changed, err := e.store.Transition(ctx, payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusFailed, At: t0, ClearIdempotencyKey: true,
		})
		require.NoError(t, err)
		require.True(t, changed)
		require.Empty(t, failed.IdempotencyKey)
		_, err = e.store.FindByIdempotencyKey(ctx, s.ClientID, "retry-me")
		require.ErrorIs(t, err, payment.ErrNotFound)

		next := s
		next.ID = uuid.New()
		e.insert(t, next)
	})
}

func TestStoreContract_ExpirePendingTakesDueRowsOnceInBatches(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		due := map[uuid.UUID]bool{}
		for i := range 5 {
			s := e.row(payment.PurposeChatStart)
			s.ExpiresAt = t0.Add(time.Duration(i) * time.Second)
			due[e.insert(t, s).ID] = true
		}
		later := e.row(payment.PurposeChatStart)
		later.ExpiresAt = t0.Add(time.Hour)
		later = e.insert(t, later)
		paid := e.row(payment.PurposeChatStart)
		paid.Status, paid.PaidAt, paid.ExpiresAt = payment.StatusPaid, ptr(t0), t0
		e.insert(t, paid)

		now := t0.Add(time.Minute)
		first, err := e.store.ExpirePending(ctx, now, 3)
		require.NoError(t, err)
		require.Len(t, first, 3)
		for i, s := range first {
			require.Equal(t, payment.StatusExpired, s.Status)
			require.Equal(t, now, s.UpdatedAt)
			require.Equal(t, t0.Add(time.Duration(i)*time.Second), s.ExpiresAt, "oldest first")
		}
		rest, err := e.store.ExpirePending(ctx, now, 3)
		require.NoError(t, err)
		require.Len(t, rest, 2)
		none, err := e.store.ExpirePending(ctx, now, 3)
		require.NoError(t, err)
		require.Empty(t, none)

		for _, s := range append(first, rest...) {
			require.True(t, due[s.ID])
			delete(due, s.ID)
		}
		require.Empty(t, due)
		got, err := e.store.Get(ctx, later.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusPending, got.Status)
	})
}

func TestStoreContract_ConcurrentExpirePendingHandsEachRowToOneCaller(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		const n = 40
		for range n {
			s := e.row(payment.PurposeChatStart)
			s.ExpiresAt = t0
			e.insert(t, s)
		}
		var (
			mu   sync.Mutex
			seen = map[uuid.UUID]int{}
		)
		parallel(4, func(int) {
			store := e.sameData()
			for {
				rows, err := store.ExpirePending(context.Background(), t0.Add(time.Second), 7)
				require.NoError(t, err)
				mu.Lock()
				for _, r := range rows {
					seen[r.ID]++
				}
				mu.Unlock()
				if len(rows) == 0 {
					return
				}
			}
		})
		require.Len(t, seen, n)
		for id, times := range seen {
			require.Equal(t, 1, times, "session %s expired by more than one caller", id)
		}
	})
}

func TestStoreContract_HasPaidChatStartCountsOnlyPaidChatStarts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		chat := e.row(payment.PurposeChatStart)
		chat.Status = payment.StatusRefunded
		e.insert(t, chat)
		has, err := e.store.HasPaidChatStart(ctx, chat.ClientID)
		require.NoError(t, err)
		require.False(t, has, "a refunded payment does not use up the first session")

		ext := e.row(payment.PurposeExtension)
		ext.Status, ext.PaidAt = payment.StatusPaid, ptr(t0)
		e.insert(t, ext)
		has, err = e.store.HasPaidChatStart(ctx, ext.ClientID)
		require.NoError(t, err)
		require.False(t, has, "an extension is not a chat start")

		paid := e.row(payment.PurposeChatStart)
		paid.Status, paid.PaidAt = payment.StatusPaid, ptr(t0)
		e.insert(t, paid)
		has, err = e.store.HasPaidChatStart(ctx, paid.ClientID)
		require.NoError(t, err)
		require.True(t, has)
	})
}

func TestPostgresStore_MissingReferencedRowIsAValidationError(t *testing.T) {
	t.Parallel()
	e := openPostgres(t)
	s := e.row(payment.PurposeChatStart)
	s.PairingID = ptr(uuid.New())
	_, _, err := e.store.Insert(context.Background(), s)
	var verr *core.ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "pairing_id", verr.Field)
}
