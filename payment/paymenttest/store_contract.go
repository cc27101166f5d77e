package paymenttest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/payment"
)

// StoreHarness is one payment.Store under test, with the facts it refers to but other
// domains own: clients, price tiers, pairings, chat sessions and extensions, and whether
// what a payment paid for was delivered. RunStoreContract calls the harness constructor
// once per subtest, from parallel subtests.
type StoreHarness struct {
	// Store is the store under test, empty: the suite expects ExpirePending, ClaimDueRefunds
	// and Reconcile to find its own rows only.
	Store payment.Store
	// SameData returns another Store over the same data, as a second instance of the
	// service holds (for Postgres, a new store over the same pool): concurrent callers use
	// one each. Nil means Store itself.
	SameData func() payment.Store
	// Refs creates the rows a payment session of purpose refers to, as the other domains
	// do, and returns them: a new client, a price tier of the purpose's mode, and what the
	// session pays for — a pairing awaiting payment (chat_start), or an active chat
	// session with an approved extension (extension).
	Refs func(t *testing.T, purpose payment.Purpose) Refs
	// Deliver makes what a charged session paid for happen, as the other domains do: a
	// chat session of its pairing starts (chat_start), its extension is applied
	// (extension). Reconcile must then count the session as delivered.
	Deliver func(t *testing.T, s payment.Session)
	// Consume posts to the ledger the value of a chat session that took amount of the
	// charged chat_start session s, as the pairing store does when the session it paid
	// for ends. Nil: the store keeps no ledger, and the cases that need it are skipped.
	Consume func(t *testing.T, s payment.Session, amount int64)
}

// Refs are the rows of other domains one payment session points at.
type Refs struct {
	ClientID, TierID                      uuid.UUID
	PairingID, ChatSessionID, ExtensionID *uuid.UUID
}

// t0 is the base time of the suite.
var t0 = time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)

// lease is how long a refund attempt is claimed for in the suite.
const lease = time.Minute

// env is the harness with the suite's helpers.
type env struct{ StoreHarness }

func (e env) sameData() payment.Store {
	if e.SameData == nil {
		return e.Store
	}
	return e.SameData()
}

// row returns a pending session of purpose, over new rows of the other domains, as the
// Service would insert it at t0.
func (e env) row(t *testing.T, purpose payment.Purpose) payment.Session {
	t.Helper()
	r := e.Refs(t, purpose)
	return payment.Session{
		ID: uuid.New(), ClientID: r.ClientID, Purpose: purpose, PairingID: r.PairingID, ChatSessionID: r.ChatSessionID,
		ExtensionID: r.ExtensionID, TierID: r.TierID, Minutes: 30, BaseAmount: 50000, DiscountAmount: 5000,
		Amount: 45000, Currency: "IDR", Status: payment.StatusPending,
		ExpiresAt: t0.Add(15 * time.Minute), CreatedAt: t0, UpdatedAt: t0,
	}
}

func (e env) insert(t *testing.T, s payment.Session) payment.Session {
	t.Helper()
	stored, inserted, err := e.Store.Insert(check.Context(t), s)
	check.NoError(t, err)
	check.True(t, inserted)
	return stored
}

// paid inserts a charged session of purpose, paid at t0 (amount 45000).
func (e env) paid(t *testing.T, purpose payment.Purpose) payment.Session {
	t.Helper()
	s := e.row(t, purpose)
	s.Status, s.PaidAt, s.ProviderRef = payment.StatusPaid, ptr(t0), "ch-"+s.ID.String()[:8]
	return e.insert(t, s)
}

func (e env) get(t *testing.T, id uuid.UUID) payment.Session {
	t.Helper()
	s, err := e.Store.Get(check.Context(t), id)
	check.NoError(t, err)
	return s
}

func (e env) record(t *testing.T, o payment.RefundOrder, at time.Time) []payment.Refund {
	t.Helper()
	out, err := e.Store.RecordRefund(check.Context(t), payment.RefundRecord{RefundOrder: o, At: at})
	check.NoError(t, err)
	return out
}

// settleRefund claims r and records the gateway's answer (ok: succeeded; else failed,
// due again at next).
func (e env) settleRefund(t *testing.T, r payment.Refund, at time.Time, ok bool, next *time.Time) payment.Refund {
	t.Helper()
	claimed, got, err := e.Store.ClaimRefund(check.Context(t), payment.RefundClaim{ID: r.ID, Mode: payment.ClaimNow, At: at, Lease: lease})
	check.NoError(t, err)
	check.True(t, got, "refund %s could be claimed", r.ID)
	done, changed, err := e.Store.FinishRefund(check.Context(t), payment.RefundAttempt{
		ID: r.ID, Attempt: claimed.Attempts, Succeeded: ok, ProviderRef: "rf", Error: "declined", At: at, NextAttemptAt: next,
	})
	check.NoError(t, err)
	check.True(t, changed)
	return done
}

// drain has callers instances, each with its own store over the same data, call take
// until it returns nothing, as concurrent sweeps do; it returns how many times each row
// was taken, by id, and each caller's error.
func drain[T any](e env, callers int, take func(payment.Store) ([]T, error), id func(T) uuid.UUID) (map[uuid.UUID]int, []error) {
	var mu sync.Mutex
	seen := map[uuid.UUID]int{}
	errs := check.Concurrently(callers, func(int) error {
		store := e.sameData()
		for {
			rows, err := take(store)
			if err != nil {
				return err
			}
			mu.Lock()
			for _, r := range rows {
				seen[id(r)]++
			}
			mu.Unlock()
			if len(rows) == 0 {
				return nil
			}
		}
	})
	return seen, errs
}

