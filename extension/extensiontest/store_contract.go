package extensiontest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// StoreHarness is one extension.Store under test, with the facts it reads or writes but
// other domains own: chat sessions (pairing), extension tiers (pricing) and payment
// sessions (payment). RunStoreContract calls the harness constructor once per subtest,
// from parallel subtests.
type StoreHarness struct {
	// Store is the store under test, empty: the suite expects ExpireDue to find its own
	// rows only.
	Store extension.Store
	// StartSession starts an active chat session between a new client and a new mitra,
	// from now for minutes, and returns it as Session reads it.
	StartSession func(t *testing.T, now time.Time, minutes int) pairing.ChatSession
	// EndSession ends an active chat session (status ended), as the pairing domain does.
	EndSession func(t *testing.T, id uuid.UUID)
	// Session reads a chat session as it is now: ApplyPayment must have grown its ends_at
	// and minutes in the same transaction as it marked the extension paid.
	Session func(t *testing.T, id uuid.UUID) pairing.ChatSession
	// Tier returns the id of the extension price tier of minutes, creating it (or setting
	// its price) as the pricing domain does.
	Tier func(t *testing.T, minutes int, price int64) uuid.UUID
	// Payment creates a pending payment session for extension e of chat session s, as the
	// payment domain does, and returns its id.
	Payment func(t *testing.T, s pairing.ChatSession, e extension.Extension) uuid.UUID
}

// t0 is the base time of the suite.
var t0 = time.Date(2026, 5, 3, 23, 2, 49, 0, time.UTC)

// fixture is one chat session with an extension tier, over the store under test.
type fixture struct {
	h    StoreHarness
	sess pairing.ChatSession
	tier uuid.UUID
}

func newFixture(t *testing.T, h StoreHarness) *fixture {
	return &fixture{h: h, sess: h.StartSession(t, t0, 30), tier: h.Tier(t, 15, 10000)}
}

// ext builds an extension of the fixture's session.
func (x *fixture) ext(status extension.Status, createdAt time.Time) extension.Extension {
	e := extension.Extension{
		ID: uuid.New(), ChatSessionID: x.sess.ID, TierID: x.tier, Minutes: 15, Amount: 10000,
		Status: status, CreatedAt: createdAt,
	}
	if status != extension.StatusRequested {
		e.DecidedBy, e.DecidedAt = extension.DecidedByAuto, &createdAt
	}
	return e
}

func (x *fixture) insert(t *testing.T, e extension.Extension) extension.Extension {
	t.Helper()
	stored, err := x.h.Store.Insert(check.Context(t), e)
	check.NoError(t, err)
	return stored
}

