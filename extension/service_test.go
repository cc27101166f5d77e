package extension_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/extension/extensiontest"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// Prices of the extension tier every bundle has.
const (
	tierMinutes = 15
	tierPrice   = 10000
)

// bundle is a Service wired to real payment and pricing services over one backend, with
// fake reachability, settings and notifier and a fake clock.
type bundle struct {
	svc      *extension.Service
	store    extension.Store
	facts    facts
	clock    *clock.Fake
	payments *payment.Service
	gateway  *payment.FakeGateway
	prices   *pricing.PricingStore
	reach    *extensiontest.Reachability
	settings *extensiontest.Settings
	notes    *pairingtest.Notifier
	deps     extension.Deps
	tier     pricing.Tier
}

func setup(t *testing.T, store extension.Store, f facts, pool *pgxpool.Pool) *bundle {
	t.Helper()
	b := &bundle{
		store: store, facts: f, clock: clock.NewFake(t0), gateway: payment.NewFakeGateway(),
		reach: extensiontest.NewReachability(), settings: extensiontest.NewSettings(), notes: &pairingtest.Notifier{},
	}
	payStore, priceStore := f.stores()
	var err error
	b.payments, err = payment.NewService(payStore, b.gateway, &payment.Config{Clock: b.clock})
	require.NoError(t, err)
	b.prices, err = pricing.NewPricingStore(priceStore, &pricing.Config{Clock: b.clock})
	require.NoError(t, err)
	b.tier, err = b.prices.CreateTier(ctxT(t), pricing.CreateTierParams{
		Mode: pricing.ModeExtension, Minutes: tierMinutes, Price: tierPrice, Label: "+15", ChangedBy: "test",
	})
	require.NoError(t, err)
	b.deps = extension.Deps{
		Sessions: f.sessions(), Reachability: b.reach, Payments: b.payments, Quoter: b.prices,
		Settings: b.settings, Notifier: b.notes,
	}
	b.svc = b.instance(t)
	b.payments.SetHandler(payment.PurposeExtension, b.svc)
	return b
}

// instance returns another Service over the same data (a second server instance).
func (b *bundle) instance(t *testing.T) *extension.Service {
	svc, err := extension.NewService(b.store, b.deps, &extension.Config{Clock: b.clock})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Stop(context.Background())) })
	return svc
}

// start opens an active 30-minute chat session whose mitra is reachable.
func (b *bundle) start(t *testing.T) pairing.ChatSession {
	t.Helper()
	s := b.facts.startSession(t, nil, b.clock.Now(), 30)
	b.reach.Set(s.MitraID, true)
	return s
}

func (b *bundle) request(t *testing.T, s pairing.ChatSession) (extension.Extension, *payment.Session, error) {
	t.Helper()
	return b.svc.Request(ctxT(t), extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID, Minutes: tierMinutes})
}

func (b *bundle) get(t *testing.T, id uuid.UUID) extension.Extension {
	t.Helper()
	e, err := b.svc.Get(ctxT(t), id)
	require.NoError(t, err)
	return e
}

func (b *bundle) payment(t *testing.T, id uuid.UUID) payment.Session {
	t.Helper()
	p, err := b.payments.Get(ctxT(t), id)
	require.NoError(t, err)
	return p
}

// eachBundle runs fn once per backend, in parallel subtests.
func eachBundle(t *testing.T, fn func(t *testing.T, b *bundle)) {
	t.Helper()
	eachBackend(t, func(t *testing.T, store extension.Store, f facts, pool *pgxpool.Pool) {
		fn(t, setup(t, store, f, pool))
	})
}

func eventsOf(n *pairingtest.Notifier, kind string) []pairing.Event {
	var out []pairing.Event
	for _, e := range n.Events() {
		if e.Kind() == kind {
			out = append(out, e)
		}
	}
	return out
}

