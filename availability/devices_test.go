package availability_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
)

func (b *bundle) deviceOnline(t testing.TB, device string) uuid.UUID {
	t.Helper()
	id := b.newMitra(t)
	require.NoError(t, b.mirror.SetOnlineDevice(ctxT(t), id, device))
	return id
}

func (b *bundle) requireOnline(t testing.TB, id uuid.UUID, want bool, msgAndArgs ...any) {
	t.Helper()
	m, err := b.mirror.GetMitra(ctxT(t), id)
	require.NoError(t, err)
	require.Equal(t, want, m.IsOnline, msgAndArgs...)
}

func (b *bundle) deviceIDs(t testing.TB, id uuid.UUID) []string {
	t.Helper()
	devs, err := b.mirror.Devices(ctxT(t), id)
	require.NoError(t, err)
	var out []string
	for _, d := range devs {
		out = append(out, d.ID)
	}
	return out
}

func TestDevices_OneLeavesTheMitraStaysOnlineAndAvailableTheOtherGoesStaleAutoOffline(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		b.clock.Advance(10 * time.Second)
		online, err := b.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.True(t, online)
		require.Equal(t, []string{"tablet", "phone"}, b.deviceIDs(t, id), "most recently seen first")

		b.clock.Advance(10 * time.Second)
		_, err = b.mirror.HeartbeatDevice(ctx, id, "phone")
		require.NoError(t, err)
		online, err = b.mirror.EndDevice(ctx, id, "phone")
		require.NoError(t, err)
		require.True(t, online, "the tablet's lease is fresh")
		b.requireOnline(t, id, true)
		ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{id}, ids, "still available")
		require.Equal(t, []string{"tablet"}, b.deviceIDs(t, id))
		b.requireNoDrift(t)

		// The tablet goes silent: the mitra is stale from its lease (not from the phone's
		// last ping, which ended with the phone) and the sweep takes it offline.
		b.clock.Advance(availability.DefaultStaleThreshold - 9*time.Second) // the phone's last ping would be 81 s old, the tablet's is 91
		ok, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.False(t, ok, "stale as of the tablet's lease")
		rep, err := b.mirror.AutoOffline(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Offlined)
		b.requireOnline(t, id, false)
		require.Empty(t, b.deviceIDs(t, id))
		online, err = b.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.False(t, online, "the tablet learns it at its next ping")
		b.requireNoDrift(t)
	})
}

func TestDevices_TheLastDeviceLeavingTakesTheMitraOffline(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		_, err := b.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		online, err := b.mirror.EndDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.True(t, online)
		online, err = b.mirror.EndDevice(ctx, id, "phone")
		require.NoError(t, err)
		require.False(t, online)
		b.requireOnline(t, id, false)
		n, err := b.mirror.OnlineCount(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		b.requireNoDrift(t)

		// Only stale leases left also means offline now.
		id = b.deviceOnline(t, "tablet")
		b.clock.Advance(2 * availability.DefaultStaleThreshold)
		_, err = b.mirror.HeartbeatDevice(ctx, id, "phone")
		require.NoError(t, err)
		online, err = b.mirror.EndDevice(ctx, id, "phone")
		require.NoError(t, err)
		require.False(t, online, "the tablet's lease is stale")
		b.requireOnline(t, id, false)

		// Without a device named, offline is every device's.
		id = b.deviceOnline(t, "phone")
		_, err = b.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.NoError(t, b.mirror.SetOffline(ctx, id))
		require.Empty(t, b.deviceIDs(t, id))
		online, err = b.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.False(t, online)
		b.requireNoDrift(t)
	})
}

func TestDevices_TenThousandDistinctDeviceIDsAreBounded(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		for i := range 10_000 {
			if i%1000 == 0 {
				b.clock.Advance(time.Second) // the phone's lease is the oldest
			}
			online, err := b.mirror.HeartbeatDevice(ctx, id, fmt.Sprintf("device-%05d", i))
			require.NoError(t, err)
			require.True(t, online)
		}
		devs := b.deviceIDs(t, id)
		require.Len(t, devs, availability.DefaultMaxDevices)
		require.NotContains(t, devs, "phone", "the lease ending first is evicted")
		require.Contains(t, devs, "device-09999")
		if b.db == nil {
			return
		}
		n, err := b.client.Client.Do(ctx, b.client.Client.B().Hlen().Key(b.names.Devices(id.String())).Build()).AsInt64()
		require.NoError(t, err)
		require.EqualValues(t, availability.DefaultMaxDevices, n, "the hash itself is bounded")
		b.requireNoDrift(t)
	})
}

