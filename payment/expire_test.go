package payment_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/payment"
)

func TestExpireStale_ExpiresOnlyOverdueSessionsAndReleasesEachOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		ctx := context.Background()
		early := r.create(t)
		r.clock.Advance(5 * time.Minute)
		late := r.create(t)
		paid := r.create(t)
		_, err := r.svc.MarkPaid(ctx, paid.ID, "")
		require.NoError(t, err)

		rep, err := r.svc.ExpireStale(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Expired, "nothing is due yet")

		r.clock.Advance(payment.DefaultTTL - 5*time.Minute) // early's expires_at
		rep, err = r.svc.ExpireStale(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Expired)
		require.Equal(t, 1, r.handler.closedCalls(early.ID))
		require.Zero(t, r.handler.closedCalls(late.ID))

		r.clock.Advance(5 * time.Minute)
		rep, err = r.svc.ExpireStale(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Expired)
		require.Equal(t, 1, r.handler.closedCalls(late.ID))

		rep, err = r.svc.ExpireStale(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Expired)
		require.Equal(t, 2, r.handler.totalClosed())

		for _, id := range []uuid.UUID{early.ID, late.ID} {
			got, err := r.svc.Get(ctx, id)
			require.NoError(t, err)
			require.Equal(t, payment.StatusExpired, got.Status)
		}
		got, err := r.svc.Get(ctx, paid.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusPaid, got.Status)
	})
}

func TestExpireStale_TwoInstancesRacingReleaseEachSessionOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, e *env) {
		r := newRig(t, e)
		const n = 25
		ids := make([]uuid.UUID, n)
		for i := range ids {
			ids[i] = r.create(t).ID
		}
		r.clock.Advance(time.Hour)

		instances := make([]*payment.Service, 2)
		for i := range instances {
			var err error
			instances[i], err = payment.NewService(e.sameData(), r.gw, &payment.Config{Clock: r.clock, ExpireBatchSize: 4})
			require.NoError(t, err)
			instances[i].SetHandler(payment.PurposeChatStart, r.handler)
		}
		var (
			mu    sync.Mutex
			total int
		)
		parallel(4, func(i int) {
			rep, err := instances[i%2].ExpireStale(context.Background())
			require.NoError(t, err)
			mu.Lock()
			total += rep.Expired
			mu.Unlock()
		})
		require.Equal(t, n, total)
		for _, id := range ids {
			require.Equal(t, 1, r.handler.closedCalls(id), "session %s", id)
		}
	})
}

// failingCloser fails PaymentClosed for one session.
type failingCloser struct {
	*recorder
	fail uuid.UUID
}

func (h failingCloser) PaymentClosed(ctx context.Context, s payment.Session) error {
	if s.ID == h.fail {
		return errors.New("pairing store down")
	}
	return h.recorder.PaymentClosed(ctx, s)
}

func TestExpireStale_HandlerFailureIsCountedAndTheRestStillRun(t *testing.T) {
	t.Parallel()
	r := newRig(t, openMemory(t))
	ctx := context.Background()
	bad, good := r.create(t), r.create(t)
	r.svc.SetHandler(payment.PurposeChatStart, failingCloser{recorder: r.handler, fail: bad.ID})
	r.clock.Advance(time.Hour)

	rep, err := r.svc.ExpireStale(ctx)
	require.Error(t, err)
	require.Equal(t, 2, rep.Expired)
	require.Equal(t, 1, rep.HandlerErrors)
	require.Equal(t, 1, r.handler.closedCalls(good.ID))

	r.svc.SetHandler(payment.PurposeChatStart, r.handler)
	_, err = r.svc.Redeliver(ctx, bad.ID)
	require.NoError(t, err)
	require.Equal(t, 1, r.handler.closedCalls(bad.ID))
}

func TestExpireStale_WithoutHandlerOnlyUpdatesRows(t *testing.T) {
	t.Parallel()
	store := payment.NewMemoryStore()
	r := newRig(t, openMemory(t))
	svc, err := payment.NewService(store, r.gw, &payment.Config{Clock: r.clock})
	require.NoError(t, err)
	sess, _, err := svc.Create(context.Background(), r.params(payment.PurposeExtension))
	require.NoError(t, err)
	r.clock.Advance(time.Hour)
	rep, err := svc.ExpireStale(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, rep.Expired)
	got, err := svc.Get(context.Background(), sess.ID)
	require.NoError(t, err)
	require.Equal(t, payment.StatusExpired, got.Status)
}