func TestRequest_AutoApprovesAndChargesWhenMitraReachable(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		e, pay, err := b.request(t, s)
		require.NoError(t, err)

		require.Equal(t, extension.StatusApproved, e.Status)
		require.Equal(t, extension.DecidedByAuto, e.DecidedBy)
		require.Equal(t, t0, *e.DecidedAt)
		require.Equal(t, b.tier.ID, e.TierID)
		require.Equal(t, tierMinutes, e.Minutes)
		require.EqualValues(t, tierPrice, e.Amount)
		require.NotNil(t, pay)
		require.Equal(t, pay.ID, *e.PaymentSessionID)

		require.Equal(t, payment.PurposeExtension, pay.Purpose)
		require.Equal(t, payment.StatusPending, pay.Status)
		require.Equal(t, s.ClientID, pay.ClientID)
		require.Equal(t, e.ID, *pay.ExtensionID)
		require.Equal(t, s.ID, *pay.ChatSessionID)
		require.Equal(t, b.tier.ID, pay.TierID)
		require.EqualValues(t, tierPrice, pay.BaseAmount)
		require.EqualValues(t, 0, pay.DiscountAmount)
		require.EqualValues(t, tierPrice, pay.Amount)
		require.Equal(t, "IDR", pay.Currency)
		require.NotEmpty(t, pay.CheckoutURL)
		require.Len(t, b.gateway.Charges(), 1)

		require.Equal(t, e, b.get(t, e.ID))
		ev := eventsOf(b.notes, extension.EventExtensionApproved)
		require.Len(t, ev, 1)
		require.Equal(t, s.MitraID, *ev[0].MitraID, "the mitra's card says it was approved automatically")
		require.Equal(t, extension.DecidedByAuto, ev[0].Payload.(extension.ExtensionApprovedEvent).DecidedBy)
	})
}

func TestRequest_OfflineMitraIsRejectedWithoutCharge(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		// Offline, deactivated or a stale heartbeat: the mirror answers "not reachable".
		b.reach.Set(s.MitraID, false)

		e, pay, err := b.request(t, s)
		require.ErrorIs(t, err, extension.ErrMitraUnavailable)
		require.Nil(t, pay)
		require.Equal(t, extension.StatusRejected, e.Status)
		require.Equal(t, extension.DecidedByAuto, e.DecidedBy)
		require.Equal(t, extension.RejectMitraOffline, e.RejectReason)
		require.Nil(t, e.PaymentSessionID)
		require.Equal(t, e, b.get(t, e.ID), "the rejection is stored")
		require.Empty(t, b.gateway.Charges(), "nothing is charged")
		require.Empty(t, b.notes.Events())

		// The rejection holds no slot: once the mitra is back, the client may ask again.
		b.reach.Set(s.MitraID, true)
		again, pay, err := b.request(t, s)
		require.NoError(t, err)
		require.Equal(t, extension.StatusApproved, again.Status)
		require.NotNil(t, pay)
	})
}

func TestRequest_ReachabilityErrorStoresNothing(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		b.reach.Fail(extension.ErrUnavailable)
		_, _, err := b.request(t, s)
		require.ErrorIs(t, err, extension.ErrUnavailable)
		all, err := b.svc.ListForSession(ctxT(t), s.ID)
		require.NoError(t, err)
		require.Empty(t, all)
	})
}

func TestRequest_OnlyTheSessionsClientMayAsk(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		other := b.start(t)
		_, _, err := b.svc.Request(ctxT(t), extension.RequestParams{ClientID: other.ClientID, ChatSessionID: s.ID, Minutes: tierMinutes})
		require.ErrorIs(t, err, extension.ErrNotFound)
		_, _, err = b.svc.Request(ctxT(t), extension.RequestParams{ClientID: s.ClientID, ChatSessionID: uuid.New(), Minutes: tierMinutes})
		require.ErrorIs(t, err, extension.ErrNotFound)
		require.Empty(t, b.gateway.Charges())
		require.Zero(t, b.reach.Calls())
	})
}

func TestRequest_RefusesASessionThatIsNotActive(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		b.facts.endSession(t, s.ID)
		_, _, err := b.request(t, s)
		require.ErrorIs(t, err, extension.ErrInvalidState)
		require.Empty(t, b.gateway.Charges())
	})
}

func TestRequest_RefusesASessionPastItsEndBeforeItsExpiryRuns(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t) // 30 minutes
		b.clock.Advance(30 * time.Minute)
		_, _, err := b.request(t, s)
		require.ErrorIs(t, err, extension.ErrInvalidState)
		require.Empty(t, b.gateway.Charges(), "nothing charged that could only be refunded")
	})
}