func TestDevices_InvalidDeviceIDsAreRefused(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	ctx := ctxT(t)
	id := b.onlineMitra(t)
	for _, device := range []string{"", strings.Repeat("a", 65), "phone 1", "ph/one", "télé", "a\x00b", "{tag}"} {
		calls := map[string]error{}
		_, calls["HeartbeatDevice"] = b.mirror.HeartbeatDevice(ctx, id, device)
		calls["SetOnlineDevice"] = b.mirror.SetOnlineDevice(ctx, id, device)
		_, calls["EndDevice"] = b.mirror.EndDevice(ctx, id, device)
		if device != "" { // "" is the default device for a stream
			_, calls["OpenStream"] = b.mirror.OpenStream(ctx, availability.StreamParams{MitraID: id, Device: device})
		}
		for name, err := range calls {
			var ve *core.ValidationError
			require.ErrorAs(t, err, &ve, "%s(%q)", name, device)
			require.Equal(t, "device_id", ve.Field)
		}
	}
	for _, device := range []string{"a", strings.Repeat("Z", 64), "pixel-8.pro_2"} {
		require.NoError(t, availability.ValidateDeviceID(device), device)
	}
	require.Equal(t, []string{availability.DefaultDevice}, b.deviceIDs(t, id), "nothing refused was written")
}

func TestDevices_DeactivatedMitrasDevicesCannotMakeItAvailable(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		o := setupOutage(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := o.deviceOnline(t, "phone")
		_, err := o.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		stream, err := o.mirror.OpenStream(ctx, availability.StreamParams{MitraID: id, Device: "tablet"})
		require.NoError(t, err)
		defer stream.Close()
		_, err = o.mirror.SetActive(ctx, id, false)
		require.NoError(t, err)

		check := func(when string) {
			t.Helper()
			for _, device := range []string{"phone", "tablet", "new"} {
				_, err := o.mirror.HeartbeatDevice(ctx, id, device)
				require.ErrorIs(t, err, availability.ErrDeactivated, "%s: %s", when, device)
			}
			_, err := o.mirror.OpenStream(ctx, availability.StreamParams{MitraID: id, Device: "phone"})
			require.ErrorIs(t, err, availability.ErrDeactivated, when)
			ids, err := o.mirror.FindAvailable(ctx, availability.FindOptions{})
			require.NoError(t, err)
			require.Empty(t, ids, when)
			ok, err := o.mirror.IsReachable(ctx, id)
			require.NoError(t, err)
			require.False(t, ok, when)
		}
		check("valkey up")
		require.Empty(t, o.deviceIDs(t, id))
		o.down(t)
		check("valkey down")
		o.up(t)
		o.reseed(t)
		check("valkey reseeded")
		o.requireNoDrift(t)
	})
}

func TestDevices_ValkeyDownDeviceIDsAreIgnored(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		o := setupOutage(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := o.deviceOnline(t, "phone")
		_, err := o.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)

		o.down(t)
		o.clock.Advance(time.Minute)
		online, err := o.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.True(t, online, "the ping went to postgres")
		m, err := o.mirror.GetMitra(ctx, id)
		require.NoError(t, err)
		require.Equal(t, o.clock.Now(), *m.LastHeartbeatAt)
		devs, err := o.mirror.Devices(ctx, id)
		require.NoError(t, err)
		require.Empty(t, devs, "postgres knows no devices")
		st, err := o.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.True(t, st.Reachable)

		// Without the mirror nobody can tell which leases are left: the seed's offline.
		online, err = o.mirror.EndDevice(ctx, id, "phone")
		require.NoError(t, err)
		require.False(t, online)
		o.requireOnline(t, id, false)
		online, err = o.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.False(t, online, "the tablet learns it and comes back")
		require.NoError(t, o.mirror.SetOnlineDevice(ctx, id, "tablet"))
		o.up(t)
		o.reseed(t)
		o.requireNoDrift(t)
		online, err = o.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.True(t, online)
	})
}

