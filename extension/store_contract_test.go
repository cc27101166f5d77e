package extension_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/extension"
)

// The contract every extension.Store keeps, run against Postgres and the in-memory store.

// storeFixture is one chat session with an extension tier, over one store.
type storeFixture struct {
	store extension.Store
	facts facts
	sess  extension.SessionInfo
	tier  uuid.UUID
}

func newStoreFixture(t *testing.T, store extension.Store, f facts) *storeFixture {
	return &storeFixture{store: store, facts: f, sess: f.startSession(t, nil, t0, 30), tier: f.tier(t, 15, 10000)}
}

// ext builds an extension of the fixture's session.
func (x *storeFixture) ext(status extension.Status, createdAt time.Time) extension.Extension {
	e := extension.Extension{
		ID: uuid.New(), ChatSessionID: x.sess.ID, TierID: x.tier, Minutes: 15, Amount: 10000,
		Status: status, CreatedAt: createdAt,
	}
	if status != extension.StatusRequested {
		e.DecidedBy, e.DecidedAt = extension.DecidedByAuto, &createdAt
	}
	return e
}

func (x *storeFixture) insert(t *testing.T, e extension.Extension) extension.Extension {
	t.Helper()
	stored, err := x.store.Insert(ctxT(t), e)
	require.NoError(t, err)
	return stored
}

func TestStoreContract_InsertAndGetRoundTripAtPostgresPrecision(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		x := newStoreFixture(t, store, f)
		created := t0.Add(1234567 * time.Nanosecond).In(time.FixedZone("WIB", 7*3600))
		e := x.ext(extension.StatusRejected, created)
		e.RejectReason = extension.RejectMitraOffline
		stored := x.insert(t, e)

		want := e
		want.CreatedAt = created.UTC().Truncate(time.Microsecond)
		want.DecidedAt = &want.CreatedAt
		require.Equal(t, want, stored)

		got, err := store.Get(ctxT(t), e.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)

		requested := x.insert(t, x.ext(extension.StatusRequested, t0))
		require.Empty(t, requested.DecidedBy)
		require.Empty(t, requested.RejectReason)
		require.Nil(t, requested.DecidedAt)
		require.Nil(t, requested.PaymentSessionID)

		_, err = store.Get(ctxT(t), uuid.New())
		require.ErrorIs(t, err, extension.ErrNotFound)
	})
}

func TestStoreContract_OneOpenExtensionPerSession(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		x := newStoreFixture(t, store, f)
		first := x.insert(t, x.ext(extension.StatusRequested, t0))

		_, err := store.Insert(ctxT(t), x.ext(extension.StatusApproved, t0.Add(time.Second)))
		require.ErrorIs(t, err, extension.ErrInvalidState)
		_, err = store.Insert(ctxT(t), x.ext(extension.StatusRequested, t0.Add(time.Second)))
		require.ErrorIs(t, err, extension.ErrInvalidState)

		// Closed extensions do not hold the slot.
		x.insert(t, x.ext(extension.StatusRejected, t0.Add(2*time.Second)))
		open, err := store.OpenForSession(ctxT(t), x.sess.ID)
		require.NoError(t, err)
		require.Equal(t, first.ID, open.ID)

		_, changed, err := store.Transition(ctxT(t), extension.Transition{
			ID: first.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusExpired,
		})
		require.NoError(t, err)
		require.True(t, changed)
		_, err = store.OpenForSession(ctxT(t), x.sess.ID)
		require.ErrorIs(t, err, extension.ErrNotFound)
		x.insert(t, x.ext(extension.StatusApproved, t0.Add(3*time.Second)))

		// Another session has its own slot.
		other := f.startSession(t, nil, t0, 30)
		_, err = store.Insert(ctxT(t), extension.Extension{
			ID: uuid.New(), ChatSessionID: other.ID, TierID: x.tier, Minutes: 15, Amount: 10000,
			Status: extension.StatusRequested, CreatedAt: t0,
		})
		require.NoError(t, err)
	})
}

func TestStoreContract_ConcurrentOpenInsertsLeaveExactlyOne(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		x := newStoreFixture(t, store, f)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = store.Insert(ctxT(t), x.ext(extension.StatusApproved, t0))
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.ErrorIs(t, err, extension.ErrInvalidState)
		}
		require.Equal(t, 1, ok)
		all, err := store.ListForSession(ctxT(t), x.sess.ID)
		require.NoError(t, err)
		require.Len(t, all, 1)
	})
}

func TestStoreContract_ListForSessionOldestFirstAndEmptyNotNil(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		x := newStoreFixture(t, store, f)
		none, err := store.ListForSession(ctxT(t), x.sess.ID)
		require.NoError(t, err)
		require.NotNil(t, none)
		require.Empty(t, none)

		third := x.insert(t, x.ext(extension.StatusRejected, t0.Add(2*time.Minute)))
		first := x.insert(t, x.ext(extension.StatusRejected, t0))
		second := x.insert(t, x.ext(extension.StatusRequested, t0.Add(time.Minute)))
		got, err := store.ListForSession(ctxT(t), x.sess.ID)
		require.NoError(t, err)
		require.Equal(t, []extension.Extension{first, second, third}, got)
	})
}