func TestRequest_NeedsAnExtensionTier(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		_, _, err := b.svc.Request(ctxT(t), extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID, Minutes: 7})
		require.ErrorIs(t, err, extension.ErrNoTier)
		require.ErrorIs(t, err, pricing.ErrNoTier)

		_, err = b.prices.DeactivateTier(ctxT(t), b.tier.ID, b.tier.UpdatedAt, "test")
		require.NoError(t, err)
		_, _, err = b.request(t, s)
		require.ErrorIs(t, err, extension.ErrNoTier, "an inactive tier is no tier")

		// A session tier of the same minutes does not price an extension.
		_, err = b.prices.CreateTier(ctxT(t), pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 45, Price: 1, ChangedBy: "test"})
		require.NoError(t, err)
		_, _, err = b.svc.Request(ctxT(t), extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID, Minutes: 45})
		require.ErrorIs(t, err, extension.ErrNoTier)
		require.Empty(t, b.gateway.Charges())
	})
}

// freeQuoter prices every extension at 0, which pricing itself never allows.
type freeQuoter struct{ extension.Quoter }

func (q freeQuoter) Quote(ctx context.Context, client uuid.UUID, mode pricing.Mode, minutes int) (pricing.Quote, error) {
	return pricing.Quote{TierID: uuid.New(), Mode: mode, Minutes: minutes, Currency: "IDR"}, nil
}

func TestRequest_RefusesAFreeExtension(t *testing.T) {
	t.Parallel()
	store, f := openMemory()
	b := setup(t, store, f, nil)
	deps := b.deps
	deps.Quoter = freeQuoter{b.prices}
	svc, err := extension.NewService(store, deps, &extension.Config{Clock: b.clock})
	require.NoError(t, err)
	s := b.start(t)
	_, _, err = svc.Request(ctxT(t), extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID, Minutes: tierMinutes})
	require.ErrorIs(t, err, extension.ErrNoTier)
	require.Zero(t, store.Len())
}

func TestRequest_ValidatesItsParameters(t *testing.T) {
	t.Parallel()
	store, f := openMemory()
	b := setup(t, store, f, nil)
	s := b.start(t)
	for _, tc := range []struct {
		name  string
		p     extension.RequestParams
		field string
	}{
		{"no client", extension.RequestParams{ChatSessionID: s.ID, Minutes: 15}, "client_id"},
		{"no session", extension.RequestParams{ClientID: s.ClientID, Minutes: 15}, "chat_session_id"},
		{"zero minutes", extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID}, "minutes"},
		{"negative minutes", extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID, Minutes: -5}, "minutes"},
		{"more than a day", extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID, Minutes: 1441}, "minutes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := b.svc.Request(ctxT(t), tc.p)
			var verr *core.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Equal(t, tc.field, verr.Field)
		})
	}
}

func TestRequest_RefusesASecondOpenExtension(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		// Approved and waiting for its payment.
		s := b.start(t)
		_, _, err := b.request(t, s)
		require.NoError(t, err)
		_, _, err = b.request(t, s)
		require.ErrorIs(t, err, extension.ErrInvalidState)

		// Requested and waiting for the mitra; also while the mitra is offline, no
		// rejection row is written for the second request.
		b.settings.SetAutoApprove(false)
		m := b.start(t)
		_, _, err = b.request(t, m)
		require.NoError(t, err)
		b.reach.Set(m.MitraID, false)
		b.settings.SetAutoApprove(true)
		_, _, err = b.request(t, m)
		require.ErrorIs(t, err, extension.ErrInvalidState)
		all, err := b.svc.ListForSession(ctxT(t), m.ID)
		require.NoError(t, err)
		require.Len(t, all, 1)
		require.Len(t, b.gateway.Charges(), 1)
	})
}

func TestRequest_ConcurrentRequestsOpenOneExtensionAndChargeOnce(t *testing.T) {
	t.Parallel()
	for _, auto := range []bool{true, false} {
		name := map[bool]string{true: "auto", false: "manual"}[auto]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			eachBundle(t, func(t *testing.T, b *bundle) {
				b.settings.SetAutoApprove(auto)
				s := b.start(t)
				const n = 8
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { _, _, errs[i] = b.request(t, s) })
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
				all, err := b.svc.ListForSession(ctxT(t), s.ID)
				require.NoError(t, err)
				require.Len(t, all, 1)
				if auto {
					require.Len(t, b.gateway.Charges(), 1)
				} else {
					require.Empty(t, b.gateway.Charges())
				}
			})
		})
	}
}