func ptr[T any](v T) *T { return &v }

// RunStoreContract runs the conformance suite of payment.Store: every implementation
// (payment.NewPostgresStore, NewStore, a host's own) must pass it. Each behaviour is a
// parallel subtest over its own harness from newHarness.
func RunStoreContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	runSessionContract(t, newHarness)
	runRefundContract(t, newHarness)
	runExactRefundContract(t, newHarness)
}

// runSessionContract pins the payment sessions: insert, idempotency keys, guarded
// transitions, expiry.
func runSessionContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("InsertThenGetReturnsEveryField", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		for _, purpose := range []payment.Purpose{payment.PurposeChatStart, payment.PurposeExtension} {
			want := e.row(t, purpose)
			want.IdempotencyKey = "key-" + want.ID.String()
			want.ExpiresAt = want.ExpiresAt.Add(123456 * time.Nanosecond).Truncate(time.Microsecond)
			stored := e.insert(t, want)
			check.Equal(t, want, stored)
			got, err := e.Store.Get(check.Context(t), want.ID)
			check.NoError(t, err)
			check.Equal(t, want, got)
		}
		// A free session is inserted paid, with its paid_at.
		free := e.row(t, payment.PurposeChatStart)
		free.BaseAmount, free.DiscountAmount, free.Amount = 50000, 50000, 0
		free.Status, free.PaidAt = payment.StatusPaid, ptr(t0)
		check.Equal(t, free, e.insert(t, free))
	})

	t.Run("UnknownIDsAndKeysAreNotFound", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		_, err := e.Store.Get(check.Context(t), uuid.New())
		check.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.Store.FindByIdempotencyKey(check.Context(t), uuid.New(), "nope")
		check.ErrorIs(t, err, payment.ErrNotFound)
		_, _, err = e.Store.Transition(check.Context(t), payment.Transition{ID: uuid.New(), From: []payment.Status{payment.StatusPending}, To: payment.StatusPaid, At: t0})
		check.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.Store.SetCharge(check.Context(t), uuid.New(), payment.Charge{ProviderRef: "x"}, t0)
		check.ErrorIs(t, err, payment.ErrNotFound)
	})

	t.Run("DuplicateIDIsAConflict", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		s := e.insert(t, e.row(t, payment.PurposeChatStart))
		_, _, err := e.Store.Insert(check.Context(t), s)
		check.ErrorIs(t, err, core.ErrConflict)
	})

	t.Run("IdempotencyKeyIsUniquePerClient", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		first := e.row(t, payment.PurposeChatStart)
		first.IdempotencyKey = "k1"
		first = e.insert(t, first)

		again := first
		again.ID, again.Amount, again.BaseAmount, again.DiscountAmount = uuid.New(), 1, 1, 0
		got, inserted, err := e.Store.Insert(check.Context(t), again)
		check.NoError(t, err)
		check.False(t, inserted, "same client, same key: the first row comes back")
		check.Equal(t, first, got)

		other := e.row(t, payment.PurposeChatStart) // another client
		other.IdempotencyKey = "k1"
		e.insert(t, other)

		found, err := e.Store.FindByIdempotencyKey(check.Context(t), first.ClientID, "k1")
		check.NoError(t, err)
		check.Equal(t, first.ID, found.ID)
		_, err = e.Store.Get(check.Context(t), again.ID)
		check.ErrorIs(t, err, payment.ErrNotFound, "the replayed insert wrote no row")
	})

	t.Run("ConcurrentInsertsWithOneKeyStoreOneRow", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		base := e.row(t, payment.PurposeChatStart)
		base.IdempotencyKey = "race"
		const n = 20
		tried := make([]uuid.UUID, n)
		stored := make([]payment.Session, n)
		inserted := make([]bool, n)
		errs := check.Concurrently(n, func(i int) error {
			s := base
			s.ID = uuid.New()
			tried[i] = s.ID
			var err error
			stored[i], inserted[i], err = e.Store.Insert(check.Context(t), s)
			return err
		})
		ids := map[uuid.UUID]bool{}
		wins := 0
		for i, err := range errs {
			check.NoError(t, err, "insert %d", i)
			ids[stored[i].ID] = true
			if inserted[i] {
				wins++
			}
		}
		check.Equal(t, 1, wins)
		check.Len(t, ids, 1)
		for _, id := range tried {
			if !ids[id] {
				_, err := e.Store.Get(check.Context(t), id)
				check.ErrorIs(t, err, payment.ErrNotFound, "one row: the losers wrote nothing")
			}
		}
	})

	t.Run("SetChargeRecordsTheFirstChargeOnly", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		s := e.insert(t, e.row(t, payment.PurposeChatStart))
		got, err := e.Store.SetCharge(check.Context(t), s.ID, payment.Charge{ProviderRef: "ref-1", CheckoutURL: "https://pay/1"}, t0.Add(time.Second))
		check.NoError(t, err)
		check.Equal(t, "ref-1", got.ProviderRef)
		check.Equal(t, "https://pay/1", got.CheckoutURL)
		check.Equal(t, t0.Add(time.Second), got.UpdatedAt)

		got, err = e.Store.SetCharge(check.Context(t), s.ID, payment.Charge{ProviderRef: "ref-2", CheckoutURL: "https://pay/2"}, t0.Add(2*time.Second))
		check.NoError(t, err)
		check.Equal(t, "ref-1", got.ProviderRef)
		check.Equal(t, "https://pay/1", got.CheckoutURL)
		check.Equal(t, t0.Add(time.Second), got.UpdatedAt)
	})

	t.Run("TransitionIsGuardedByStatus", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		s := e.insert(t, e.row(t, payment.PurposeChatStart))
		at := t0.Add(time.Minute)
		paid, changed, err := e.Store.Transition(check.Context(t), payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusPaid,
			At: at, ProviderRef: "ref", SetPaidAt: true,
		})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, payment.StatusPaid, paid.Status)
		check.Equal(t, "ref", paid.ProviderRef)
		check.Equal(t, at, *paid.PaidAt)
		check.Equal(t, at, paid.UpdatedAt)

		again, changed, err := e.Store.Transition(check.Context(t), payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusFailed, At: at.Add(time.Minute),
		})
		check.NoError(t, err)
		check.False(t, changed, "the row is no longer pending")
		check.Equal(t, paid, again, "the current row comes back untouched")

		refunded, changed, err := e.Store.Transition(check.Context(t), payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPaid, payment.StatusRefundFailed}, To: payment.StatusRefunded,
			At: at.Add(time.Minute), ProviderRef: "another-ref",
		})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, "ref", refunded.ProviderRef, "a provider ref is never overwritten")
		check.Equal(t, at, *refunded.PaidAt)
	})

	t.Run("TransitionThatMustMatchItsProviderRefRefusesAnotherCharge", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		s := e.insert(t, e.row(t, payment.PurposeChatStart))
		_, err := e.Store.SetCharge(check.Context(t), s.ID, payment.Charge{ProviderRef: "ref-1"}, t0)
		check.NoError(t, err)
		toPaid := payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusPaid, At: t0.Add(time.Second),
			ProviderRef: "ref-2", MatchProviderRef: true,
		}
		got, changed, err := e.Store.Transition(check.Context(t), toPaid)
		check.NoError(t, err)
		check.False(t, changed, "another charge")
		check.Equal(t, payment.StatusPending, got.Status)
		check.Equal(t, "ref-1", got.ProviderRef)

		toPaid.ProviderRef = "ref-1"
		got, changed, err = e.Store.Transition(check.Context(t), toPaid)
		check.NoError(t, err)
		check.True(t, changed, "its own charge")
		check.Equal(t, payment.StatusPaid, got.Status)

		other := e.insert(t, e.row(t, payment.PurposeChatStart))
		toPaid.ID, toPaid.ProviderRef = other.ID, "ref-3"
		got, changed, err = e.Store.Transition(check.Context(t), toPaid)
		check.NoError(t, err)
		check.True(t, changed, "a session without a charge yet takes the one named")
		check.Equal(t, "ref-3", got.ProviderRef)
	})

	t.Run("TransitionExpiryGuardsMeetAtExpiresAt", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		s := e.insert(t, e.row(t, payment.PurposeChatStart))
		toPaid := payment.Transition{ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusPaid, Expiry: payment.BeforeExpiry}
		toExpired := payment.Transition{ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusExpired, Expiry: payment.AfterExpiry}

		toExpired.At = s.ExpiresAt.Add(-time.Microsecond)
		_, changed, err := e.Store.Transition(check.Context(t), toExpired)
		check.NoError(t, err)
		check.False(t, changed, "not expired a microsecond before expires_at")

		toPaid.At = s.ExpiresAt
		_, changed, err = e.Store.Transition(check.Context(t), toPaid)
		check.NoError(t, err)
		check.False(t, changed, "no longer payable at expires_at")

		toExpired.At = s.ExpiresAt
		got, changed, err := e.Store.Transition(check.Context(t), toExpired)
		check.NoError(t, err)
		check.True(t, changed, "expired at expires_at")
		check.Equal(t, payment.StatusExpired, got.Status)
	})

	t.Run("ClearingTheIdempotencyKeyFreesIt", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		s := e.row(t, payment.PurposeChatStart)
		s.IdempotencyKey = "retry-me"
		s = e.insert(t, s)
		failed, changed, err := e.Store.Transition(check.Context(t), payment.Transition{
			ID: s.ID, From: []payment.Status{payment.StatusPending}, To: payment.StatusFailed, At: t0, ClearIdempotencyKey: true,
		})
		check.NoError(t, err)
		check.True(t, changed)
		check.Zero(t, failed.IdempotencyKey)
		_, err = e.Store.FindByIdempotencyKey(check.Context(t), s.ClientID, "retry-me")
		check.ErrorIs(t, err, payment.ErrNotFound)

		next := s
		next.ID = uuid.New()
		e.insert(t, next)
	})

	t.Run("CountPendingCountsPayableSessionsOfEveryPurpose", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		count := func(at time.Time) int {
			t.Helper()
			n, err := e.Store.CountPending(check.Context(t), at)
			check.NoError(t, err)
			return n
		}
		check.Equal(t, 0, count(t0))
		e.insert(t, e.row(t, payment.PurposeChatStart))
		ext := e.insert(t, e.row(t, payment.PurposeExtension))
		soon := e.row(t, payment.PurposeChatStart)
		soon.ExpiresAt = t0.Add(time.Minute)
		e.insert(t, soon)
		e.paid(t, payment.PurposeChatStart)
		check.Equal(t, 3, count(t0), "pending, of both purposes; not the paid one")
		check.Equal(t, 2, count(t0.Add(time.Minute)), "one past its expiry, though not yet swept")

		_, changed, err := e.Store.Transition(check.Context(t), payment.Transition{ID: ext.ID,
			From: []payment.Status{payment.StatusPending}, To: payment.StatusFailed, At: t0})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, 2, count(t0), "a failed payment waits for nothing")
	})

	t.Run("ExpirePendingTakesDueRowsOnceInBatches", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		due := map[uuid.UUID]bool{}
		for i := range 5 {
			s := e.row(t, payment.PurposeChatStart)
			s.ExpiresAt = t0.Add(time.Duration(i) * time.Second)
			due[e.insert(t, s).ID] = true
		}
		later := e.row(t, payment.PurposeChatStart)
		later.ExpiresAt = t0.Add(time.Hour)
		later = e.insert(t, later)
		paid := e.row(t, payment.PurposeChatStart)
		paid.Status, paid.PaidAt, paid.ExpiresAt = payment.StatusPaid, ptr(t0), t0
		e.insert(t, paid)

		now := t0.Add(time.Minute)
		first, err := e.Store.ExpirePending(check.Context(t), now, 3)
		check.NoError(t, err)
		check.Len(t, first, 3)
		for i, s := range first {
			check.Equal(t, payment.StatusExpired, s.Status)
			check.Equal(t, now, s.UpdatedAt)
			check.Equal(t, t0.Add(time.Duration(i)*time.Second), s.ExpiresAt, "oldest first")
		}
		rest, err := e.Store.ExpirePending(check.Context(t), now, 3)
		check.NoError(t, err)
		check.Len(t, rest, 2)
		none, err := e.Store.ExpirePending(check.Context(t), now, 3)
		check.NoError(t, err)
		check.Len(t, none, 0)

		for _, s := range append(first, rest...) {
			check.True(t, due[s.ID])
			delete(due, s.ID)
		}
		check.Len(t, due, 0)
		got, err := e.Store.Get(check.Context(t), later.ID)
		check.NoError(t, err)
		check.Equal(t, payment.StatusPending, got.Status)
	})

	t.Run("ConcurrentExpirePendingHandsEachRowToOneCaller", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		const n = 40
		for range n {
			s := e.row(t, payment.PurposeChatStart)
			s.ExpiresAt = t0
			e.insert(t, s)
		}
		seen, errs := drain(e, 4, func(store payment.Store) ([]payment.Session, error) {
			return store.ExpirePending(check.Context(t), t0.Add(time.Second), 7)
		}, func(s payment.Session) uuid.UUID { return s.ID })
		for _, err := range errs {
			check.NoError(t, err)
		}
		check.Len(t, seen, n)
		for id, times := range seen {
			check.Equal(t, 1, times, "session %s expired by more than one caller", id)
		}
	})

	t.Run("HasPaidChatStartCountsOnlyPaidChatStarts", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		chat := e.row(t, payment.PurposeChatStart)
		chat.Status = payment.StatusRefunded
		e.insert(t, chat)
		has, err := e.Store.HasPaidChatStart(check.Context(t), chat.ClientID)
		check.NoError(t, err)
		check.False(t, has, "a refunded payment does not use up the first session")

		ext := e.row(t, payment.PurposeExtension)
		ext.Status, ext.PaidAt = payment.StatusPaid, ptr(t0)
		e.insert(t, ext)
		has, err = e.Store.HasPaidChatStart(check.Context(t), ext.ClientID)
		check.NoError(t, err)
		check.False(t, has, "an extension is not a chat start")

		paid := e.row(t, payment.PurposeChatStart)
		paid.Status, paid.PaidAt = payment.StatusPaid, ptr(t0)
		e.insert(t, paid)
		has, err = e.Store.HasPaidChatStart(check.Context(t), paid.ClientID)
		check.NoError(t, err)
		check.True(t, has)
	})
}

