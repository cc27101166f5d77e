package availability_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/testenv"
)

// The key layout of the device leases, pinned by what Valkey itself counts: the commands a
// private redis-server ran (INFO commandstats, every command of a script included) and the
// keys it holds. Nothing else talks to that server, and the fake clock runs no watchdog.

// private is a Mirror over Postgres and a private redis-server, seeded.
func private(t *testing.T) *bundle {
	t.Helper()
	return seeded(t, kindValkey, setupOptions{redisURL: testenv.StartRedis(t).URL()})
}

func TestHeartbeat_ANewerPingWritesTheDevicesHeartbeatUnreadInFiveCommands(t *testing.T) {
	t.Parallel()
	b := private(t)
	ctx := ctxT(t)
	id := b.deviceOnline(t, "phone")
	for _, device := range []string{availability.DefaultDevice, "tablet"} { // the leases exist: the steady state
		_, err := b.mirror.HeartbeatDevice(ctx, id, device)
		require.NoError(t, err)
	}
	raw := b.client.Client

	testenv.ResetCommandStats(t, raw)
	const pings = 60
	for i := range pings {
		b.clock.Advance(time.Millisecond)
		var online bool
		var err error
		if i%2 == 0 {
			online, err = b.mirror.Heartbeat(ctx, id)
		} else {
			online, err = b.mirror.HeartbeatDevice(ctx, id, "tablet")
		}
		require.NoError(t, err)
		require.True(t, online)
	}
	got := testenv.CommandCalls(t, raw)
	delete(got, "config|resetstat")
	require.Equal(t, map[string]int64{
		"evalsha": pings, // one round trip each
		"exists":  pings, // the seed marker
		"zadd":    2 * pings,
		"set":     pings,
		"hset":    pings, // the device's heartbeat field, written without reading the lease
	}, got)

	// A ping that is not newer than the mitra's heartbeat (another device's in the same
	// millisecond, or an instance whose clock is behind) reads the device's field first.
	testenv.ResetCommandStats(t, raw)
	_, err := b.mirror.HeartbeatDevice(ctx, id, "phone")
	require.NoError(t, err)
	got = testenv.CommandCalls(t, raw)
	require.Equal(t, int64(1), got["hget"])
	require.Equal(t, int64(1), got["hset"], "the phone's last ping was older")
	require.Zero(t, got["set"], "the mitra's heartbeat does not move")
	b.requireNoDrift(t)
}