func TestRequest_ChargeRefusedByTheGatewayFreesTheSlot(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		b.gateway.FailCharges(true)
		_, _, err := b.request(t, s)
		require.ErrorIs(t, err, payment.ErrPaymentDeclined, "a decline, not an outage")
		require.NotErrorIs(t, err, payment.ErrUnavailable)
		all, err := b.svc.ListForSession(ctxT(t), s.ID)
		require.NoError(t, err)
		require.Len(t, all, 1)
		require.Equal(t, extension.StatusExpired, all[0].Status)
		require.NotNil(t, all[0].PaymentSessionID, "the declined payment stays linked")
		declined, err := b.payments.Get(ctxT(t), *all[0].PaymentSessionID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusFailed, declined.Status)

		b.gateway.FailCharges(false)
		e, pay, err := b.request(t, s)
		require.NoError(t, err)
		require.Equal(t, extension.StatusApproved, e.Status)
		require.NotNil(t, pay)
	})
}

func TestManual_RequestWaitsForTheMitraWhoseApprovalCharges(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		b.settings.SetAutoApprove(false)
		s := b.start(t)
		b.reach.Set(s.MitraID, false) // not consulted without auto-approval

		e, pay, err := b.request(t, s)
		require.NoError(t, err)
		require.Nil(t, pay, "no charge before the approval")
		require.Equal(t, extension.StatusRequested, e.Status)
		require.Empty(t, e.DecidedBy)
		require.Nil(t, e.DecidedAt)
		require.Empty(t, b.gateway.Charges())
		require.Zero(t, b.reach.Calls())
		asked := eventsOf(b.notes, extension.EventExtensionRequested)
		require.Len(t, asked, 1)
		require.Equal(t, s.MitraID, *asked[0].MitraID)
		require.Nil(t, asked[0].ClientID)
		require.Equal(t, e.ID, asked[0].Payload.(extension.ExtensionRequestedEvent).ExtensionID)
		require.Equal(t, t0.Add(20*time.Second), asked[0].Payload.(extension.ExtensionRequestedEvent).ExpiresAt)

		b.clock.Advance(10 * time.Second)
		approved, p, err := b.svc.Approve(ctxT(t), s.MitraID, e.ID)
		require.NoError(t, err)
		require.Equal(t, extension.StatusApproved, approved.Status)
		require.Equal(t, extension.DecidedByMitra, approved.DecidedBy)
		require.Equal(t, t0.Add(10*time.Second), *approved.DecidedAt)
		require.Equal(t, p.ID, *approved.PaymentSessionID)
		require.Equal(t, payment.PurposeExtension, p.Purpose)
		require.EqualValues(t, tierPrice, p.Amount)
		require.Equal(t, "IDR", p.Currency)
		require.Len(t, b.gateway.Charges(), 1)

		told := eventsOf(b.notes, extension.EventExtensionApproved)
		require.Len(t, told, 1)
		require.Equal(t, s.ClientID, *told[0].ClientID)
		require.Equal(t, p.ID, told[0].Payload.(extension.ExtensionApprovedEvent).Payment.ID)

		// The deadline timer was disarmed: nothing expires later.
		b.clock.Advance(time.Minute)
		require.Equal(t, extension.StatusApproved, b.get(t, e.ID).Status)

		_, _, err = b.svc.Approve(ctxT(t), s.MitraID, e.ID)
		require.ErrorIs(t, err, extension.ErrInvalidState, "decided already")
		_, err = b.svc.Reject(ctxT(t), s.MitraID, e.ID, "")
		require.ErrorIs(t, err, extension.ErrInvalidState)
	})
}

func TestManual_ApprovalChargesThePriceTheClientWasQuoted(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		b.settings.SetAutoApprove(false)
		s := b.start(t)
		e, _, err := b.request(t, s)
		require.NoError(t, err)
		_, err = b.prices.UpdateTier(ctxT(t), pricing.UpdateTierParams{
			ID: b.tier.ID, ExpectedUpdatedAt: b.tier.UpdatedAt, Price: new(int64(99999)), ChangedBy: "test",
		})
		require.NoError(t, err)
		_, p, err := b.svc.Approve(ctxT(t), s.MitraID, e.ID)
		require.NoError(t, err)
		require.EqualValues(t, tierPrice, p.Amount)
	})
}