// runRefundContract pins the refunds: recorded once per cause and capped by the amount,
// claimed for one attempt at a time, settling the payment's status, found by Reconcile.
func runRefundContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("RecordRefundIsIdempotentPerCauseAndCappedByTheAmount", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart)
		first := e.record(t, payment.RefundOrder{Cause: "a", Reason: "part", From: []uuid.UUID{p.ID}, Amount: 10000}, t0)
		check.Len(t, first, 1)
		r := first[0]
		check.Equal(t, payment.RefundID(p.ID, "a"), r.ID)
		check.Equal(t, payment.Refund{ID: r.ID, PaymentID: p.ID, Amount: 10000, Currency: "IDR", Cause: "a", Reason: "part",
			Status: payment.RefundPending, CreatedAt: t0, UpdatedAt: t0, ChargeRef: p.ProviderRef}, r)

		again := e.record(t, payment.RefundOrder{Cause: "a", From: []uuid.UUID{p.ID}, Amount: 30000}, t0.Add(time.Second))
		check.Equal(t, first, again, "the same cause is the same refund, whatever is asked now")

		rest := e.record(t, payment.RefundOrder{Cause: "b", From: []uuid.UUID{p.ID}}, t0)
		check.Len(t, rest, 1)
		check.Equal(t, int64(35000), rest[0].Amount, "amount 0: all that remains")
		check.Len(t, e.record(t, payment.RefundOrder{Cause: "c", From: []uuid.UUID{p.ID}, Amount: 1}, t0), 0, "nothing remains")

		got := e.get(t, p.ID)
		check.Equal(t, payment.StatusPaid, got.Status, "pending refunds do not change the payment's status")
		check.Zero(t, got.RefundedAmount)

		_, err := e.Store.RecordRefund(check.Context(t), payment.RefundRecord{
			RefundOrder: payment.RefundOrder{Cause: "x", From: []uuid.UUID{uuid.New()}}, At: t0})
		check.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.Store.RecordRefund(check.Context(t), payment.RefundRecord{RefundOrder: payment.RefundOrder{From: []uuid.UUID{p.ID}}, At: t0})
		check.Error(t, err, "a cause is required")
	})

	t.Run("ConcurrentRefundsOfOnePaymentNeverExceedItsAmount", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart) // 45000
		var mu sync.Mutex
		var total int64
		recorded := 0
		errs := check.Concurrently(20, func(i int) error {
			out, err := e.sameData().RecordRefund(check.Context(t), payment.RefundRecord{
				RefundOrder: payment.RefundOrder{Cause: fmt.Sprint("cause-", i), From: []uuid.UUID{p.ID}, Amount: 9000}, At: t0})
			mu.Lock()
			defer mu.Unlock()
			for _, r := range out {
				total += r.Amount
				recorded++
			}
			return err
		})
		for _, err := range errs {
			check.NoError(t, err)
		}
		check.Equal(t, int64(45000), total)
		check.Equal(t, 5, recorded, "five refunds of 9000 fit in 45000, the other fifteen found nothing left")
		all, n, err := e.Store.ListRefunds(check.Context(t), payment.RefundFilter{PaymentID: &p.ID, PageSize: 100})
		check.NoError(t, err)
		check.Equal(t, 5, n)
		var sum int64
		for _, r := range all {
			sum += r.Amount
		}
		check.Equal(t, int64(45000), sum)
	})

	t.Run("RecordRefundTakesFromThePaymentsInOrder", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		unpaid := e.insert(t, e.row(t, payment.PurposeChatStart))
		p1, p2 := e.paid(t, payment.PurposeChatStart), e.paid(t, payment.PurposeChatStart)
		e.record(t, payment.RefundOrder{Cause: "earlier", From: []uuid.UUID{p1.ID}, Amount: 40000}, t0)

		out := e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{unpaid.ID, p1.ID, p2.ID}, Amount: 20000}, t0)
		check.Len(t, out, 2, "the unpaid payment gives nothing")
		check.Equal(t, p1.ID, out[0].PaymentID)
		check.Equal(t, int64(5000), out[0].Amount, "what remains of the first")
		check.Equal(t, p2.ID, out[1].PaymentID)
		check.Equal(t, int64(15000), out[1].Amount, "the rest from the second")

		check.Equal(t, out, e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{unpaid.ID, p1.ID, p2.ID}, Amount: 20000}, t0),
			"a replay finds the same refunds")
	})

	t.Run("LateRefundPaysTheClosedSessionAndRefundsAllOfIt", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		s := e.row(t, payment.PurposeChatStart)
		s.Status = payment.StatusExpired
		s = e.insert(t, s)
		at := t0.Add(time.Hour)
		late := payment.RefundRecord{RefundOrder: payment.RefundOrder{Cause: payment.CauseLatePayment, From: []uuid.UUID{s.ID}},
			At: at, Late: true, ProviderRef: "ref-late"}
		out, err := e.Store.RecordRefund(check.Context(t), late)
		check.NoError(t, err)
		check.Len(t, out, 1)
		check.Equal(t, s.Amount, out[0].Amount)
		check.Equal(t, "ref-late", out[0].ChargeRef)
		got := e.get(t, s.ID)
		check.Equal(t, payment.StatusPaid, got.Status)
		check.Equal(t, at, *got.PaidAt)
		check.Equal(t, at, *got.HandledAt, "handled: nothing may start from a late payment")
		check.Equal(t, "ref-late", got.ProviderRef)

		again, err := e.Store.RecordRefund(check.Context(t), late)
		check.NoError(t, err, "a duplicate confirmation finds the refund")
		check.Equal(t, out, again)

		paid := e.paid(t, payment.PurposeChatStart)
		late.From = []uuid.UUID{paid.ID}
		_, err = e.Store.RecordRefund(check.Context(t), late)
		check.ErrorIs(t, err, payment.ErrInvalidState, "a payment that did not close is not late")
	})

	t.Run("ClaimsAndOutcomesOfRefundAttempts", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart)
		r := e.record(t, payment.RefundOrder{Cause: "a", From: []uuid.UUID{p.ID}, Amount: 10000}, t0)[0]
		claim := func(mode payment.ClaimMode, at time.Time) (payment.Refund, bool) {
			t.Helper()
			got, ok, err := e.Store.ClaimRefund(check.Context(t), payment.RefundClaim{ID: r.ID, Mode: mode, At: at, Lease: lease})
			check.NoError(t, err)
			return got, ok
		}
		inFlight := func(mode payment.ClaimMode, at time.Time, msg string) {
			t.Helper()
			got, ok, err := e.Store.ClaimRefund(check.Context(t), payment.RefundClaim{ID: r.ID, Mode: mode, At: at, Lease: lease})
			check.ErrorIs(t, err, payment.ErrRefundInFlight, msg)
			check.False(t, ok, msg)
			check.Equal(t, r.ID, got.ID, msg)
		}
		first, ok := claim(payment.ClaimFirst, t0)
		check.True(t, ok)
		check.Equal(t, 1, first.Attempts)
		check.Equal(t, payment.RefundPending, first.Status)
		check.Equal(t, t0.Add(lease), *first.NextAttemptAt, "the attempt's lease")
		inFlight(payment.ClaimFirst, t0, "attempted already, and in flight")
		inFlight(payment.ClaimNow, t0.Add(lease-time.Second), "in flight until its lease ends")

		second, ok := claim(payment.ClaimNow, t0.Add(lease))
		check.True(t, ok, "the first attempt showed no outcome within its lease")
		check.Equal(t, 2, second.Attempts)

		_, changed, err := e.Store.FinishRefund(check.Context(t), payment.RefundAttempt{ID: r.ID, Attempt: 1, Error: "late answer", At: t0.Add(lease)})
		check.NoError(t, err)
		check.False(t, changed, "a refusal of an attempt that is not the last one changes nothing")

		next := t0.Add(2 * lease)
		failed, changed, err := e.Store.FinishRefund(check.Context(t), payment.RefundAttempt{ID: r.ID, Attempt: 2, Error: "declined", At: t0.Add(lease), NextAttemptAt: &next})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, payment.RefundFailed, failed.Status)
		check.Equal(t, "declined", failed.LastError)
		check.Equal(t, next, *failed.NextAttemptAt)
		check.Equal(t, payment.StatusRefundFailed, e.get(t, p.ID).Status)

		_, ok = claim(payment.ClaimFirst, t0.Add(lease))
		check.False(t, ok, "attempted already and not in flight: left to the retries")
		third, ok := claim(payment.ClaimNow, t0.Add(lease))
		check.True(t, ok, "a failed refund may be retried now, whatever its backoff")
		check.Equal(t, payment.RefundPending, third.Status, "in flight again")
		check.Equal(t, payment.StatusRefundFailed, e.get(t, p.ID).Status, "the payment follows outcomes, not claims")
		done, changed, err := e.Store.FinishRefund(check.Context(t), payment.RefundAttempt{ID: r.ID, Attempt: third.Attempts, Succeeded: true, ProviderRef: "rf-1", At: t0.Add(lease)})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, payment.RefundSucceeded, done.Status)
		check.Equal(t, "rf-1", done.ProviderRef)
		check.Nil(t, done.NextAttemptAt)
		check.Zero(t, done.LastError)
		got := e.get(t, p.ID)
		check.Equal(t, payment.StatusPartiallyRefunded, got.Status)
		check.Equal(t, int64(10000), got.RefundedAmount)

		_, ok = claim(payment.ClaimNow, t0.Add(time.Hour))
		check.False(t, ok, "a succeeded refund is never attempted again")
		_, changed, err = e.Store.FinishRefund(check.Context(t), payment.RefundAttempt{ID: r.ID, Attempt: 1, Succeeded: true, At: t0.Add(time.Hour)})
		check.NoError(t, err)
		check.False(t, changed)
		check.Equal(t, int64(10000), e.get(t, p.ID).RefundedAmount, "counted once")

		_, _, err = e.Store.ClaimRefund(check.Context(t), payment.RefundClaim{ID: uuid.New(), Mode: payment.ClaimNow, At: t0})
		check.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.Store.GetRefund(check.Context(t), uuid.New())
		check.ErrorIs(t, err, payment.ErrNotFound)
	})

	t.Run("ConcurrentClaimsOfOneRefundLeaveOneAttemptInFlight", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart)
		r := e.record(t, payment.RefundOrder{Cause: "a", From: []uuid.UUID{p.ID}, Amount: 10000}, t0)[0]
		// Refused, due again after a backoff longer than the lease: a retry now may claim it.
		r = e.settleRefund(t, r, t0, false, ptr(t0.Add(time.Hour)))
		check.Equal(t, payment.RefundFailed, r.Status)

		const n = 8
		at := t0.Add(time.Second)
		got := make([]payment.Refund, n)
		claimed := make([]bool, n)
		errs := check.Concurrently(n, func(i int) error {
			var err error
			got[i], claimed[i], err = e.sameData().ClaimRefund(check.Context(t),
				payment.RefundClaim{ID: r.ID, Mode: payment.ClaimNow, At: at, Lease: lease})
			return err
		})
		w := check.OneSucceeds(t, errs, payment.ErrRefundInFlight, "one attempt at a time, whichever instance asks")
		check.True(t, claimed[w])
		check.Equal(t, r.Attempts+1, got[w].Attempts)
		check.Equal(t, payment.RefundPending, got[w].Status, "an attempt in flight is pending")
		check.Equal(t, at.Add(lease), *got[w].NextAttemptAt, "the attempt's lease")
		for i, err := range errs {
			if i != w {
				check.ErrorIs(t, err, payment.ErrConflict)
				check.False(t, claimed[i])
				check.Equal(t, r.ID, got[i].ID, "the refund as it stands comes with the error")
			}
		}

		claimNow := func(at time.Time) (payment.Refund, bool, error) {
			return e.Store.ClaimRefund(check.Context(t), payment.RefundClaim{ID: r.ID, Mode: payment.ClaimNow, At: at, Lease: lease})
		}
		_, ok, err := claimNow(at.Add(lease - time.Second))
		check.ErrorIs(t, err, payment.ErrRefundInFlight, "in flight until its lease ends")
		check.False(t, ok)
		due, err := e.Store.ClaimDueRefunds(check.Context(t), at.Add(lease-time.Second), lease, 10)
		check.NoError(t, err)
		check.Len(t, due, 0, "the sweep leaves an attempt in flight alone")

		// The winner's process dies during its attempt: once the lease is over, the refund
		// may be claimed again, once.
		errs = check.Concurrently(n, func(i int) error {
			var err error
			got[i], claimed[i], err = e.sameData().ClaimRefund(check.Context(t),
				payment.RefundClaim{ID: r.ID, Mode: payment.ClaimNow, At: at.Add(lease), Lease: lease})
			return err
		})
		w = check.OneSucceeds(t, errs, payment.ErrRefundInFlight, "a lease that ended is taken over once")
		check.True(t, claimed[w])
		check.Equal(t, r.Attempts+2, got[w].Attempts)
		done, changed, err := e.Store.FinishRefund(check.Context(t), payment.RefundAttempt{
			ID: r.ID, Attempt: got[w].Attempts, Succeeded: true, ProviderRef: "rf", At: at.Add(lease),
		})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, payment.RefundSucceeded, done.Status)
		_, ok, err = claimNow(at.Add(lease))
		check.NoError(t, err, "a succeeded refund is not in flight")
		check.False(t, ok)
	})

	t.Run("RefundOutcomesSettleThePaymentStatus", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart)
		rs := e.record(t, payment.RefundOrder{Cause: "a", From: []uuid.UUID{p.ID}, Amount: 10000}, t0)
		rs = append(rs, e.record(t, payment.RefundOrder{Cause: "b", From: []uuid.UUID{p.ID}}, t0)...)
		e.settleRefund(t, rs[0], t0, true, nil)
		got := e.get(t, p.ID)
		check.Equal(t, payment.StatusPartiallyRefunded, got.Status)
		check.Equal(t, int64(10000), got.RefundedAmount)

		e.settleRefund(t, rs[1], t0, false, ptr(t0.Add(time.Minute)))
		check.Equal(t, payment.StatusRefundFailed, e.get(t, p.ID).Status, "refund_failed while a refund is failed")

		e.settleRefund(t, rs[1], t0.Add(time.Minute), true, nil)
		got = e.get(t, p.ID)
		check.Equal(t, payment.StatusRefunded, got.Status, "refunded once the refunds add up to the amount")
		check.Equal(t, p.Amount, got.RefundedAmount)
	})

	t.Run("ClaimDueRefundsTakesWhatIsDueOnce", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p := e.paid(t, payment.PurposeChatStart)
		never := e.record(t, payment.RefundOrder{Cause: "never-attempted", From: []uuid.UUID{p.ID}, Amount: 1000}, t0)[0]
		backoff := e.record(t, payment.RefundOrder{Cause: "refused", From: []uuid.UUID{p.ID}, Amount: 1000}, t0)[0]
		e.settleRefund(t, backoff, t0, false, ptr(t0.Add(2*lease)))
		gaveUp := e.record(t, payment.RefundOrder{Cause: "gave-up", From: []uuid.UUID{p.ID}, Amount: 1000}, t0)[0]
		e.settleRefund(t, gaveUp, t0, false, nil)
		done := e.record(t, payment.RefundOrder{Cause: "done", From: []uuid.UUID{p.ID}, Amount: 1000}, t0)[0]
		e.settleRefund(t, done, t0, true, nil)

		ids := func(rs []payment.Refund) []uuid.UUID {
			out := []uuid.UUID{}
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		due, err := e.Store.ClaimDueRefunds(check.Context(t), t0.Add(lease-time.Second), lease, 10)
		check.NoError(t, err)
		check.Len(t, due, 0, "a refund never attempted is left to its recorder for a lease")

		due, err = e.Store.ClaimDueRefunds(check.Context(t), t0.Add(lease), lease, 10)
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{never.ID}, ids(due))
		check.Equal(t, t0.Add(2*lease), *due[0].NextAttemptAt, "claimed for a lease")

		due, err = e.Store.ClaimDueRefunds(check.Context(t), t0.Add(2*lease), lease, 10)
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{never.ID, backoff.ID}, ids(due),
			"the refused one after its backoff, the claimed one once its lease ended")

		// Concurrent sweeps claim each due refund once.
		var more []payment.Refund
		for i := range 30 {
			more = append(more, e.record(t, payment.RefundOrder{Cause: fmt.Sprint("bulk-", i), From: []uuid.UUID{p.ID}, Amount: 100}, t0)...)
		}
		seen, errs := drain(e, 4, func(store payment.Store) ([]payment.Refund, error) {
			return store.ClaimDueRefunds(check.Context(t), t0.Add(3*lease), lease, 4)
		}, func(r payment.Refund) uuid.UUID { return r.ID })
		for _, err := range errs {
			check.NoError(t, err)
		}
		check.Len(t, seen, len(more)+2)
		for id, n := range seen {
			check.Equal(t, 1, n, "refund %s claimed by more than one sweep", id)
		}
	})

	t.Run("ListRefundsFiltersAndPages", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		p, q := e.paid(t, payment.PurposeChatStart), e.paid(t, payment.PurposeExtension)
		var rs []payment.Refund
		for i := range 5 {
			rs = append(rs, e.record(t, payment.RefundOrder{Cause: fmt.Sprint("c", i), From: []uuid.UUID{p.ID}, Amount: 100},
				t0.Add(time.Duration(i)*time.Second))...)
		}
		other := e.record(t, payment.RefundOrder{Cause: "c0", From: []uuid.UUID{q.ID}, Amount: 100}, t0.Add(time.Minute))[0]
		e.settleRefund(t, rs[0], t0, false, nil)

		page, total, err := e.Store.ListRefunds(check.Context(t), payment.RefundFilter{Page: 1, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, 6, total)
		check.Equal(t, []uuid.UUID{other.ID, rs[4].ID}, []uuid.UUID{page[0].ID, page[1].ID}, "newest first")
		page, _, err = e.Store.ListRefunds(check.Context(t), payment.RefundFilter{Page: 3, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, []uuid.UUID{rs[1].ID, rs[0].ID}, []uuid.UUID{page[0].ID, page[1].ID})

		failed, total, err := e.Store.ListRefunds(check.Context(t), payment.RefundFilter{Status: payment.RefundFailed})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, rs[0].ID, failed[0].ID)
		check.Equal(t, "declined", failed[0].LastError)

		_, total, err = e.Store.ListRefunds(check.Context(t), payment.RefundFilter{PaymentID: &q.ID})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		byCause, total, err := e.Store.ListRefunds(check.Context(t), payment.RefundFilter{Cause: "c0"})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.ElementsMatch(t, []uuid.UUID{rs[0].ID, other.ID}, []uuid.UUID{byCause[0].ID, byCause[1].ID})
	})

	t.Run("HasPaidChatStartCountsAChatRefundedInPart", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		has := func(client uuid.UUID) bool {
			t.Helper()
			ok, err := e.Store.HasPaidChatStart(check.Context(t), client)
			check.NoError(t, err)
			return ok
		}
		part := e.paid(t, payment.PurposeChatStart)
		r := e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{part.ID}, Amount: 10000}, t0)[0]
		e.settleRefund(t, r, t0, true, nil)
		check.Equal(t, payment.StatusPartiallyRefunded, e.get(t, part.ID).Status)
		check.True(t, has(part.ClientID), "a chat delivered then refunded in part was paid")

		refused := e.paid(t, payment.PurposeChatStart)
		r = e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{refused.ID}, Amount: 10000}, t0)[0]
		e.settleRefund(t, r, t0, false, nil)
		check.Equal(t, payment.StatusRefundFailed, e.get(t, refused.ID).Status)
		check.True(t, has(refused.ClientID), "a part refund failing does not give the first session back")

		whole := e.paid(t, payment.PurposeChatStart)
		e.record(t, payment.RefundOrder{Cause: "cancelled", From: []uuid.UUID{whole.ID}}, t0)
		check.False(t, has(whole.ClientID), "a chat being given back in full was not paid")

		wholeRefused := e.paid(t, payment.PurposeChatStart)
		r = e.record(t, payment.RefundOrder{Cause: "cancelled", From: []uuid.UUID{wholeRefused.ID}}, t0)[0]
		e.settleRefund(t, r, t0, false, nil)
		check.False(t, has(wholeRefused.ClientID), "nor one whose full refund the gateway refused")

		free := e.row(t, payment.PurposeChatStart)
		free.BaseAmount, free.DiscountAmount, free.Amount, free.Status, free.PaidAt = 50000, 50000, 0, payment.StatusPaid, ptr(t0)
		e.insert(t, free)
		check.True(t, has(free.ClientID), "a free first session uses up the discount")
	})

	t.Run("ReconcileFindsPaidMoneyWithoutAnOutcome", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		unsettled := func(cutoff time.Time) map[uuid.UUID]payment.Unsettled {
			t.Helper()
			out, err := e.Store.Reconcile(check.Context(t), cutoff)
			check.NoError(t, err)
			m := map[uuid.UUID]payment.Unsettled{}
			for _, u := range out {
				m[u.Payment.ID] = u
			}
			check.Len(t, m, len(out))
			return m
		}
		check.Len(t, unsettled(t0.Add(time.Hour)), 0, "nothing paid, nothing unsettled")

		delivered := e.paid(t, payment.PurposeChatStart)
		e.Deliver(t, delivered)
		extDelivered := e.paid(t, payment.PurposeExtension)
		e.Deliver(t, extDelivered)
		refunded := e.paid(t, payment.PurposeChatStart)
		e.settleRefund(t, e.record(t, payment.RefundOrder{Cause: "failed", From: []uuid.UUID{refunded.ID}}, t0)[0], t0, true, nil)
		pending := e.insert(t, e.row(t, payment.PurposeChatStart))
		check.Len(t, unsettled(t0.Add(time.Hour)), 0, "delivered, refunded in full, or never paid")

		lost := e.paid(t, payment.PurposeChatStart)
		extLost := e.paid(t, payment.PurposeExtension)
		partly := e.paid(t, payment.PurposeChatStart)
		e.settleRefund(t, e.record(t, payment.RefundOrder{Cause: "part", From: []uuid.UUID{partly.ID}, Amount: 100}, t0)[0], t0, true, nil)
		refusedRefund := e.paid(t, payment.PurposeChatStart)
		e.Deliver(t, refusedRefund)
		e.settleRefund(t, e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{refusedRefund.ID}, Amount: 100}, t0)[0],
			t0, false, nil)
		stuck := e.paid(t, payment.PurposeChatStart)
		e.Deliver(t, stuck)
		e.record(t, payment.RefundOrder{Cause: "reroute", From: []uuid.UUID{stuck.ID}, Amount: 100}, t0.Add(time.Minute))

		check.Len(t, unsettled(t0.Add(-time.Second)), 0, "within the grace nothing is unsettled")
		got := unsettled(t0.Add(time.Hour))
		check.Len(t, got, 5, "%v", got)
		for _, id := range []uuid.UUID{lost.ID, extLost.ID, partly.ID} {
			check.HasKey(t, got, id)
			check.False(t, got[id].Delivered)
		}
		check.Equal(t, int64(100), got[partly.ID].Payment.RefundedAmount, "refunds that do not add up to the amount")
		check.True(t, got[refusedRefund.ID].Delivered)
		check.Equal(t, 1, got[refusedRefund.ID].FailedRefunds)
		check.Equal(t, 1, got[stuck.ID].StuckRefunds)
		check.NoKey(t, got, pending.ID)
		check.NoKey(t, got, delivered.ID)

		got = unsettled(t0.Add(30 * time.Second))
		check.NoKey(t, got, stuck.ID, "a pending refund is stuck only past the grace")
		check.HasKey(t, got, refusedRefund.ID)
	})

	runConstraintContract(t, newHarness)
}
