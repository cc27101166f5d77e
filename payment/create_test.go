package payment_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/payment"
)

func TestCreate_FreezesAmountsAndChargesOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		p := e.params(payment.PurposeChatStart)
		p.BaseAmount, p.DiscountAmount, p.Amount = 50000, 12500, 37500
		sess, replayed, err := r.svc.Create(context.Background(), p)
		require.NoError(t, err)
		require.False(t, replayed)

		require.Equal(t, payment.StatusPending, sess.Status)
		require.Equal(t, int64(50000), sess.BaseAmount)
		require.Equal(t, int64(12500), sess.DiscountAmount)
		require.Equal(t, int64(37500), sess.Amount)
		require.Equal(t, t0, sess.CreatedAt)
		require.Equal(t, t0.Add(payment.DefaultTTL), sess.ExpiresAt, "no TTL source: the default")
		require.Nil(t, sess.PaidAt)
		require.Equal(t, "fake_ch_"+sess.ID.String(), sess.ProviderRef)
		require.Equal(t, payment.FakeCheckoutBaseURL+sess.ID.String(), sess.CheckoutURL)

		charges := r.gw.Charges()
		require.Len(t, charges, 1)
		require.Equal(t, payment.ChargeRequest{PaymentID: sess.ID, ClientID: p.ClientID, Amount: 37500, Currency: "IDR",
			ExpiresAt: sess.ExpiresAt}, charges[0], "the invoice's duration: until the payment expires")

		got, err := r.svc.Get(context.Background(), sess.ID)
		require.NoError(t, err)
		require.Equal(t, sess, got)
	})
}

func TestCreate_ExpiresAfterTheConfiguredTTL(t *testing.T) {
	t.Parallel()
	r := newRig(t, openMemory(t))
	ttl := 90 * time.Second
	svc, err := payment.NewService(r.store, r.gw, &payment.Config{
		Clock: r.clock,
		TTL:   func(context.Context) time.Duration { return ttl },
	})
	require.NoError(t, err)
	sess, _, err := svc.Create(context.Background(), r.params(payment.PurposeChatStart))
	require.NoError(t, err)
	require.Equal(t, t0.Add(90*time.Second), sess.ExpiresAt)

	ttl = 0 // an unusable setting falls back to the default
	sess, _, err = svc.Create(context.Background(), r.params(payment.PurposeChatStart))
	require.NoError(t, err)
	require.Equal(t, t0.Add(payment.DefaultTTL), sess.ExpiresAt)
}

func TestCreate_FreeSessionIsPaidAtOnceWithoutTheGateway(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		p := e.params(payment.PurposeChatStart)
		p.BaseAmount, p.DiscountAmount, p.Amount = 50000, 50000, 0
		sess, replayed, err := r.svc.Create(context.Background(), p)
		require.NoError(t, err)
		require.False(t, replayed)
		require.Equal(t, payment.StatusPaid, sess.Status)
		require.Equal(t, t0, *sess.PaidAt)
		require.Empty(t, sess.ProviderRef)
		require.Empty(t, sess.CheckoutURL)
		require.Empty(t, r.gw.Charges())
		require.Zero(t, r.handler.paidCalls(sess.ID), "Create leaves the next step to its caller")

		has, err := r.svc.HasPaidChatStart(context.Background(), p.ClientID)
		require.NoError(t, err)
		require.True(t, has)

		// Refunding a free session moves no money.
		refunded, err := r.svc.Refund(context.Background(), sess.ID, "test")
		require.NoError(t, err)
		require.Equal(t, payment.StatusRefunded, refunded.Status)
		require.Empty(t, r.gw.Refunds())
	})
}

func TestCreate_RetriedWithTheSameKeyReturnsTheFirstSession(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		p := e.params(payment.PurposeChatStart)
		p.IdempotencyKey = "start-1"
		first, replayed, err := r.svc.Create(ctx, p)
		require.NoError(t, err)
		require.False(t, replayed)

		r.clock.Advance(time.Minute)
		p.BaseAmount, p.Amount = 60000, 60000 // the price changed meanwhile: the key still names the first request
		again, replayed, err := r.svc.Create(ctx, p)
		require.NoError(t, err)
		require.True(t, replayed)
		require.Equal(t, first, again)
		require.Len(t, r.gw.Charges(), 1)

		found, err := r.svc.FindByIdempotencyKey(ctx, p.ClientID, "start-1")
		require.NoError(t, err)
		require.Equal(t, first, found)

		// The same key from another client is another request.
		other := e.params(payment.PurposeChatStart)
		other.IdempotencyKey = "start-1"
		otherSess, replayed, err := r.svc.Create(ctx, other)
		require.NoError(t, err)
		require.False(t, replayed)
		require.NotEqual(t, first.ID, otherSess.ID)
		require.Len(t, r.gw.Charges(), 2)
	})
}