func TestManual_UndecidedRequestExpiresAfterTheTargetedTimeout(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		b.settings.SetAutoApprove(false)
		b.settings.SetTargetedTimeout(30 * time.Second)
		s := b.start(t)
		e, _, err := b.request(t, s)
		require.NoError(t, err)

		b.clock.Advance(29 * time.Second)
		require.Equal(t, extension.StatusRequested, b.get(t, e.ID).Status)
		b.clock.Advance(time.Second)
		require.Equal(t, extension.StatusExpired, b.get(t, e.ID).Status)

		expired := eventsOf(b.notes, extension.EventExtensionExpired)
		require.Len(t, expired, 1)
		require.Equal(t, s.ClientID, *expired[0].ClientID)
		require.Equal(t, s.MitraID, *expired[0].MitraID, "the mitra's card goes away")
		require.Equal(t, "timeout", expired[0].Payload.(extension.ExtensionExpiredEvent).Reason)

		_, _, err = b.svc.Approve(ctxT(t), s.MitraID, e.ID)
		require.ErrorIs(t, err, extension.ErrInvalidState)
		_, err = b.svc.Reject(ctxT(t), s.MitraID, e.ID, "")
		require.ErrorIs(t, err, extension.ErrInvalidState)
		require.Empty(t, b.gateway.Charges())

		// The slot is free again.
		_, _, err = b.request(t, s)
		require.NoError(t, err)
	})
}

func TestManual_ApprovalPastTheDeadlineIsRefusedWithoutATimer(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		b.settings.SetAutoApprove(false)
		s := b.start(t)
		e, _, err := b.request(t, s)
		require.NoError(t, err)
		// Another instance, which never armed a timer, gets the late approval.
		require.NoError(t, b.svc.Stop(ctxT(t)))
		other := b.instance(t)
		b.clock.Advance(21 * time.Second)
		require.Equal(t, extension.StatusRequested, b.get(t, e.ID).Status)

		_, _, err = other.Approve(ctxT(t), s.MitraID, e.ID)
		require.ErrorIs(t, err, extension.ErrInvalidState)
		require.Equal(t, extension.StatusExpired, b.get(t, e.ID).Status)
		require.Empty(t, b.gateway.Charges())
	})
}

func TestManual_SweepExpiresRequestsWhoseTimerWasLost(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		b.settings.SetAutoApprove(false)
		s1, s2 := b.start(t), b.start(t)
		e1, _, err := b.request(t, s1)
		require.NoError(t, err)
		b.clock.Advance(10 * time.Second)
		e2, _, err := b.request(t, s2)
		require.NoError(t, err)
		require.NoError(t, b.svc.Stop(ctxT(t))) // a restart: the in-process timers are gone

		b.clock.Advance(15 * time.Second)
		restarted := b.instance(t)
		n, err := restarted.SweepExpired(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, extension.StatusExpired, b.get(t, e1.ID).Status)
		require.Equal(t, extension.StatusRequested, b.get(t, e2.ID).Status)

		b.clock.Advance(10 * time.Second)
		n, err = restarted.SweepExpired(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, extension.StatusExpired, b.get(t, e2.ID).Status)
		n, err = restarted.SweepExpired(ctxT(t))
		require.NoError(t, err)
		require.Zero(t, n)
		require.Len(t, eventsOf(b.notes, extension.EventExtensionExpired), 2)
	})
}

func TestManual_RejectionStoresTheReasonAndTellsTheClient(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		b.settings.SetAutoApprove(false)
		s := b.start(t)
		e, _, err := b.request(t, s)
		require.NoError(t, err)

		b.clock.Advance(3 * time.Second)
		rejected, err := b.svc.Reject(ctxT(t), s.MitraID, e.ID, "")
		require.NoError(t, err)
		require.Equal(t, extension.StatusRejected, rejected.Status)
		require.Equal(t, extension.DecidedByMitra, rejected.DecidedBy)
		require.Equal(t, extension.RejectMitraDeclined, rejected.RejectReason)
		require.Equal(t, t0.Add(3*time.Second), *rejected.DecidedAt)
		require.Equal(t, rejected, b.get(t, e.ID))
		told := eventsOf(b.notes, extension.EventExtensionRejected)
		require.Len(t, told, 1)
		require.Equal(t, s.ClientID, *told[0].ClientID)
		require.Empty(t, b.gateway.Charges())

		b.clock.Advance(time.Minute)
		require.Empty(t, eventsOf(b.notes, extension.EventExtensionExpired), "the deadline timer was disarmed")

		e2, _, err := b.request(t, s)
		require.NoError(t, err)
		rejected, err = b.svc.Reject(ctxT(t), s.MitraID, e2.ID, "need a break")
		require.NoError(t, err)
		require.Equal(t, "need a break", rejected.RejectReason)
	})
}

