package availability_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
)

// Fault tests against a private redis-server (never the shared one). Stopped Valkey,
// deactivated pings during an outage and a pinging mitra through a restart are covered by
// the invariant tests (TestInvariant2/3/4, "redis-server").

func TestFault_ValkeyRestart_WatchdogRebuildsTheMirror(t *testing.T) {
	t.Parallel()
	o := setupOutage(t, outageRedis, setupOptions{cfg: availability.Config{WatchdogInterval: time.Second}})
	ctx := ctxT(t)
	id := o.deviceOnline(t, "phone")
	_, err := o.mirror.HeartbeatDevice(ctx, id, "tablet")
	require.NoError(t, err)
	require.NoError(t, o.mirror.Start(ctx))
	t.Cleanup(func() { require.NoError(t, o.mirror.Stop(context.Background())) })

	seeds := o.hooks.Seeds()
	require.NoError(t, o.srv.Restart()) // all data lost, new run_id
	ok, err := o.mirror.IsReachable(ctx, id)
	require.NoError(t, err)
	require.True(t, ok, "answered from postgres until the reseed")
	online, err := o.mirror.HeartbeatDevice(ctx, id, "tablet")
	require.NoError(t, err)
	require.True(t, online, "a device's ping falls back to postgres until the reseed")
	o.awaitSeed(t, seeds, 100*time.Millisecond)
	o.requireNoDrift(t)

	fallbacks := o.hooks.Fallbacks()
	ok, err = o.mirror.IsReachable(ctx, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, fallbacks, o.hooks.Fallbacks(), "served by valkey again")

	// The leases went with the data; the devices' next pings bring them back, and one
	// device leaving keeps the mitra online on the other.
	for _, d := range []string{"phone", "tablet"} {
		online, err := o.mirror.HeartbeatDevice(ctx, id, d)
		require.NoError(t, err)
		require.True(t, online)
	}
	online, err = o.mirror.EndDevice(ctx, id, "phone")
	require.NoError(t, err)
	require.True(t, online)
	require.Equal(t, []string{"tablet"}, o.deviceIDs(t, id))
	o.requireNoDrift(t)
}

func TestFault_ValkeyFlushAll_WatchdogRebuildsTheMirror(t *testing.T) {
	t.Parallel()
	o := setupOutage(t, outageRedis, setupOptions{cfg: availability.Config{WatchdogInterval: time.Second}})
	ctx := ctxT(t)
	pinger, deact := o.deviceOnline(t, "phone"), o.deviceOnline(t, "phone")
	_, err := o.mirror.HeartbeatDevice(ctx, pinger, "tablet")
	require.NoError(t, err)
	_, err = o.mirror.SetActive(ctx, deact, false)
	require.NoError(t, err)
	require.NoError(t, o.mirror.Start(ctx))
	t.Cleanup(func() { require.NoError(t, o.mirror.Stop(context.Background())) })

	seeds := o.hooks.Seeds()
	reply, err := o.srv.Do(ctx, "FLUSHALL")
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", reply)

	// Server up, data gone: pings and reads must not trust the empty sets.
	online, err := o.mirror.HeartbeatDevice(ctx, pinger, "tablet")
	require.NoError(t, err)
	require.True(t, online, "an empty valkey must not tell a mitra it is offline")
	_, err = o.mirror.HeartbeatDevice(ctx, deact, "phone")
	require.ErrorIs(t, err, availability.ErrDeactivated)
	// A device leaving: until the watchdog's reseed (which the unseeded ping above asked
	// for, and which may already have run) nobody knows the tablet, and it is the seed's
	// offline, which the tablet learns and undoes; after it, the heartbeat rebuilt from
	// Postgres holds the mitra for the unnamed tablet.
	online, err = o.mirror.EndDevice(ctx, pinger, "phone")
	require.NoError(t, err)
	m, err := o.mirror.GetMitra(ctx, pinger)
	require.NoError(t, err)
	require.Equal(t, online, m.IsOnline)
	if !online {
		require.NoError(t, o.mirror.SetOnlineDevice(ctx, pinger, "tablet"))
	}
	o.awaitSeed(t, seeds, 100*time.Millisecond)
	o.requireNoDrift(t)
	o.clock.Advance(2 * time.Minute)
	_, err = o.mirror.HeartbeatDevice(ctx, pinger, "tablet")
	require.NoError(t, err)
	_, err = o.mirror.AutoOffline(ctx)
	require.NoError(t, err)
	m, err = o.mirror.GetMitra(ctx, pinger)
	require.NoError(t, err)
	require.True(t, m.IsOnline, "the mitra that kept pinging is not auto-offlined afterwards")
	require.Equal(t, []string{"tablet"}, o.deviceIDs(t, pinger))
}