func TestCreate_ConcurrentIdenticalRequestsChargeOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		p := e.params(payment.PurposeChatStart)
		p.IdempotencyKey = "double-tap"
		var (
			mu       sync.Mutex
			sessions []payment.Session
			replays  int
		)
		parallel(20, func(int) {
			sess, replayed, err := r.svc.Create(context.Background(), p)
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			sessions = append(sessions, sess)
			if replayed {
				replays++
			}
		})
		require.Equal(t, 1, e.count())
		require.Len(t, r.gw.Charges(), 1)
		require.Equal(t, 19, replays)
		for _, s := range sessions {
			require.Equal(t, sessions[0].ID, s.ID)
			require.NotEmpty(t, s.CheckoutURL, "a replay waits for the first request's charge")
		}
	})
}

// blockingGateway holds CreateCharge until release is closed.
type blockingGateway struct {
	*payment.FakeGateway
	entered chan struct{}
	release chan struct{}
}

func (g *blockingGateway) CreateCharge(ctx context.Context, req payment.ChargeRequest) (payment.Charge, error) {
	close(g.entered)
	<-g.release
	return g.FakeGateway.CreateCharge(ctx, req)
}

func TestCreate_ReplayWaitsForTheFirstChargeThenGivesUp(t *testing.T) {
	t.Parallel()
	store := payment.NewMemoryStore()
	gw := &blockingGateway{FakeGateway: payment.NewFakeGateway(), entered: make(chan struct{}), release: make(chan struct{})}
	e := openMemory(t)
	p := e.params(payment.PurposeChatStart)
	p.IdempotencyKey = "slow"

	impatient, err := payment.NewService(store, gw, &payment.Config{ReplayWait: 20 * time.Millisecond})
	require.NoError(t, err)
	patient, err := payment.NewService(store, gw, nil)
	require.NoError(t, err)

	firstDone := make(chan payment.Session)
	go func() {
		sess, _, err := patient.Create(context.Background(), p)
		require.NoError(t, err)
		firstDone <- sess
	}()
	<-gw.entered

	_, _, err = impatient.Create(context.Background(), p)
	require.ErrorIs(t, err, payment.ErrConflict, "the first request is still charging")

	replayDone := make(chan payment.Session)
	go func() {
		sess, replayed, err := patient.Create(context.Background(), p)
		require.NoError(t, err)
		require.True(t, replayed)
		replayDone <- sess
	}()
	close(gw.release)
	first, replay := <-firstDone, <-replayDone
	require.Equal(t, first, replay)
	require.NotEmpty(t, replay.CheckoutURL)
	require.Len(t, gw.Charges(), 1)
}

func TestCreate_GatewayOutageMarksTheSessionFailedAndReleasesTheKey(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		p := e.params(payment.PurposeChatStart)
		p.IdempotencyKey = "flaky"
		r.gw.FailChargesWith(payment.ErrFakeChargeUnreachable)
		failed, _, err := r.svc.Create(ctx, p)
		require.ErrorIs(t, err, payment.ErrUnavailable)
		require.ErrorIs(t, err, payment.ErrFakeChargeUnreachable)
		require.NotErrorIs(t, err, payment.ErrPaymentDeclined)
		require.Equal(t, payment.StatusFailed, failed.Status, "never payable without a provider reference")
		require.Zero(t, r.handler.closedCalls(failed.ID), "the caller learns it from the error")

		stored, err := r.svc.Get(ctx, failed.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusFailed, stored.Status)
		require.Empty(t, stored.IdempotencyKey)

		r.gw.FailChargesWith(nil)
		retry, replayed, err := r.svc.Create(ctx, p)
		require.NoError(t, err)
		require.False(t, replayed, "the retry starts afresh")
		require.NotEqual(t, failed.ID, retry.ID)
		require.Equal(t, payment.StatusPending, retry.Status)
		require.NotEmpty(t, retry.CheckoutURL)
	})
}