func TestManual_OnlyTheSessionsMitraMayDecide(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		b.settings.SetAutoApprove(false)
		s := b.start(t)
		other := b.start(t)
		e, _, err := b.request(t, s)
		require.NoError(t, err)

		for _, who := range []uuid.UUID{other.MitraID, s.ClientID, uuid.New()} {
			_, _, err = b.svc.Approve(ctxT(t), who, e.ID)
			require.ErrorIs(t, err, extension.ErrNotFound)
			_, err = b.svc.Reject(ctxT(t), who, e.ID, "")
			require.ErrorIs(t, err, extension.ErrNotFound)
		}
		_, _, err = b.svc.Approve(ctxT(t), s.MitraID, uuid.New())
		require.ErrorIs(t, err, extension.ErrNotFound)
		require.Equal(t, extension.StatusRequested, b.get(t, e.ID).Status)
		require.Empty(t, b.gateway.Charges())

		_, _, err = b.svc.Approve(ctxT(t), s.MitraID, e.ID)
		require.NoError(t, err)
	})
}

func TestManual_ApprovalAfterTheSessionEndedExpiresTheRequest(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		b.settings.SetAutoApprove(false)
		s := b.start(t)
		e, _, err := b.request(t, s)
		require.NoError(t, err)
		b.facts.endSession(t, s.ID)
		_, _, err = b.svc.Approve(ctxT(t), s.MitraID, e.ID)
		require.ErrorIs(t, err, extension.ErrInvalidState)
		require.Equal(t, extension.StatusExpired, b.get(t, e.ID).Status)
		require.Empty(t, b.gateway.Charges())
	})
}

func TestManual_AutoApprovedExtensionCannotBeDecidedByTheMitra(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		e, _, err := b.request(t, s)
		require.NoError(t, err)
		_, _, err = b.svc.Approve(ctxT(t), s.MitraID, e.ID)
		require.ErrorIs(t, err, extension.ErrInvalidState)
		_, err = b.svc.Reject(ctxT(t), s.MitraID, e.ID, "")
		require.ErrorIs(t, err, extension.ErrInvalidState)
		require.Len(t, b.gateway.Charges(), 1)
	})
}

func TestPaid_ExtendsTheSessionAndMovesItsTimer(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		e, pay, err := b.request(t, s)
		require.NoError(t, err)
		b.clock.Advance(2 * time.Minute)

		paid, err := b.payments.MarkPaid(ctxT(t), pay.ID, pay.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusPaid, paid.Status)

		got := b.get(t, e.ID)
		require.Equal(t, extension.StatusPaid, got.Status)
		require.Equal(t, pay.ID, *got.PaymentSessionID)
		newEnd := s.EndsAt.Add(tierMinutes * time.Minute)
		now := b.facts.session(t, s.ID)
		require.Equal(t, newEnd, *now.EndsAt)
		require.Equal(t, 30+tierMinutes, now.Minutes)
		require.Equal(t, []extensiontest.Extended{{ChatSessionID: s.ID, EndsAt: newEnd, Minutes: 30 + tierMinutes}},
			b.facts.sessions().ExtendedCalls(), "the expiry timer moves to the new end")

		ext := eventsOf(b.notes, extension.EventSessionExtended)
		require.Len(t, ext, 1)
		require.Equal(t, s.ClientID, *ext[0].ClientID)
		require.Equal(t, s.MitraID, *ext[0].MitraID)
		require.Equal(t, newEnd, ext[0].Payload.(extension.SessionExtendedEvent).EndsAt)
		require.Equal(t, 30+tierMinutes, ext[0].Payload.(extension.SessionExtendedEvent).TotalMinutes)

		// A duplicate webhook and an operator's redelivery change nothing.
		_, err = b.payments.MarkPaid(ctxT(t), pay.ID, pay.ProviderRef)
		require.NoError(t, err)
		_, err = b.payments.Redeliver(ctxT(t), pay.ID)
		require.NoError(t, err)
		require.Equal(t, 30+tierMinutes, b.facts.session(t, s.ID).Minutes)
		require.Len(t, b.facts.sessions().ExtendedCalls(), 1)
		require.Len(t, eventsOf(b.notes, extension.EventSessionExtended), 1)
		require.Empty(t, b.gateway.Refunds())

		// The slot is free again: a second extension stacks on the first.
		_, pay2, err := b.request(t, s)
		require.NoError(t, err)
		_, err = b.payments.MarkPaid(ctxT(t), pay2.ID, pay2.ProviderRef)
		require.NoError(t, err)
		now = b.facts.session(t, s.ID)
		require.Equal(t, newEnd.Add(tierMinutes*time.Minute), *now.EndsAt)
		require.Equal(t, 30+2*tierMinutes, now.Minutes)
	})
}