func TestStoreContract_TransitionIsGuardedOnStatusAndPayment(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		x := newStoreFixture(t, store, f)
		e := x.insert(t, x.ext(extension.StatusRequested, t0))
		decided := t0.Add(5 * time.Second)

		got, changed, err := store.Transition(ctxT(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusExpired,
		})
		require.NoError(t, err)
		require.False(t, changed, "the status guard fails")
		require.Equal(t, e, got)

		got, changed, err = store.Transition(ctxT(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusApproved,
			DecidedBy: extension.DecidedByMitra, DecidedAt: &decided,
		})
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, extension.StatusApproved, got.Status)
		require.Equal(t, extension.DecidedByMitra, got.DecidedBy)
		require.Equal(t, decided, *got.DecidedAt)

		pay := f.payment(t, x.sess, e)
		got, changed, err = store.Transition(ctxT(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusApproved, PaymentSessionID: &pay,
		})
		require.NoError(t, err)
		require.True(t, changed, "an unset payment may be linked")
		require.Equal(t, pay, *got.PaymentSessionID)

		other := f.payment(t, x.sess, e)
		got, changed, err = store.Transition(ctxT(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusExpired, PaymentSessionID: &other,
		})
		require.NoError(t, err)
		require.False(t, changed, "another payment must not close it")
		require.Equal(t, extension.StatusApproved, got.Status)

		got, changed, err = store.Transition(ctxT(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusExpired, PaymentSessionID: &pay,
		})
		require.NoError(t, err)
		require.True(t, changed, "its own payment closes it")
		require.Equal(t, extension.StatusExpired, got.Status)
		require.Equal(t, extension.DecidedByMitra, got.DecidedBy, "unset fields are kept")

		r := x.insert(t, x.ext(extension.StatusRequested, t0.Add(time.Minute)))
		got, changed, err = store.Transition(ctxT(t), extension.Transition{
			ID: r.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusRejected,
			DecidedBy: extension.DecidedByMitra, RejectReason: "busy", DecidedAt: &decided,
		})
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, "busy", got.RejectReason)

		_, _, err = store.Transition(ctxT(t), extension.Transition{
			ID: uuid.New(), From: []extension.Status{extension.StatusRequested}, To: extension.StatusExpired,
		})
		require.ErrorIs(t, err, extension.ErrNotFound)
	})
}

func TestStoreContract_ApplyPaymentMarksPaidAndGrowsTheSessionTogether(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		x := newStoreFixture(t, store, f)
		e := x.insert(t, x.ext(extension.StatusApproved, t0))
		pay := f.payment(t, x.sess, e)
		at := t0.Add(time.Minute)

		res, err := store.ApplyPayment(ctxT(t), extension.ApplyPayment{ExtensionID: e.ID, PaymentSessionID: pay, At: at})
		require.NoError(t, err)
		require.Equal(t, extension.Applied, res.Outcome)
		require.Equal(t, extension.StatusPaid, res.Extension.Status)
		require.Equal(t, pay, *res.Extension.PaymentSessionID)
		wantEnd := x.sess.EndsAt.Add(15 * time.Minute)
		require.Equal(t, x.sess.ID, res.Session.ID)
		require.Equal(t, x.sess.ClientID, res.Session.ClientID)
		require.Equal(t, x.sess.MitraID, res.Session.MitraID)
		require.Equal(t, wantEnd, *res.Session.EndsAt)
		require.Equal(t, 45, res.Session.Minutes)
		now := f.session(t, x.sess.ID)
		require.Equal(t, wantEnd, *now.EndsAt)
		require.Equal(t, 45, now.Minutes)

		res, err = store.ApplyPayment(ctxT(t), extension.ApplyPayment{ExtensionID: e.ID, PaymentSessionID: pay, At: at})
		require.NoError(t, err)
		require.Equal(t, extension.AlreadyApplied, res.Outcome, "a redelivery changes nothing")
		require.Equal(t, 45, f.session(t, x.sess.ID).Minutes)

		res, err = store.ApplyPayment(ctxT(t), extension.ApplyPayment{ExtensionID: e.ID, PaymentSessionID: f.payment(t, x.sess, e), At: at})
		require.NoError(t, err)
		require.Equal(t, extension.NotApproved, res.Outcome, "a second payment is not applied")
		require.Equal(t, 45, f.session(t, x.sess.ID).Minutes)

		_, err = store.ApplyPayment(ctxT(t), extension.ApplyPayment{ExtensionID: uuid.New(), PaymentSessionID: pay, At: at})
		require.ErrorIs(t, err, extension.ErrNotFound)
	})
}

