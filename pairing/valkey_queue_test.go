package pairing_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// eachValkey runs f on the shared Valkey and on the private Redis Cluster (hash-tagged
// names).
func eachValkey(t *testing.T, f func(t *testing.T, v *testenv.Valkey)) {
	for _, cluster := range []bool{false, true} {
		name := "valkey"
		if cluster {
			name = "valkey_cluster"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if cluster {
				f(t, testenv.StartCluster(t).NewValkey(t))
				return
			}
			f(t, testenv.NewValkey(t))
		})
	}
}

func TestValkeyQueueIndex_OrdersAsTheStoreAndAnswersOnlyOnceBuilt(t *testing.T) {
	t.Parallel()
	eachValkey(t, func(t *testing.T, v *testenv.Valkey) {
		ctx := context.Background()
		x := pairing.NewValkeyQueueIndex(v.Client, pairing.ValkeyQueueConfig{Names: v.Names(), ChunkSize: 2})
		_, err := x.Length(ctx)
		require.ErrorIs(t, err, pairing.ErrQueueIndexNotBuilt)
		_, err = x.Position(ctx, uuid.New())
		require.ErrorIs(t, err, pairing.ErrQueueIndexNotBuilt)

		a, b := uuid.New(), uuid.New()
		if slices.Compare(a[:], b[:]) > 0 {
			a, b = b, a
		}
		early, late := uuid.New(), uuid.New()
		at := t0.Add(123456 * time.Microsecond)
		require.NoError(t, x.Replace(ctx, []pairing.QueueEntry{
			{ID: early, Queued: true, PaidAt: at.Add(-time.Second)},
			{ID: a, Queued: true, PaidAt: at}, {ID: b, Queued: true, PaidAt: at},
			{ID: late, Queued: true, PaidAt: at.Add(time.Microsecond)},
		}))
		for i, id := range []uuid.UUID{early, a, b, late} {
			pos, err := x.Position(ctx, id)
			require.NoError(t, err)
			require.Equal(t, i+1, pos, "paid first, then the smaller id, to the microsecond")
		}
		n, err := x.Length(ctx)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		_, err = x.Position(ctx, uuid.New())
		require.ErrorIs(t, err, pairing.ErrNotFound)

		require.NoError(t, x.Apply(ctx, []pairing.QueueEntry{{ID: early}, {ID: uuid.New(), Queued: true, PaidAt: at.Add(time.Hour)}}))
		pos, err := x.Position(ctx, late)
		require.NoError(t, err)
		require.Equal(t, 3, pos)
		n, err = x.Length(ctx)
		require.NoError(t, err)
		require.Equal(t, 4, n)

		require.NoError(t, x.Replace(ctx, nil))
		n, err = x.Length(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "an empty rebuild empties the index")
		require.NoError(t, x.Invalidate(ctx))
		_, err = x.Length(ctx)
		require.ErrorIs(t, err, pairing.ErrQueueIndexNotBuilt)
	})
}

// countingIndex counts the reads the index answered.
type countingIndex struct {
	pairing.QueueIndex
	answered atomic.Int64
}

func (c *countingIndex) Position(ctx context.Context, id uuid.UUID) (int, error) {
	n, err := c.QueueIndex.Position(ctx, id)
	if err == nil {
		c.answered.Add(1)
	}
	return n, err
}