func TestPaid_AfterTheSessionEndedIsRefunded(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		e, pay, err := b.request(t, s)
		require.NoError(t, err)
		b.facts.endSession(t, s.ID)

		_, err = b.payments.MarkPaid(ctxT(t), pay.ID, pay.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, b.payment(t, pay.ID).Status)
		require.Equal(t, 1, b.gateway.RefundsFor(pay.ID))

		require.Equal(t, extension.StatusExpired, b.get(t, e.ID).Status)
		ended := b.facts.session(t, s.ID)
		require.Equal(t, 30, ended.Minutes, "the ended session does not grow")
		require.Equal(t, *s.EndsAt, *ended.EndsAt)
		require.Empty(t, b.facts.sessions().ExtendedCalls())
		require.Empty(t, eventsOf(b.notes, extension.EventSessionExtended))
		expired := eventsOf(b.notes, extension.EventExtensionExpired)
		require.Len(t, expired, 1)
		require.Equal(t, "session_ended", expired[0].Payload.(extension.ExtensionExpiredEvent).Reason)

		_, err = b.payments.Redeliver(ctxT(t), pay.ID)
		require.NoError(t, err)
		require.Equal(t, 1, b.gateway.RefundsFor(pay.ID), "refunded once")
	})
}

func TestPaid_AfterTheSessionsEndIsRefundedBeforeItsExpiryRuns(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		b.clock.Advance(29 * time.Minute)
		e, pay, err := b.request(t, s)
		require.NoError(t, err)
		// The 30 minutes are over; the session's expiry has not ended it yet.
		b.clock.Advance(time.Minute)
		require.Equal(t, pairing.SessionActive, b.facts.session(t, s.ID).Status)

		_, err = b.payments.MarkPaid(ctxT(t), pay.ID, pay.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, b.payment(t, pay.ID).Status)
		require.Equal(t, 1, b.gateway.RefundsFor(pay.ID))
		require.Equal(t, extension.StatusExpired, b.get(t, e.ID).Status)
		over := b.facts.session(t, s.ID)
		require.Equal(t, 30, over.Minutes, "the session is not extended")
		require.Equal(t, *s.EndsAt, *over.EndsAt)
		require.Empty(t, b.facts.sessions().ExtendedCalls())
		require.Empty(t, eventsOf(b.notes, extension.EventSessionExtended))
		expired := eventsOf(b.notes, extension.EventExtensionExpired)
		require.Len(t, expired, 1)
		require.Equal(t, "session_ended", expired[0].Payload.(extension.ExtensionExpiredEvent).Reason)
	})
}

func TestPaid_ForAnExtensionNoLongerWaitingIsRefunded(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		e, pay, err := b.request(t, s)
		require.NoError(t, err)
		// The extension expired (say the payment was reported failed by one path) while the
		// provider still confirmed it through another: the handler is called directly.
		_, _, err = b.store.Transition(ctxT(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusExpired,
		})
		require.NoError(t, err)
		_, err = b.payments.MarkPaid(ctxT(t), pay.ID, pay.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, b.payment(t, pay.ID).Status)
		require.Equal(t, 30, b.facts.session(t, s.ID).Minutes)
	})
}

func TestPaymentClosed_ExpiresTheApprovedExtension(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		e, pay, err := b.request(t, s)
		require.NoError(t, err)

		b.clock.Advance(payment.DefaultTTL)
		rep, err := b.payments.ExpireStale(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, 1, rep.Expired)
		require.Equal(t, extension.StatusExpired, b.get(t, e.ID).Status)
		expired := eventsOf(b.notes, extension.EventExtensionExpired)
		require.Len(t, expired, 1)
		require.Equal(t, "payment_expired", expired[0].Payload.(extension.ExtensionExpiredEvent).Reason)
		require.Nil(t, expired[0].MitraID)

		// A late payment is refunded by the payment side and extends nothing.
		_, err = b.payments.MarkPaid(ctxT(t), pay.ID, pay.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, b.payment(t, pay.ID).Status)
		require.Equal(t, 30, b.facts.session(t, s.ID).Minutes)

		// The client may ask again.
		_, _, err = b.request(t, s)
		require.NoError(t, err)
	})
}

