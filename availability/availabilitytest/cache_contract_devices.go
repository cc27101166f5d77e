package availabilitytest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/check"
)

// The device leases of availability.Cache, part of RunCacheContract.

// devicePing is a heartbeat of one device.
func devicePing(id uuid.UUID, device string, at time.Time) availability.HeartbeatParams {
	return availability.HeartbeatParams{MitraID: id, Device: device, At: at}
}

// leasesOf returns a mitra's device leases by device, the unnamed one (a first seed gives
// one to every online mitra: Valkey held no heartbeat) and the empty ones of devices that
// signed off aside.
func leasesOf(t *testing.T, c availability.Cache, id uuid.UUID) map[string]availability.DeviceLease {
	t.Helper()
	out := allLeasesOf(t, c, id)
	delete(out, availability.UnnamedDevice)
	for device, l := range out {
		if l.Lease().IsZero() {
			delete(out, device)
		}
	}
	return out
}

func allLeasesOf(t *testing.T, c availability.Cache, id uuid.UUID) map[string]availability.DeviceLease {
	t.Helper()
	all, err := c.Devices(check.Context(t), []uuid.UUID{id})
	check.NoError(t, err)
	out := map[string]availability.DeviceLease{}
	for _, l := range all[id] {
		out[l.Device] = l
	}
	return out
}

func endDevice(t *testing.T, c availability.Cache, p availability.EndDeviceParams) availability.DeviceEnd {
	t.Helper()
	if p.FreshAfter.IsZero() {
		p.FreshAfter = t0.Add(-staleAfter)
	}
	end, err := c.EndDevice(check.Context(t), p)
	check.NoError(t, err)
	return end
}

func streams(t *testing.T, c availability.Cache, at time.Time, writes ...availability.StreamWrite) []availability.StreamResult {
	t.Helper()
	res, err := c.Streams(check.Context(t), availability.StreamsParams{Writes: writes, At: at})
	check.NoError(t, err)
	check.Len(t, res, len(writes))
	return res
}