func TestQueueIndex_PositionsComeFromTheIndexWhichIsRebuiltWhenLost(t *testing.T) {
	t.Parallel()
	eachValkey(t, func(t *testing.T, v *testenv.Valkey) {
		ctx := context.Background()
		e := newEnv(t, backends[1], policies(pairingtest.Settings{Queue: true}))
		idx := &countingIndex{QueueIndex: pairing.NewValkeyQueueIndex(v.Client, pairing.ValkeyQueueConfig{Names: v.Names()})}
		p, err := pairing.NewPairer(e.store, pairing.Deps{
			Availability: e.avail, Payments: recordingPayments{e.payments, e.fx}, Quoter: e.quoter, Settings: e.settings,
			Notifier: e.notifier, QueueIndex: idx,
		}, &e.cfg)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, p.Stop(context.Background())) })
		e.p = p
		e.payments.SetHandler(p)
		require.NoError(t, p.RebuildQueueIndex(ctx))

		var queued []pairing.Pairing
		for range 3 {
			pr, _ := e.paidBlast(t, 10)
			queued = append(queued, pr)
			e.clock.Advance(time.Second)
		}
		for i, pr := range queued {
			require.Equal(t, i+1, e.queueStatus(t, pr.ID).Position)
		}
		require.EqualValues(t, 3, idx.answered.Load(), "every position from the index")

		_, err = p.Cancel(ctx, queued[0].ClientID, queued[0].ID)
		require.NoError(t, err)
		require.Equal(t, 1, e.queueStatus(t, queued[1].ID).Position, "a cancellation reaches the index")
		require.EqualValues(t, 4, idx.answered.Load())

		// Valkey loses the index: the store answers, the sweep rebuilds it.
		require.NoError(t, v.Client.Do(ctx, v.Client.B().Del().Key(v.Names().Key("pairings:queue_built")).Build()).Error())
		require.Equal(t, 2, e.queueStatus(t, queued[2].ID).Position)
		require.EqualValues(t, 4, idx.answered.Load(), "answered by the store")
		_, err = p.SweepTimeouts(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, e.queueStatus(t, queued[2].ID).Position)
		require.EqualValues(t, 5, idx.answered.Load(), "rebuilt by the sweep")
		n, err := p.QueueLength(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
	})
}

// A Valkey that stops answering costs the queue nothing but speed: positions and the
// length come from the Store, transitions go through, and the index is rebuilt once
// Valkey is back.
func TestQueueIndex_ValkeyDownFallsBackToTheStoreAndIsRebuiltWhenBack(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	client, err := valkeyutil.NewClient(valkeyutil.Options{URL: srv.URL(), DialTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(client.Close)
	ctx := context.Background()
	e := newEnv(t, backends[1], policies(pairingtest.Settings{Queue: true}))
	idx := &countingIndex{QueueIndex: pairing.NewValkeyQueueIndex(client, pairing.ValkeyQueueConfig{Timeout: 200 * time.Millisecond})}
	p, err := pairing.NewPairer(e.store, pairing.Deps{
		Availability: e.avail, Payments: recordingPayments{e.payments, e.fx}, Quoter: e.quoter, Settings: e.settings,
		Notifier: e.notifier, QueueIndex: idx,
	}, &e.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Stop(context.Background())) })
	e.p = p
	e.payments.SetHandler(p)
	require.NoError(t, p.RebuildQueueIndex(ctx))
	first, _ := e.paidBlast(t, 10)
	require.Equal(t, 1, e.queueStatus(t, first.ID).Position)
	require.EqualValues(t, 1, idx.answered.Load())

	require.NoError(t, srv.Stop())
	e.clock.Advance(time.Second)
	second, _ := e.paidBlast(t, 10)
	require.Equal(t, pairing.StatusQueued, second.Status, "queued while Valkey is down")
	require.Equal(t, 2, e.queueStatus(t, second.ID).Position, "from the store")
	n, err := p.QueueLength(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = p.SweepTimeouts(ctx)
	require.NoError(t, err, "the timeouts go on; the rebuild waits for Valkey")
	require.EqualValues(t, 1, idx.answered.Load())

	require.NoError(t, srv.Start())
	require.Eventually(t, func() bool {
		_, err := p.SweepTimeouts(ctx)
		require.NoError(t, err)
		return e.queueStatus(t, second.ID).Position == 2 && idx.answered.Load() > 1
	}, 10*time.Second, 50*time.Millisecond, "rebuilt once Valkey is back, and answering")
}