func TestDevices_AfterADataLossTheHeartbeatFromPostgresHoldsTheMitraForItsUnnamedDevice(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		o := setupOutage(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := o.deviceOnline(t, "phone")
		o.clock.Advance(20 * time.Second)
		_, err := o.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		_, err = o.mirror.MirrorHeartbeats(ctx)
		require.NoError(t, err)

		o.down(t)
		o.up(t) // empty
		o.reseed(t)
		require.Empty(t, o.deviceIDs(t, id), "the leases are gone, safely")
		o.clock.Advance(5 * time.Second)
		_, err = o.mirror.HeartbeatDevice(ctx, id, "phone")
		require.NoError(t, err)
		// The phone leaves before the tablet pinged again: the heartbeat rebuilt from
		// Postgres was the tablet's, which the mirror cannot name; it holds the mitra.
		online, err := o.mirror.EndDevice(ctx, id, "phone")
		require.NoError(t, err)
		require.True(t, online)
		ok, err := o.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		o.requireNoDrift(t)

		o.clock.Advance(10 * time.Second)
		_, err = o.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.Equal(t, []string{"tablet"}, o.deviceIDs(t, id))
		// Had the tablet gone for good, the unnamed lease would have gone stale with it.
		o.clock.Advance(availability.DefaultStaleThreshold - 5*time.Second)
		online, err = o.mirror.EndDevice(ctx, id, "tablet")
		require.NoError(t, err)
		require.False(t, online, "the unnamed lease is stale: nothing is left")
		o.requireOnline(t, id, false)
		o.requireNoDrift(t)
	})
}

func TestHeartbeatDevice_ZeroPostgresQueriesAndOneValkeyRoundTripPerPing(t *testing.T) {
	t.Parallel()
	var qc pgutil.QueryCounter
	b := seeded(t, kindValkey, withQueryCounter(&qc))
	ctx := ctxT(t)
	id := b.deviceOnline(t, "phone")
	devices := []string{"phone", "tablet", "laptop"}
	for _, d := range devices { // loads the script, creates the leases
		_, err := b.mirror.HeartbeatDevice(ctx, id, d)
		require.NoError(t, err)
	}
	queries, trips := qc.Count(), b.client.trips.Load()
	const pings = 300
	for i := range pings {
		if i%2 == 0 { // newer pings, and pings in the same millisecond as the last
			b.clock.Advance(time.Millisecond)
		}
		online, err := b.mirror.HeartbeatDevice(ctx, id, devices[i%len(devices)])
		require.NoError(t, err)
		require.True(t, online)
	}
	require.Equal(t, int64(0), qc.Count()-queries, "no postgres round trip on the hot path")
	require.Equal(t, int64(pings), b.client.trips.Load()-trips, "one valkey round trip per ping")
	require.Zero(t, b.hooks.Fallbacks())
}

func TestStatus_ListsTheLiveDevices(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		b.clock.Advance(30 * time.Second)
		_, err := b.mirror.HeartbeatDevice(ctx, id, "tablet")
		require.NoError(t, err)
		st, err := b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []availability.Device{{ID: "tablet", LastSeenAt: T0.Add(30 * time.Second)}, {ID: "phone", LastSeenAt: T0}}, st.Devices)
		b.clock.Advance(70 * time.Second) // the phone's lease is stale, the tablet's not
		st, err = b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []availability.Device{{ID: "tablet", LastSeenAt: T0.Add(30 * time.Second)}}, st.Devices)
		all, err := b.mirror.DevicesOf(ctx, []uuid.UUID{id, uuid.New()})
		require.NoError(t, err)
		require.Len(t, all, 1)
		require.Len(t, all[id], 1)
	})
}

// reseed seeds a Valkey that just came back: the first command on a connection the
// restart broke may fail (a seed's swap is not resent), as the watchdog's next pass would
// find.
func (o *outage) reseed(t testing.TB) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := o.mirror.SeedFromPostgres(ctxT(t))
		return err == nil
	}, 20*time.Second, 10*time.Millisecond)
}

// requireStopped stops the mirror at the end of the test.
func requireStopped(t *testing.T, m *availability.Mirror) {
	t.Cleanup(func() { require.NoError(t, m.Stop(context.Background())) })
}
