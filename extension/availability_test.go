package extension_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/payment"
)

// The offline safeguard against the real availability mirror: Valkey-first reachability
// while Valkey is up, the Postgres fallback once it is down.
func TestIntegration_OfflineSafeguardFollowsTheAvailabilityMirrorWithValkeyUpAndDown(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	redis := testenv.StartRedis(t) // private: this test stops it
	client, err := valkeyutil.NewClient(valkeyutil.Options{
		URL: redis.URL(), DialTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(client.Close)

	f := newPGFacts(db.Pool)
	b := setup(t, extension.NewPostgresStore(db.Pool), f, db.Pool)
	counters := &availability.Counters{}
	mirror, err := availability.NewMirror(availability.NewPostgresStore(db.Pool),
		availability.NewValkeyCache(client, availability.CacheConfig{}), &availability.Config{Clock: b.clock, Hooks: counters.Hooks()})
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = mirror.SeedFromPostgres(ctx)
	require.NoError(t, err)
	b.deps.Reachability = mirror
	svc := b.instance(t)
	b.payments.SetHandler(payment.PurposeExtension, svc)

	m, err := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "mitra"})
	require.NoError(t, err)
	require.NoError(t, mirror.SetOnline(ctx, m.ID))

	// request asks for an extension on a new session with the mitra.
	request := func() (extension.Extension, *payment.Session, error) {
		s := f.startSession(t, &m.ID, b.clock.Now(), 30)
		return svc.Request(ctx, extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID, Minutes: tierMinutes})
	}
	approved := func(what string) {
		t.Helper()
		e, pay, err := request()
		require.NoError(t, err, what)
		require.Equal(t, extension.StatusApproved, e.Status, what)
		require.NotNil(t, pay, what)
	}
	rejected := func(what string) {
		t.Helper()
		charges := len(b.gateway.Charges())
		e, pay, err := request()
		require.ErrorIs(t, err, extension.ErrMitraUnavailable, what)
		require.Equal(t, extension.StatusRejected, e.Status, what)
		require.Equal(t, extension.RejectMitraOffline, e.RejectReason, what)
		require.Nil(t, pay, what)
		require.Len(t, b.gateway.Charges(), charges, "%s: nothing charged", what)
	}

	// Valkey up.
	approved("online, fresh heartbeat")
	b.clock.Advance(availability.DefaultStaleThreshold + time.Second)
	rejected("heartbeat stale")
	_, err = mirror.Heartbeat(ctx, m.ID)
	require.NoError(t, err)
	approved("pinged again")
	require.NoError(t, mirror.SetOffline(ctx, m.ID))
	rejected("offline")
	require.Zero(t, counters.Fallbacks(), "Valkey answered every reachability check")

	// Valkey down: the mirror answers from Postgres.
	require.NoError(t, redis.Stop())
	require.NoError(t, mirror.SetOnline(ctx, m.ID))
	approved("online, Valkey down")
	b.clock.Advance(availability.DefaultStaleThreshold + time.Second)
	rejected("heartbeat stale, Valkey down")
	_, err = mirror.Heartbeat(ctx, m.ID)
	require.NoError(t, err)
	approved("pinged again, Valkey down")
	_, err = mirror.SetActive(ctx, m.ID, false)
	require.NoError(t, err)
	rejected("deactivated, Valkey down")
	require.Positive(t, counters.Fallbacks(), "Postgres answered while Valkey was down")
}