// RunStoreContract runs the conformance suite of extension.Store: every implementation
// (extension.NewPostgresStore, NewStore, a host's own) must pass it. Each behaviour is a
// parallel subtest over its own harness from newHarness.
func RunStoreContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("InsertAndGetRoundTripAtPostgresPrecision", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		x := newFixture(t, h)
		created := t0.Add(1234567 * time.Nanosecond).In(time.FixedZone("WIB", 7*3600))
		e := x.ext(extension.StatusRejected, created)
		e.RejectReason = extension.RejectMitraOffline
		stored := x.insert(t, e)

		want := e
		want.CreatedAt = created.UTC().Truncate(time.Microsecond)
		want.DecidedAt = &want.CreatedAt
		check.Equal(t, want, stored)

		got, err := h.Store.Get(check.Context(t), e.ID)
		check.NoError(t, err)
		check.Equal(t, want, got)

		requested := x.insert(t, x.ext(extension.StatusRequested, t0))
		check.Zero(t, requested.DecidedBy)
		check.Zero(t, requested.RejectReason)
		check.Nil(t, requested.DecidedAt)
		check.Nil(t, requested.PaymentSessionID)

		_, err = h.Store.Get(check.Context(t), uuid.New())
		check.ErrorIs(t, err, extension.ErrNotFound)
	})

	t.Run("OneOpenExtensionPerSession", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		x := newFixture(t, h)
		first := x.insert(t, x.ext(extension.StatusRequested, t0))

		_, err := h.Store.Insert(check.Context(t), x.ext(extension.StatusApproved, t0.Add(time.Second)))
		check.ErrorIs(t, err, extension.ErrInvalidState)
		_, err = h.Store.Insert(check.Context(t), x.ext(extension.StatusRequested, t0.Add(time.Second)))
		check.ErrorIs(t, err, extension.ErrInvalidState)

		// Closed extensions do not hold the slot.
		x.insert(t, x.ext(extension.StatusRejected, t0.Add(2*time.Second)))
		open, err := h.Store.OpenForSession(check.Context(t), x.sess.ID)
		check.NoError(t, err)
		check.Equal(t, first.ID, open.ID)

		_, changed, err := h.Store.Transition(check.Context(t), extension.Transition{
			ID: first.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusExpired,
		})
		check.NoError(t, err)
		check.True(t, changed)
		_, err = h.Store.OpenForSession(check.Context(t), x.sess.ID)
		check.ErrorIs(t, err, extension.ErrNotFound)
		x.insert(t, x.ext(extension.StatusApproved, t0.Add(3*time.Second)))

		// Another session has its own slot.
		other := h.StartSession(t, t0, 30)
		_, err = h.Store.Insert(check.Context(t), extension.Extension{
			ID: uuid.New(), ChatSessionID: other.ID, TierID: x.tier, Minutes: 15, Amount: 10000,
			Status: extension.StatusRequested, CreatedAt: t0,
		})
		check.NoError(t, err)
	})

	t.Run("ConcurrentOpenInsertsLeaveExactlyOne", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		x := newFixture(t, h)
		errs := check.Concurrently(8, func(int) error {
			_, err := h.Store.Insert(check.Context(t), x.ext(extension.StatusApproved, t0))
			return err
		})
		check.OneSucceeds(t, errs, extension.ErrInvalidState)
		all, err := h.Store.ListForSession(check.Context(t), x.sess.ID)
		check.NoError(t, err)
		check.Len(t, all, 1)
	})

	t.Run("ListForSessionOldestFirstAndEmptyNotNil", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		x := newFixture(t, h)
		none, err := h.Store.ListForSession(check.Context(t), x.sess.ID)
		check.NoError(t, err)
		check.NotNil(t, none)
		check.Len(t, none, 0)

		third := x.insert(t, x.ext(extension.StatusRejected, t0.Add(2*time.Minute)))
		first := x.insert(t, x.ext(extension.StatusRejected, t0))
		second := x.insert(t, x.ext(extension.StatusRequested, t0.Add(time.Minute)))
		got, err := h.Store.ListForSession(check.Context(t), x.sess.ID)
		check.NoError(t, err)
		check.Equal(t, []extension.Extension{first, second, third}, got)
	})

	t.Run("TransitionIsGuardedOnStatusAndPayment", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		x := newFixture(t, h)
		e := x.insert(t, x.ext(extension.StatusRequested, t0))
		decided := t0.Add(5 * time.Second)

		got, changed, err := h.Store.Transition(check.Context(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusExpired,
		})
		check.NoError(t, err)
		check.False(t, changed, "the status guard fails")
		check.Equal(t, e, got)

		got, changed, err = h.Store.Transition(check.Context(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusApproved,
			DecidedBy: extension.DecidedByMitra, DecidedAt: &decided,
		})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, extension.StatusApproved, got.Status)
		check.Equal(t, extension.DecidedByMitra, got.DecidedBy)
		check.Equal(t, decided, *got.DecidedAt)

		pay := h.Payment(t, x.sess, e)
		got, changed, err = h.Store.Transition(check.Context(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusApproved, PaymentSessionID: &pay,
		})
		check.NoError(t, err)
		check.True(t, changed, "an unset payment may be linked")
		check.Equal(t, pay, *got.PaymentSessionID)

		other := h.Payment(t, x.sess, e)
		got, changed, err = h.Store.Transition(check.Context(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusExpired, PaymentSessionID: &other,
		})
		check.NoError(t, err)
		check.False(t, changed, "another payment must not close it")
		check.Equal(t, extension.StatusApproved, got.Status)

		got, changed, err = h.Store.Transition(check.Context(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusExpired, PaymentSessionID: &pay,
		})
		check.NoError(t, err)
		check.True(t, changed, "its own payment closes it")
		check.Equal(t, extension.StatusExpired, got.Status)
		check.Equal(t, extension.DecidedByMitra, got.DecidedBy, "unset fields are kept")

		r := x.insert(t, x.ext(extension.StatusRequested, t0.Add(time.Minute)))
		got, changed, err = h.Store.Transition(check.Context(t), extension.Transition{
			ID: r.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusRejected,
			DecidedBy: extension.DecidedByMitra, RejectReason: "busy", DecidedAt: &decided,
		})
		check.NoError(t, err)
		check.True(t, changed)
		check.Equal(t, "busy", got.RejectReason)

		_, _, err = h.Store.Transition(check.Context(t), extension.Transition{
			ID: uuid.New(), From: []extension.Status{extension.StatusRequested}, To: extension.StatusExpired,
		})
		check.ErrorIs(t, err, extension.ErrNotFound)
	})

	t.Run("ApplyPaymentMarksPaidAndGrowsTheSessionTogether", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		x := newFixture(t, h)
		e := x.insert(t, x.ext(extension.StatusApproved, t0))
		pay := h.Payment(t, x.sess, e)
		at := t0.Add(time.Minute)

		res, err := h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{ExtensionID: e.ID, PaymentSessionID: pay, At: at})
		check.NoError(t, err)
		check.Equal(t, extension.Applied, res.Outcome)
		check.Equal(t, extension.StatusPaid, res.Extension.Status)
		check.Equal(t, pay, *res.Extension.PaymentSessionID)
		wantEnd := x.sess.EndsAt.Add(15 * time.Minute)
		check.Equal(t, x.sess.ID, res.Session.ID)
		check.Equal(t, x.sess.ClientID, res.Session.ClientID)
		check.Equal(t, x.sess.MitraID, res.Session.MitraID)
		check.Equal(t, wantEnd, *res.Session.EndsAt)
		check.Equal(t, 45, res.Session.Minutes)
		now := h.Session(t, x.sess.ID)
		check.Equal(t, wantEnd, *now.EndsAt)
		check.Equal(t, 45, now.Minutes)

		res, err = h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{ExtensionID: e.ID, PaymentSessionID: pay, At: at})
		check.NoError(t, err)
		check.Equal(t, extension.AlreadyApplied, res.Outcome, "a redelivery changes nothing")
		check.Equal(t, 45, h.Session(t, x.sess.ID).Minutes)

		res, err = h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{ExtensionID: e.ID, PaymentSessionID: h.Payment(t, x.sess, e), At: at})
		check.NoError(t, err)
		check.Equal(t, extension.NotApproved, res.Outcome, "a second payment is not applied")
		check.Equal(t, 45, h.Session(t, x.sess.ID).Minutes)

		_, err = h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{ExtensionID: uuid.New(), PaymentSessionID: pay, At: at})
		check.ErrorIs(t, err, extension.ErrNotFound)
	})

	t.Run("ApplyPaymentChangesNothingWhenAGuardFails", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		x := newFixture(t, h)

		requested := x.insert(t, x.ext(extension.StatusRequested, t0))
		res, err := h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{
			ExtensionID: requested.ID, PaymentSessionID: h.Payment(t, x.sess, requested), At: t0,
		})
		check.NoError(t, err)
		check.Equal(t, extension.NotApproved, res.Outcome)
		check.Equal(t, requested, res.Extension)
		_, _, err = h.Store.Transition(check.Context(t), extension.Transition{
			ID: requested.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusExpired,
		})
		check.NoError(t, err)

		linked := x.insert(t, x.ext(extension.StatusApproved, t0))
		mine := h.Payment(t, x.sess, linked)
		_, _, err = h.Store.Transition(check.Context(t), extension.Transition{
			ID: linked.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusApproved, PaymentSessionID: &mine,
		})
		check.NoError(t, err)
		res, err = h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{
			ExtensionID: linked.ID, PaymentSessionID: h.Payment(t, x.sess, linked), At: t0,
		})
		check.NoError(t, err)
		check.Equal(t, extension.NotApproved, res.Outcome, "a payment other than the linked one")

		h.EndSession(t, x.sess.ID)
		res, err = h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{ExtensionID: linked.ID, PaymentSessionID: mine, At: t0})
		check.NoError(t, err)
		check.Equal(t, extension.SessionNotActive, res.Outcome)
		check.Equal(t, extension.StatusApproved, res.Extension.Status)
		got, err := h.Store.Get(check.Context(t), linked.ID)
		check.NoError(t, err)
		check.Equal(t, extension.StatusApproved, got.Status, "the extension is not marked paid")
		ended := h.Session(t, x.sess.ID)
		check.Equal(t, 30, ended.Minutes)
		check.Equal(t, *x.sess.EndsAt, *ended.EndsAt)
	})

	t.Run("ApplyPaymentLeavesASessionPastItsEndAlone", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		x := newFixture(t, h)
		e := x.insert(t, x.ext(extension.StatusApproved, t0))
		pay := h.Payment(t, x.sess, e)

		// The session is still active: its expiry has not run, but its time is up.
		for _, at := range []time.Time{*x.sess.EndsAt, x.sess.EndsAt.Add(time.Second)} {
			res, err := h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{ExtensionID: e.ID, PaymentSessionID: pay, At: at})
			check.NoError(t, err)
			check.Equal(t, extension.SessionNotActive, res.Outcome)
			check.Equal(t, extension.StatusApproved, res.Extension.Status)
			got, err := h.Store.Get(check.Context(t), e.ID)
			check.NoError(t, err)
			check.Equal(t, extension.StatusApproved, got.Status, "the extension is not marked paid")
			over := h.Session(t, x.sess.ID)
			check.Equal(t, pairing.SessionActive, over.Status)
			check.Equal(t, 30, over.Minutes)
			check.Equal(t, *x.sess.EndsAt, *over.EndsAt)
		}

		res, err := h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{
			ExtensionID: e.ID, PaymentSessionID: pay, At: x.sess.EndsAt.Add(-time.Microsecond),
		})
		check.NoError(t, err)
		check.Equal(t, extension.Applied, res.Outcome, "up to its last instant")
		check.Equal(t, 45, res.Session.Minutes)
	})

	t.Run("ExpireDueTakesOverdueRequestsAndUnchargedApprovals", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		var (
			overdueRequest, freshRequest, orphan, freshOrphan, charged extension.Extension
		)
		// One session per extension: each holds its session's open slot.
		mk := func(status extension.Status, at time.Time) extension.Extension {
			x := newFixture(t, h)
			return x.insert(t, x.ext(status, at))
		}
		overdueRequest = mk(extension.StatusRequested, t0)
		freshRequest = mk(extension.StatusRequested, t0.Add(time.Minute))
		orphan = mk(extension.StatusApproved, t0.Add(-time.Hour))
		freshOrphan = mk(extension.StatusApproved, t0.Add(time.Minute))
		xc := newFixture(t, h)
		charged = xc.insert(t, xc.ext(extension.StatusApproved, t0.Add(-2*time.Hour)))
		pay := h.Payment(t, xc.sess, charged)
		_, _, err := h.Store.Transition(ctx, extension.Transition{
			ID: charged.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusApproved, PaymentSessionID: &pay,
		})
		check.NoError(t, err)
		mk(extension.StatusRejected, t0.Add(-3*time.Hour))

		q := extension.ExpireQuery{RequestedBefore: t0, UnchargedBefore: t0, Limit: 1}
		first, err := h.Store.ExpireDue(ctx, q)
		check.NoError(t, err)
		check.Len(t, first, 1)
		check.Equal(t, orphan.ID, first[0].ID, "oldest first")
		check.Equal(t, extension.StatusExpired, first[0].Status)

		q.Limit = 10
		rest, err := h.Store.ExpireDue(ctx, q)
		check.NoError(t, err)
		check.Len(t, rest, 1)
		check.Equal(t, overdueRequest.ID, rest[0].ID)

		again, err := h.Store.ExpireDue(ctx, q)
		check.NoError(t, err)
		check.Len(t, again, 0)

		for _, e := range []extension.Extension{freshRequest, freshOrphan, charged} {
			got, err := h.Store.Get(ctx, e.ID)
			check.NoError(t, err)
			check.Equal(t, e.Status, got.Status, "%s must not expire", e.ID)
		}
	})

	t.Run("ConcurrentExpireDueHandsEachRowToOneCaller", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		const rows = 12
		for i := range rows {
			x := newFixture(t, h)
			x.insert(t, x.ext(extension.StatusRequested, t0.Add(time.Duration(i)*time.Second)))
		}
		q := extension.ExpireQuery{RequestedBefore: t0.Add(time.Hour), UnchargedBefore: t0, Limit: 3}
		var (
			mu   sync.Mutex
			seen = map[uuid.UUID]int{}
			wg   sync.WaitGroup
		)
		for range 4 {
			wg.Go(func() {
				for {
					got, err := h.Store.ExpireDue(check.Context(t), q)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, e := range got {
						seen[e.ID]++
					}
					mu.Unlock()
					if len(got) == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		check.Len(t, seen, rows)
		for id, n := range seen {
			check.Equal(t, 1, n, "extension %s expired by %d callers", id, n)
		}
	})

	runConstraintContract(t, newHarness)
}