func TestSeed_TwoKeysAMitraAndTheUnnamedLeasesInOneHashWrittenOnceAChunk(t *testing.T) {
	t.Parallel()
	b := setup(t, kindValkey, setupOptions{redisURL: testenv.StartRedis(t).URL()})
	ctx := ctxT(t)
	const n = 1000
	bulkMitras(t, b.db.Pool, n, true, T0)
	raw := b.client.Client
	testenv.ResetCommandStats(t, raw)
	rep, err := b.mirror.SeedFromPostgres(ctx)
	require.NoError(t, err)
	require.Equal(t, n, rep.Mitras)

	// An empty Valkey: every heartbeat comes from Postgres, so every mitra gets the
	// unnamed lease, one field each of one hash.
	unnamed := b.names.Key("mitras:unnamed_leases")
	fields, err := raw.Do(ctx, raw.B().Hlen().Key(unnamed).Build()).AsInt64()
	require.NoError(t, err)
	require.EqualValues(t, n, fields)
	perMitra, err := raw.Do(ctx, raw.B().Keys().Pattern(b.names.Devices("*")).Build()).AsStrSlice()
	require.NoError(t, err)
	require.Empty(t, perMitra, "no device hash per mitra")
	size, err := raw.Do(ctx, raw.B().Dbsize().Build()).AsInt64()
	require.NoError(t, err)
	require.Less(t, size, int64(2*n+20), "the heartbeat and capacity strings, and a few shared keys")
	chunks := testenv.CommandCalls(t, raw)["evalsha"] - 1 // the swap
	require.Positive(t, chunks)
	require.Equal(t, chunks, testenv.CommandCalls(t, raw)["hset"], "one HSET a chunk")

	// Going offline drops the unnamed lease from the shared hash.
	id := b.onlineMitra(t)
	ids, err := b.mirror.FindAvailable(ctx, availability.FindOptions{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{id}, ids)
	var some uuid.UUID
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT id FROM mitras WHERE id <> $1 LIMIT 1`, id).Scan(&some))
	require.NoError(t, b.mirror.SetOffline(ctx, some))
	has, err := raw.Do(ctx, raw.B().Hexists().Key(unnamed).Field(some.String()).Build()).AsBool()
	require.NoError(t, err)
	require.False(t, has)
	b.requireNoDrift(t)
}

// TestDevices_LeasesWrittenInTheLayoutBeforeAreReadAndReplaced: an existing deployment's
// mitra:devices:<id> hashes, written before the device's heartbeat and stream took a field
// each, keep working after the upgrade: each device's value is read as its heartbeat and
// its stream part, the unnamed lease in the mitra's hash still holds the mitra, and the next
// writes replace the old values.
func TestDevices_LeasesWrittenInTheLayoutBeforeAreReadAndReplaced(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindValkey, setupOptions{})
	ctx := ctxT(t)
	id := b.deviceOnline(t, "phone")
	raw := b.client.Client
	key := b.names.Devices(id.String())
	ms := func(at time.Time) string { return strconv.FormatInt(at.UnixMilli(), 10) }
	const zero = "0000000000000"
	b.clock.Advance(10 * time.Second)
	now := b.clock.Now()
	require.NoError(t, raw.Do(ctx, raw.B().Del().Key(key).Build()).Error())
	require.NoError(t, raw.Do(ctx, raw.B().Hset().Key(key).FieldValue().
		FieldValue("phone", ms(T0)+":"+ms(now)+":1").             // pinged, streaming
		FieldValue("watch", zero+":"+zero+":0").                  // signed off
		FieldValue("*", ms(now.Add(-time.Second))+":"+zero+":0"). // the unnamed lease
		Build()).Error())
	_, err := b.mirror.Heartbeat(ctx, id) // the mitra's heartbeat at now
	require.NoError(t, err)

	devs, err := b.mirror.Devices(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []availability.Device{
		{ID: availability.DefaultDevice, LastSeenAt: now},
		{ID: "phone", LastSeenAt: now, Streaming: true},
	}, devs)
	res, err := b.cache.Streams(ctx, availability.StreamsParams{At: now, Writes: []availability.StreamWrite{
		{MitraID: id, Device: "watch"}, {MitraID: id, Device: "phone", Closed: true}}})
	require.NoError(t, err)
	require.Equal(t, []availability.StreamResult{{}, {Online: true, ClosedAt: now}}, res, "the watch signed off; the phone's stream closes")

	// The phone and the default device sign off: the unnamed lease holds the mitra.
	for _, device := range []string{"phone", availability.DefaultDevice} {
		online, err := b.mirror.EndDevice(ctx, id, device)
		require.NoError(t, err)
		require.True(t, online, device)
	}
	hb, err := raw.Do(ctx, raw.B().Get().Key(b.names.Heartbeat(id.String())).Build()).ToString()
	require.NoError(t, err)
	require.Equal(t, availability.FormatHeartbeat(now.Add(-time.Second)), hb, "back to the unnamed lease")
	phone, err := raw.Do(ctx, raw.B().Hget().Key(key).Field("phone").Build()).ToString()
	require.NoError(t, err)
	require.Equal(t, zero+":"+zero+":0", phone, "signed off: the empty lease both layouts read")
	b.requireNoDrift(t)
}

// The unnamed lease counts for no bound on the devices and ends with the mitra.
func TestDevices_TheUnnamedLeaseIsNoDeviceOfTheBound(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := setup(t, kind, setupOptions{cfg: availability.Config{MaxDevices: 2}})
		ctx := ctxT(t)
		id := b.newMitra(t)
		_, err := b.store.SetOnline(ctx, id, T0)
		require.NoError(t, err)
		_, err = b.mirror.SeedFromPostgres(ctx) // Valkey held no heartbeat: the unnamed lease
		require.NoError(t, err)
		for i, device := range []string{"a", "b", "c"} {
			b.clock.Advance(time.Duration(i+1) * time.Second)
			_, err := b.mirror.HeartbeatDevice(ctx, id, device)
			require.NoError(t, err)
		}
		leases, err := b.cache.Devices(ctx, []uuid.UUID{id})
		require.NoError(t, err)
		var names []string
		for _, l := range leases[id] {
			names = append(names, l.Device)
		}
		require.ElementsMatch(t, []string{"b", "c", availability.UnnamedDevice}, names, "a, the oldest named lease, evicted")
		require.Equal(t, []string{"c", "b"}, b.deviceIDs(t, id))

		require.NoError(t, b.mirror.SetOffline(ctx, id))
		leases, err = b.cache.Devices(context.WithoutCancel(ctx), []uuid.UUID{id})
		require.NoError(t, err)
		require.Empty(t, leases)
		b.requireNoDrift(t)
	})
}