func runDeviceContract(t *testing.T, newHarness func(t *testing.T) CacheHarness) {
	t.Run("DeviceLeasesMoveForwardOnlyAndTheHeartbeatIsTheFreshest", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id, off, deact := uuid.New(), uuid.New(), uuid.New()
		seed(t, c, 1, st(id, true, true, d(0), 0), st(off, true, false, nil, 0), st(deact, false, false, nil, 0))

		for _, p := range []availability.HeartbeatParams{
			devicePing(id, "phone", t0.Add(20*time.Second)),
			devicePing(id, "tablet", t0.Add(10*time.Second)),
			devicePing(id, "phone", t0.Add(5*time.Second)), // another instance, clock behind
		} {
			online, err := c.Heartbeat(ctx, p)
			check.NoError(t, err)
			check.True(t, online)
		}
		check.Equal(t, map[string]availability.DeviceLease{
			"phone":  {Device: "phone", Heartbeat: t0.Add(20 * time.Second)},
			"tablet": {Device: "tablet", Heartbeat: t0.Add(10 * time.Second)},
		}, leasesOf(t, c, id))
		dd := dump(t, c, id)
		check.Equal(t, t0.Add(20*time.Second), dd.Heartbeats[id], "the freshest lease")
		check.Equal(t, t0.Add(20*time.Second).UnixMilli(), dd.Index[id])

		online, err := c.Heartbeat(ctx, devicePing(off, "phone", t0))
		check.NoError(t, err)
		check.False(t, online)
		_, err = c.Heartbeat(ctx, devicePing(deact, "phone", t0))
		check.ErrorIs(t, err, availability.ErrDeactivated)
		check.Len(t, leasesOf(t, c, off), 0, "an offline mitra holds no lease")
		check.Len(t, leasesOf(t, c, deact), 0)
	})

	t.Run("DevicesAreBoundedTheLeaseEndingFirstEvicted", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id := uuid.New()
		seed(t, c, 1, st(id, true, true, d(0), 0))
		// The oldest lease streams: an open stream's lease goes last.
		_, err := c.Heartbeat(ctx, devicePing(id, "streaming", t0))
		check.NoError(t, err)
		streams(t, c, t0, availability.StreamWrite{MitraID: id, Device: "streaming"})
		for i := range 40 {
			p := devicePing(id, fmt.Sprintf("d%02d", i), t0.Add(time.Duration(i+1)*time.Millisecond))
			p.MaxDevices = 4
			_, err := c.Heartbeat(ctx, p)
			check.NoError(t, err)
			check.True(t, len(leasesOf(t, c, id)) <= 4, "after %d devices", i+1)
		}
		leases := leasesOf(t, c, id)
		check.HasKey(t, leases, "streaming")
		check.HasKey(t, leases, "d39", "the newest device is kept")
		check.HasKey(t, leases, "d38")
		check.HasKey(t, leases, "d37")

		// The default bound.
		for i := range 30 {
			_, err := c.Heartbeat(ctx, devicePing(id, fmt.Sprintf("e%02d", i), t0.Add(time.Second)))
			check.NoError(t, err)
		}
		check.Len(t, leasesOf(t, c, id), availability.DefaultMaxDevices)
	})

	t.Run("EndDeviceMovesTheHeartbeatBackToTheFreshestLeaseLeft", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id, other := uuid.New(), uuid.New()
		seed(t, c, 1, st(id, true, true, d(-5*time.Minute), 0), st(other, true, true, d(0), 0))
		_, err := c.Heartbeat(ctx, devicePing(id, "tablet", t0.Add(10*time.Second)))
		check.NoError(t, err)
		_, err = c.Heartbeat(ctx, devicePing(id, "phone", t0.Add(30*time.Second)))
		check.NoError(t, err)

		end := endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "phone"})
		check.Equal(t, availability.DeviceEnd{Online: true, Heartbeat: t0.Add(10 * time.Second)}, end)
		dd := dump(t, c, id)
		check.True(t, dd.Online[id], "still online: the tablet's lease is fresh")
		check.Equal(t, t0.Add(10*time.Second), dd.Heartbeats[id])
		check.Equal(t, t0.Add(10*time.Second).UnixMilli(), dd.Index[id])
		check.Equal(t, t0.Add(10*time.Second).UnixMilli(), dd.Available[id])
		// The available index follows: fresh after t0+15s no more.
		ids, err := c.FindAvailable(ctx, availability.AvailableQuery{FreshAfter: t0.Add(15 * time.Second), Limit: 5})
		check.NoError(t, err)
		check.NotContains(t, ids, id)
		ok, err := c.IsReachable(ctx, id, t0.Add(5*time.Second))
		check.NoError(t, err)
		check.True(t, ok)

		// A device with no lease leaves nothing behind; the heartbeat stays.
		end = endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "watch"})
		check.Equal(t, availability.DeviceEnd{Online: true, Heartbeat: t0.Add(10 * time.Second)}, end)

		end = endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "tablet"})
		check.Equal(t, availability.DeviceEnd{Online: true, Last: true}, end)
		check.Len(t, leasesOf(t, c, id), 0)

		end = endDevice(t, c, availability.EndDeviceParams{MitraID: uuid.New(), Device: "phone"})
		check.Equal(t, availability.DeviceEnd{}, end, "not online")
	})

	t.Run("EndDeviceWithOnlyStaleLeasesLeftIsTheLast", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id := uuid.New()
		seed(t, c, 1, st(id, true, true, d(-5*time.Minute), 0))
		_, err := c.Heartbeat(ctx, devicePing(id, "tablet", t0.Add(-2*time.Minute)))
		check.NoError(t, err)
		_, err = c.Heartbeat(ctx, devicePing(id, "phone", t0))
		check.NoError(t, err)
		end := endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "phone"})
		check.Equal(t, availability.DeviceEnd{Online: true, Last: true}, end, "the tablet's lease is stale")
	})

	t.Run("ASeedGivesAPingOnlyPostgresHadAnUnnamedLease", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id, lost := uuid.New(), uuid.New()
		// After a data loss the seed rebuilds the heartbeat from Postgres: some device sent
		// that ping, which Valkey cannot name. It holds the mitra until it goes stale.
		seed(t, c, 1, st(lost, true, true, d(-20*time.Second), 0))
		check.Equal(t, map[string]availability.DeviceLease{
			availability.UnnamedDevice: {Device: availability.UnnamedDevice, Heartbeat: t0.Add(-20 * time.Second)},
		}, allLeasesOf(t, c, lost))
		end := endDevice(t, c, availability.EndDeviceParams{MitraID: lost, Device: "phone"})
		check.Equal(t, availability.DeviceEnd{Online: true, Heartbeat: t0.Add(-20 * time.Second)}, end)

		// A ping that fell back to Postgres (a reseed brings it) is fresher than every
		// lease: it stands when the phone leaves.
		seed(t, c, 1, st(id, true, true, d(-5*time.Minute), 0))
		_, err := c.Heartbeat(ctx, devicePing(id, "phone", t0.Add(5*time.Second)))
		check.NoError(t, err)
		seed(t, c, 1, st(id, true, true, d(40*time.Second), 0))
		check.Equal(t, availability.DeviceLease{Device: availability.UnnamedDevice, Heartbeat: t0.Add(40 * time.Second)},
			allLeasesOf(t, c, id)[availability.UnnamedDevice])
		_, err = c.Heartbeat(ctx, devicePing(id, "phone", t0.Add(50*time.Second)))
		check.NoError(t, err)
		end = endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "phone"})
		check.Equal(t, availability.DeviceEnd{Online: true, Heartbeat: t0.Add(40 * time.Second)}, end)
		check.Equal(t, t0.Add(40*time.Second), dump(t, c, id).Heartbeats[id])
		// Once it is stale, nothing is left.
		_, err = c.Heartbeat(ctx, devicePing(id, "phone", t0.Add(60*time.Second)))
		check.NoError(t, err)
		end = endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "phone", FreshAfter: t0.Add(45 * time.Second)})
		check.Equal(t, availability.DeviceEnd{Online: true, Last: true}, end)

		// A heartbeat that no lease explains at all (a host's cache seeded before it knew of
		// devices) stands the same way.
		apply(t, c, t0, st(lost, true, true, d(0), 0))
		end = endDevice(t, c, availability.EndDeviceParams{MitraID: lost, Device: availability.UnnamedDevice})
		check.Equal(t, availability.DeviceEnd{Online: true, Heartbeat: t0}, end)
	})

	t.Run("StreamsKeepLeasesAliveButDoNotBringBackADeviceThatSignedOff", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id, off, deact := uuid.New(), uuid.New(), uuid.New()
		seed(t, c, 1, st(id, true, true, d(0), 0), st(off, true, false, nil, 0), st(deact, false, false, nil, 0))
		_, err := c.Heartbeat(ctx, devicePing(id, "phone", t0))
		check.NoError(t, err)
		_, err = c.Heartbeat(ctx, devicePing(id, "watch", t0))
		check.NoError(t, err)
		end := endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "watch"})
		check.True(t, end.Online && !end.Last)
		check.Equal(t, availability.DeviceLease{Device: "watch"}, allLeasesOf(t, c, id)["watch"], "an empty lease")

		res := streams(t, c, t0.Add(40*time.Second),
			availability.StreamWrite{MitraID: id, Device: "phone"},
			availability.StreamWrite{MitraID: id, Device: "tablet"},
			availability.StreamWrite{MitraID: id, Device: "watch"},
			availability.StreamWrite{MitraID: off, Device: "phone"},
			availability.StreamWrite{MitraID: deact, Device: "phone"})
		check.Equal(t, []availability.StreamResult{{Online: true}, {Online: true}, {}, {}, {Deactivated: true}}, res)
		check.Equal(t, map[string]availability.DeviceLease{
			"phone":  {Device: "phone", Heartbeat: t0, Stream: t0.Add(40 * time.Second), StreamOpen: true},
			"tablet": {Device: "tablet", Stream: t0.Add(40 * time.Second), StreamOpen: true},
		}, leasesOf(t, c, id), "the watch signed off: its stream does not bring it back")
		dd := dump(t, c, id)
		check.Equal(t, t0.Add(40*time.Second), dd.Heartbeats[id], "a stream's contact is a ping")
		check.Equal(t, t0.Add(40*time.Second).UnixMilli(), dd.Index[id])
		check.Len(t, leasesOf(t, c, off), 0)

		// Another instance with a clock behind refreshes it: nothing moves back.
		streams(t, c, t0.Add(35*time.Second), availability.StreamWrite{MitraID: id, Device: "phone"})
		res = streams(t, c, t0.Add(50*time.Second),
			availability.StreamWrite{MitraID: id, Device: "phone", Closed: true},
			availability.StreamWrite{MitraID: id, Device: "laptop", Closed: true})
		check.Equal(t, []availability.StreamResult{{Online: true, ClosedAt: t0.Add(50 * time.Second)}, {}}, res,
			"the close of a device without a lease writes nothing")
		check.Equal(t, availability.DeviceLease{Device: "phone", Heartbeat: t0, Stream: t0.Add(50 * time.Second)},
			leasesOf(t, c, id)["phone"])

		// A heartbeat of the watch brings it back, and its stream with it.
		_, err = c.Heartbeat(ctx, devicePing(id, "watch", t0.Add(55*time.Second)))
		check.NoError(t, err)
		res = streams(t, c, t0.Add(60*time.Second), availability.StreamWrite{MitraID: id, Device: "watch"})
		check.Equal(t, []availability.StreamResult{{Online: true}}, res)
	})

	t.Run("TheGraceEndsOnlyAStreamNothingRefreshedSince", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id := uuid.New()
		seed(t, c, 1, st(id, true, true, d(-2*time.Minute), 0))
		_, err := c.Heartbeat(ctx, devicePing(id, "phone", t0.Add(-2*time.Minute)))
		check.NoError(t, err)
		streams(t, c, t0.Add(-10*time.Second), availability.StreamWrite{MitraID: id, Device: "phone"})
		closed := streams(t, c, t0, availability.StreamWrite{MitraID: id, Device: "phone", Closed: true})[0].ClosedAt
		check.Equal(t, t0, closed)

		// A reconnect (a refresh since the close): the grace ends nothing.
		streams(t, c, t0.Add(5*time.Second), availability.StreamWrite{MitraID: id, Device: "phone"})
		end := endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "phone", StreamClosedAt: &closed})
		check.Equal(t, availability.DeviceEnd{Online: true, Reconnected: true}, end)
		check.True(t, leasesOf(t, c, id)["phone"].StreamOpen)

		// Closed again and not reconnected: the stream's lease ends; the phone's own
		// heartbeat is stale, so nothing live is left.
		closed = streams(t, c, t0.Add(10*time.Second), availability.StreamWrite{MitraID: id, Device: "phone", Closed: true})[0].ClosedAt
		end = endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "phone", StreamClosedAt: &closed, FreshAfter: t0.Add(30*time.Second - staleAfter)})
		check.Equal(t, availability.DeviceEnd{Online: true, Last: true}, end)
		check.Len(t, leasesOf(t, c, id), 0)
	})

	t.Run("TheGraceKeepsTheDevicesOwnHeartbeat", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		id := uuid.New()
		seed(t, c, 1, st(id, true, true, d(0), 0))
		// The phone pings and streams; the tablet only pinged, long ago.
		_, err := c.Heartbeat(ctx, devicePing(id, "tablet", t0))
		check.NoError(t, err)
		_, err = c.Heartbeat(ctx, devicePing(id, "phone", t0.Add(10*time.Second)))
		check.NoError(t, err)
		streams(t, c, t0.Add(20*time.Second), availability.StreamWrite{MitraID: id, Device: "phone"})
		closed := streams(t, c, t0.Add(30*time.Second), availability.StreamWrite{MitraID: id, Device: "phone", Closed: true})[0].ClosedAt
		end := endDevice(t, c, availability.EndDeviceParams{MitraID: id, Device: "phone", StreamClosedAt: &closed, FreshAfter: t0.Add(50*time.Second - staleAfter)})
		check.Equal(t, availability.DeviceEnd{Online: true, Heartbeat: t0.Add(10 * time.Second)}, end)
		check.Equal(t, availability.DeviceLease{Device: "phone", Heartbeat: t0.Add(10 * time.Second)}, leasesOf(t, c, id)["phone"])
		dd := dump(t, c, id)
		check.Equal(t, t0.Add(10*time.Second), dd.Heartbeats[id], "back to the phone's own heartbeat, formatted as Go does")
		check.Equal(t, t0.Add(10*time.Second).UnixMilli(), dd.Index[id])
	})

	t.Run("GoingOfflineDropsEveryLease", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		a, b, cc := uuid.New(), uuid.New(), uuid.New()
		seed(t, c, 1, st(a, true, true, d(0), 0), st(b, true, true, d(-5*time.Minute), 0), st(cc, true, true, d(0), 0))
		for _, id := range []uuid.UUID{a, b, cc} {
			_, err := c.Heartbeat(ctx, devicePing(id, "phone", t0.Add(-4*time.Minute)))
			check.NoError(t, err)
		}
		apply(t, c, t0, st(a, true, false, d(0), 0)) // offline
		_, _, err := c.Offline(ctx, availability.OfflineParams{IDs: []uuid.UUID{b}, StaleBefore: t0.Add(-staleAfter), At: t0})
		check.NoError(t, err)
		apply(t, c, t0, st(cc, false, false, d(0), 0)) // deactivated
		for _, id := range []uuid.UUID{a, b, cc} {
			check.Len(t, leasesOf(t, c, id), 0)
			check.NoKey(t, dump(t, c, id).Devices, id)
		}
	})

	t.Run("SeedKeepsTheLeasesOfOnlineMitrasOnly", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		on, off := uuid.New(), uuid.New()
		seed(t, c, 1, st(on, true, true, d(0), 0), st(off, true, true, d(0), 0))
		for _, id := range []uuid.UUID{on, off} {
			_, err := c.Heartbeat(ctx, devicePing(id, "phone", t0.Add(time.Second)))
			check.NoError(t, err)
		}
		seed(t, c, 1, st(on, true, true, d(0), 0), st(off, true, false, d(0), 0))
		check.Equal(t, map[string]availability.DeviceLease{"phone": {Device: "phone", Heartbeat: t0.Add(time.Second)}}, leasesOf(t, c, on))
		check.Len(t, allLeasesOf(t, c, off), 0, "the unnamed lease of the first seed goes too")
		check.HasKey(t, allLeasesOf(t, c, on), availability.UnnamedDevice, "an online mitra keeps it")
		check.Equal(t, t0.Add(time.Second), dump(t, c, on).Heartbeats[on])
	})

	t.Run("UnseededCacheRefusesDeviceReads", func(t *testing.T) {
		t.Parallel()
		c := newHarness(t).Cache
		ctx := check.Context(t)
		_, err := c.Heartbeat(ctx, devicePing(uuid.New(), "phone", t0))
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.Streams(ctx, availability.StreamsParams{Writes: []availability.StreamWrite{{MitraID: uuid.New(), Device: "phone"}}, At: t0})
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.EndDevice(ctx, availability.EndDeviceParams{MitraID: uuid.New(), Device: "phone"})
		check.ErrorIs(t, err, availability.ErrNotSeeded)
		_, err = c.Devices(ctx, []uuid.UUID{uuid.New()})
		check.ErrorIs(t, err, availability.ErrNotSeeded)
	})
}