func TestStoreContract_ApplyPaymentChangesNothingWhenAGuardFails(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		x := newStoreFixture(t, store, f)

		requested := x.insert(t, x.ext(extension.StatusRequested, t0))
		res, err := store.ApplyPayment(ctxT(t), extension.ApplyPayment{
			ExtensionID: requested.ID, PaymentSessionID: f.payment(t, x.sess, requested), At: t0,
		})
		require.NoError(t, err)
		require.Equal(t, extension.NotApproved, res.Outcome)
		require.Equal(t, requested, res.Extension)
		_, _, err = store.Transition(ctxT(t), extension.Transition{
			ID: requested.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusExpired,
		})
		require.NoError(t, err)

		linked := x.insert(t, x.ext(extension.StatusApproved, t0))
		mine := f.payment(t, x.sess, linked)
		_, _, err = store.Transition(ctxT(t), extension.Transition{
			ID: linked.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusApproved, PaymentSessionID: &mine,
		})
		require.NoError(t, err)
		res, err = store.ApplyPayment(ctxT(t), extension.ApplyPayment{
			ExtensionID: linked.ID, PaymentSessionID: f.payment(t, x.sess, linked), At: t0,
		})
		require.NoError(t, err)
		require.Equal(t, extension.NotApproved, res.Outcome, "a payment other than the linked one")

		f.endSession(t, x.sess.ID)
		res, err = store.ApplyPayment(ctxT(t), extension.ApplyPayment{ExtensionID: linked.ID, PaymentSessionID: mine, At: t0})
		require.NoError(t, err)
		require.Equal(t, extension.SessionNotActive, res.Outcome)
		require.Equal(t, extension.StatusApproved, res.Extension.Status)
		got, err := store.Get(ctxT(t), linked.ID)
		require.NoError(t, err)
		require.Equal(t, extension.StatusApproved, got.Status, "the extension is not marked paid")
		ended := f.session(t, x.sess.ID)
		require.Equal(t, 30, ended.Minutes)
		require.Equal(t, *x.sess.EndsAt, *ended.EndsAt)
	})
}

func TestStoreContract_ExpireDueTakesOverdueRequestsAndUnchargedApprovals(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		ctx := ctxT(t)
		var (
			overdueRequest, freshRequest, orphan, freshOrphan, charged extension.Extension
		)
		// One session per extension: each holds its session's open slot.
		mk := func(status extension.Status, at time.Time) extension.Extension {
			x := newStoreFixture(t, store, f)
			return x.insert(t, x.ext(status, at))
		}
		overdueRequest = mk(extension.StatusRequested, t0)
		freshRequest = mk(extension.StatusRequested, t0.Add(time.Minute))
		orphan = mk(extension.StatusApproved, t0.Add(-time.Hour))
		freshOrphan = mk(extension.StatusApproved, t0.Add(time.Minute))
		xc := newStoreFixture(t, store, f)
		charged = xc.insert(t, xc.ext(extension.StatusApproved, t0.Add(-2*time.Hour)))
		pay := f.payment(t, xc.sess, charged)
		_, _, err := store.Transition(ctx, extension.Transition{
			ID: charged.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusApproved, PaymentSessionID: &pay,
		})
		require.NoError(t, err)
		mk(extension.StatusRejected, t0.Add(-3*time.Hour))

		q := extension.ExpireQuery{RequestedBefore: t0, UnchargedBefore: t0, Limit: 1}
		first, err := store.ExpireDue(ctx, q)
		require.NoError(t, err)
		require.Len(t, first, 1)
		require.Equal(t, orphan.ID, first[0].ID, "oldest first")
		require.Equal(t, extension.StatusExpired, first[0].Status)

		q.Limit = 10
		rest, err := store.ExpireDue(ctx, q)
		require.NoError(t, err)
		require.Len(t, rest, 1)
		require.Equal(t, overdueRequest.ID, rest[0].ID)

		again, err := store.ExpireDue(ctx, q)
		require.NoError(t, err)
		require.Empty(t, again)

		for _, e := range []extension.Extension{freshRequest, freshOrphan, charged} {
			got, err := store.Get(ctx, e.ID)
			require.NoError(t, err)
			require.Equal(t, e.Status, got.Status, "%s must not expire", e.ID)
		}
	})
}

func TestStoreContract_ConcurrentExpireDueHandsEachRowToOneCaller(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, _ *pgxpool.Pool) {
		const rows = 12
		for i := range rows {
			x := newStoreFixture(t, store, f)
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
					got, err := store.ExpireDue(ctxT(t), q)
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
		require.Len(t, seen, rows)
		for id, n := range seen {
			require.Equal(t, 1, n, "extension %s expired by %d callers", id, n)
		}
	})
}