// pausedReadBound is the documented bound on a read while Valkey hangs: one ValkeyTimeout
// before the Postgres fallback, plus the Postgres query. The test allows generous slack
// for a loaded machine under -race.
const pausedReadBound = availability.DefaultValkeyTimeout + 2*time.Second

func TestFault_ValkeyPaused_ReadsAnswerFromPostgresWithinTheBound(t *testing.T) {
	t.Parallel()
	o := setupOutage(t, outageRedis, setupOptions{cfg: availability.Config{ValkeyTimeout: availability.DefaultValkeyTimeout}})
	ctx := ctxT(t)
	id := o.onlineMitra(t)
	deact := o.onlineMitra(t)
	_, err := o.mirror.SetActive(ctx, deact, false)
	require.NoError(t, err)
	o.clock.Advance(availability.DefaultSnapshotTTL) // no beacon copy in memory

	require.NoError(t, o.srv.Pause())
	t.Cleanup(func() { _ = o.srv.Resume() })

	timed := func(name string, fn func() error) {
		t.Helper()
		start := time.Now()
		require.NoError(t, fn(), name)
		require.Less(t, time.Since(start), pausedReadBound, name)
	}
	timed("IsReachable", func() error {
		ok, err := o.mirror.IsReachable(ctx, id)
		require.True(t, ok)
		return err
	})
	timed("FindAvailable", func() error {
		ids, err := o.mirror.FindAvailable(ctx, availability.FindOptions{Limit: 10})
		require.Equal(t, []uuid.UUID{id}, ids)
		return err
	})
	timed("CountAvailable", func() error {
		s, err := o.mirror.CountAvailable(ctx)
		require.Equal(t, 1, s.AvailableCount)
		return err
	})
	timed("OnlineCount", func() error {
		n, err := o.mirror.OnlineCount(ctx)
		require.Equal(t, 1, n)
		return err
	})
	timed("Heartbeat", func() error {
		online, err := o.mirror.Heartbeat(ctx, id)
		require.True(t, online)
		return err
	})
	timed("Heartbeat of a deactivated mitra", func() error {
		_, err := o.mirror.Heartbeat(ctx, deact)
		require.ErrorIs(t, err, availability.ErrDeactivated)
		return nil
	})
	timed("HeartbeatDevice", func() error {
		online, err := o.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.True(t, online)
		return err
	})
	timed("Devices", func() error {
		devs, err := o.mirror.Devices(ctx, id)
		require.Empty(t, devs, "postgres knows no devices")
		return err
	})
	timed("OpenStream", func() error {
		s, err := o.mirror.OpenStream(ctx, availability.StreamParams{MitraID: id, Device: "tablet"})
		if err == nil {
			require.True(t, s.Online())
			s.Close()
		}
		return err
	})
	timed("EndDevice", func() error {
		online, err := o.mirror.EndDevice(ctx, id, "tablet")
		require.False(t, online, "without the mirror: the seed's offline")
		return err
	})
	require.NoError(t, o.srv.Resume())
}