// A decline is the provider's final answer about this request, not an outage: the session
// fails, the key stays on it, and a retry with the same key gets the same decline — even
// once the provider would accept — without a second charge attempt. A new key is a new
// attempt.
func TestCreate_DeclinedChargeWrapsErrPaymentDeclinedAndKeepsTheKey(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		p := e.params(payment.PurposeChatStart)
		p.IdempotencyKey = "card-1"
		r.gw.FailCharges(true)
		declined, replayed, err := r.svc.Create(ctx, p)
		require.ErrorIs(t, err, payment.ErrPaymentDeclined)
		require.ErrorIs(t, err, payment.ErrFakeChargeDeclined)
		require.NotErrorIs(t, err, payment.ErrUnavailable, "a decline is not an outage")
		require.False(t, replayed)
		require.Equal(t, payment.StatusFailed, declined.Status)
		require.Zero(t, r.handler.closedCalls(declined.ID), "the caller learns it from the error")

		stored, err := r.svc.FindByIdempotencyKey(ctx, p.ClientID, p.IdempotencyKey)
		require.NoError(t, err, "the key stays mapped to the declined session")
		require.Equal(t, declined.ID, stored.ID)
		require.Equal(t, payment.StatusFailed, stored.Status)

		r.gw.FailCharges(false)
		again, replayed, err := r.svc.Create(ctx, p)
		require.ErrorIs(t, err, payment.ErrPaymentDeclined, "the same key replays the decline")
		require.NotErrorIs(t, err, payment.ErrUnavailable)
		require.True(t, replayed)
		require.Equal(t, declined.ID, again.ID)
		require.Empty(t, r.gw.Charges(), "a replay never asks the provider again")

		p.IdempotencyKey = "card-2"
		fresh, replayed, err := r.svc.Create(ctx, p)
		require.NoError(t, err, "a new key is a new attempt")
		require.False(t, replayed)
		require.NotEqual(t, declined.ID, fresh.ID)
		require.Equal(t, payment.StatusPending, fresh.Status)
		require.Len(t, r.gw.Charges(), 1)
	})
}

func TestCreate_RejectsBadInput(t *testing.T) {
	t.Parallel()
	r := newRig(t, openMemory(t))
	valid := r.params(payment.PurposeChatStart)
	tests := []struct {
		name  string
		field string
		edit  func(p *payment.CreateParams)
	}{
		{"no client", "client_id", func(p *payment.CreateParams) { p.ClientID = uuid.Nil }},
		{"unknown purpose", "purpose", func(p *payment.CreateParams) { p.Purpose = "gift" }},
		{"chat start without pairing", "pairing_id", func(p *payment.CreateParams) { p.PairingID = nil }},
		{"extension without extension", "extension_id", func(p *payment.CreateParams) { p.Purpose = payment.PurposeExtension }},
		{"no tier", "tier_id", func(p *payment.CreateParams) { p.TierID = uuid.Nil }},
		{"zero minutes", "minutes", func(p *payment.CreateParams) { p.Minutes = 0 }},
		{"negative base", "base_amount", func(p *payment.CreateParams) { p.BaseAmount, p.Amount = -1, -1 }},
		{"negative discount", "discount_amount", func(p *payment.CreateParams) { p.DiscountAmount, p.Amount = -1, 50001 }},
		{"amount mismatch", "amount", func(p *payment.CreateParams) { p.Amount = 1 }},
		{"discount above base", "discount_amount", func(p *payment.CreateParams) { p.DiscountAmount, p.Amount = 60000, -10000 }},
		{"no currency", "currency", func(p *payment.CreateParams) { p.Currency = "" }},
		{"huge key", "idempotency_key", func(p *payment.CreateParams) { p.IdempotencyKey = strings.Repeat("k", 201) }},
		{"key with NUL", "idempotency_key", func(p *payment.CreateParams) { p.IdempotencyKey = "a\x00b" }},
		{"key not UTF-8", "idempotency_key", func(p *payment.CreateParams) { p.IdempotencyKey = "\xff" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid
			tt.edit(&p)
			_, _, err := r.svc.Create(context.Background(), p)
			var verr *core.ValidationError
			require.True(t, errors.As(err, &verr), "got %v", err)
			require.Equal(t, tt.field, verr.Field)
		})
	}
	require.Zero(t, r.store.(*payment.MemoryStore).Len())
	require.Empty(t, r.gw.Charges())
}

func TestCreate_KeyOfTheOtherPurposeIsAConflict(t *testing.T) {
	t.Parallel()
	r := newRig(t, openMemory(t))
	chat := r.params(payment.PurposeChatStart)
	chat.IdempotencyKey = "k"
	_, _, err := r.svc.Create(context.Background(), chat)
	require.NoError(t, err)

	ext := r.params(payment.PurposeExtension)
	ext.ClientID, ext.IdempotencyKey = chat.ClientID, "k"
	_, _, err = r.svc.Create(context.Background(), ext)
	require.ErrorIs(t, err, payment.ErrConflict)
	require.Len(t, r.gw.Charges(), 1)
}