func TestPaymentClosed_FailedPaymentExpiresTheExtension(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		e, pay, err := b.request(t, s)
		require.NoError(t, err)
		_, err = b.payments.MarkFailed(ctxT(t), pay.ID, pay.ProviderRef)
		require.NoError(t, err)
		require.Equal(t, extension.StatusExpired, b.get(t, e.ID).Status)
	})
}

func TestSweep_ExpiresAnApprovalThatNeverGotItsPayment(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		// What a crash between approving and charging leaves behind.
		now := b.clock.Now()
		orphan, err := b.store.Insert(ctxT(t), extension.Extension{
			ID: uuid.New(), ChatSessionID: s.ID, TierID: b.tier.ID, Minutes: tierMinutes, Amount: tierPrice,
			Status: extension.StatusApproved, DecidedBy: extension.DecidedByAuto, CreatedAt: now, DecidedAt: &now,
		})
		require.NoError(t, err)
		_, _, err = b.request(t, s)
		require.ErrorIs(t, err, extension.ErrInvalidState)

		b.clock.Advance(extension.DefaultOrphanTTL - time.Second)
		n, err := b.svc.SweepExpired(ctxT(t))
		require.NoError(t, err)
		require.Zero(t, n)
		b.clock.Advance(time.Second)
		n, err = b.svc.SweepExpired(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, extension.StatusExpired, b.get(t, orphan.ID).Status)
		expired := eventsOf(b.notes, extension.EventExtensionExpired)
		require.Len(t, expired, 1)
		require.Equal(t, "charge_missing", expired[0].Payload.(extension.ExtensionExpiredEvent).Reason)

		_, _, err = b.request(t, s)
		require.NoError(t, err)
	})
}

func TestService_ListsAndGetsExtensions(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b *bundle) {
		s := b.start(t)
		b.reach.Set(s.MitraID, false)
		rejected, _, err := b.request(t, s)
		require.ErrorIs(t, err, extension.ErrMitraUnavailable)
		b.clock.Advance(time.Second)
		b.reach.Set(s.MitraID, true)
		approved, _, err := b.request(t, s)
		require.NoError(t, err)

		all, err := b.svc.ListForSession(ctxT(t), s.ID)
		require.NoError(t, err)
		require.Equal(t, []extension.Extension{rejected, approved}, all)
		_, err = b.svc.Get(ctxT(t), uuid.New())
		require.ErrorIs(t, err, extension.ErrNotFound)
	})
}

func TestNewService_RefusesAMissingDependencyOrABadConfigByName(t *testing.T) {
	t.Parallel()
	payments, err := payment.NewService(payment.NewMemoryStore(), payment.NewFakeGateway(), nil)
	require.NoError(t, err)
	prices, err := pricing.NewPricingStore(pricing.NewMemoryStore(), nil)
	require.NoError(t, err)
	full := extension.Deps{
		Sessions: extensiontest.NewSessions(), Reachability: extensiontest.NewReachability(),
		Payments: payments, Quoter: prices,
	}
	svc, err := extension.NewService(extension.NewMemoryStore(), full, nil)
	require.NoError(t, err)
	require.NoError(t, svc.Stop(context.Background()))
	require.NoError(t, svc.Stop(context.Background()), "Stop is idempotent")
	for field, drop := range map[string]func(*extension.Deps){
		"Deps.Sessions":     func(d *extension.Deps) { d.Sessions = nil },
		"Deps.Reachability": func(d *extension.Deps) { d.Reachability = nil },
		"Deps.Payments":     func(d *extension.Deps) { d.Payments = nil },
		"Deps.Quoter":       func(d *extension.Deps) { d.Quoter = nil },
	} {
		d := full
		drop(&d)
		_, err := extension.NewService(extension.NewMemoryStore(), d, nil)
		requireInvalid(t, err, field)
	}
	_, err = extension.NewService(nil, full, nil)
	requireInvalid(t, err, "store")
	for field, cfg := range map[string]*extension.Config{
		"Config.OrphanTTL":    {OrphanTTL: -time.Second},
		"Config.SweepBatch":   {SweepBatch: -1},
		"Config.TimerTimeout": {TimerTimeout: -time.Second},
	} {
		_, err := extension.NewService(extension.NewMemoryStore(), full, cfg)
		requireInvalid(t, err, field)
	}
}

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ve *core.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field)
}
