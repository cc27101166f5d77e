package availability_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
)

// presenceLog records what OnPresence reported to a stream.
type presenceLog struct {
	mu  sync.Mutex
	got []bool
}

func (l *presenceLog) record(online bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, online)
}

func (l *presenceLog) changes() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.got...)
}

// started is a seeded bundle whose Mirror runs (the refresh passes of the streams' leases
// on the fake clock), stopped when the test ends.
func started(t *testing.T, kind string) *bundle {
	t.Helper()
	b := seeded(t, kind, setupOptions{})
	require.NoError(t, b.mirror.Start(ctxT(t)))
	requireStopped(t, b.mirror)
	return b
}

func (b *bundle) openStream(t *testing.T, id uuid.UUID, device string) (*availability.Stream, *presenceLog) {
	t.Helper()
	log := &presenceLog{}
	s, err := b.mirror.OpenStream(ctxT(t), availability.StreamParams{MitraID: id, Device: device, OnPresence: log.record})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, log
}

// presence is what the console and the beacon see of a mitra.
type presence struct {
	Online, Reachable   bool
	OnlineCount, Avail  int
	UpdatedAt, AvailSeq string
	AvailableIDs        []uuid.UUID
}

func (b *bundle) presence(t *testing.T, id uuid.UUID) presence {
	t.Helper()
	ctx := ctxT(t)
	var p presence
	var err error
	m, err := b.mirror.GetMitra(ctx, id)
	require.NoError(t, err)
	p.Online, p.UpdatedAt = m.IsOnline, m.UpdatedAt.String()
	p.Reachable, err = b.mirror.IsReachable(ctx, id)
	require.NoError(t, err)
	p.OnlineCount, err = b.mirror.OnlineCount(ctx)
	require.NoError(t, err)
	p.Avail, err = b.mirror.AvailableCount(ctx)
	require.NoError(t, err)
	p.AvailableIDs, err = b.mirror.FindAvailable(ctx, availability.FindOptions{})
	require.NoError(t, err)
	if b.db != nil { // the change log every copy of the available index follows
		p.AvailSeq, _ = b.client.Client.Do(ctx, b.client.Client.B().Get().Key(b.names.Key("mitras:available_seq")).Build()).ToString()
	}
	return p
}

func TestStream_AnOpenStreamHoldsTheMitraOnlinePastTheStaleThresholdWithoutHeartbeats(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := started(t, kind)
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		s, log := b.openStream(t, id, "phone")
		require.True(t, s.Online())
		for range 10 { // 200 s, more than twice the stale threshold
			b.clock.Advance(20 * time.Second)
			_, err := b.mirror.AutoOffline(ctx)
			require.NoError(t, err)
			p := b.presence(t, id)
			require.True(t, p.Online)
			require.True(t, p.Reachable)
			require.Equal(t, []uuid.UUID{id}, p.AvailableIDs)
		}
		devs, err := b.mirror.Devices(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []availability.Device{{ID: "phone", LastSeenAt: b.clock.Now(), Streaming: true}}, devs)
		require.Empty(t, log.changes())
		b.requireNoDrift(t)
	})
}

func TestStream_AReconnectWithinTheGraceChangesNothingAnybodySees(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := started(t, kind)
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		s, _ := b.openStream(t, id, "phone")
		b.clock.Advance(2 * time.Minute) // the stream alone holds the mitra
		before := b.presence(t, id)

		s.Close()
		devs, err := b.mirror.Devices(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []availability.Device{{ID: "phone", LastSeenAt: b.clock.Now()}}, devs, "not streaming, still a lease")
		for range 3 { // 15 s of the 20 s grace
			b.clock.Advance(5 * time.Second)
			_, err := b.mirror.AutoOffline(ctx)
			require.NoError(t, err)
			require.Equal(t, before, b.presence(t, id), "during the grace")
		}
		again, log := b.openStream(t, id, "phone")
		require.True(t, again.Online())
		for range 6 { // past the first stream's grace, and long after
			b.clock.Advance(10 * time.Second)
			_, err := b.mirror.AutoOffline(ctx)
			require.NoError(t, err)
			require.Equal(t, before, b.presence(t, id), "after the reconnect")
		}
		require.Empty(t, log.changes(), "no presence change for the app either")
		b.requireNoDrift(t)
	})
}

func TestStream_PastTheGraceTheMitraGoesOffline(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := started(t, kind)
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		s, _ := b.openStream(t, id, "phone")
		b.clock.Advance(2 * time.Minute)
		s.Close()
		b.clock.Advance(availability.DefaultReconnectGrace - time.Second)
		b.requireOnline(t, id, true, "within the grace")
		b.clock.Advance(time.Second)
		b.requireOnline(t, id, false, "at the end of the grace, without waiting for the sweep")
		n, err := b.mirror.OnlineCount(ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		// A late reconnect does not bring it back: going online does.
		late, log := b.openStream(t, id, "phone")
		require.False(t, late.Online())
		require.NoError(t, b.mirror.SetOnlineDevice(ctx, id, "phone"))
		require.True(t, late.Online())
		require.Equal(t, []bool{true}, log.changes())
		b.requireNoDrift(t)
	})
}

func TestStream_AClosedStreamKeepsTheDevicesOwnHeartbeats(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := started(t, kind)
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		s, _ := b.openStream(t, id, "phone")
		b.clock.Advance(25 * time.Second)
		_, err := b.mirror.HeartbeatDevice(ctx, id, "phone") // an app that does both
		require.NoError(t, err)
		b.clock.Advance(5 * time.Second)
		s.Close()
		b.clock.Advance(availability.DefaultReconnectGrace + time.Second)
		b.requireOnline(t, id, true, "its heartbeat 26 s ago holds it")
		b.clock.Advance(availability.DefaultStaleThreshold)
		_, err = b.mirror.AutoOffline(ctx)
		require.NoError(t, err)
		b.requireOnline(t, id, false, "then it goes stale")
	})
}

func TestStream_AnotherDevicesStreamKeepsTheMitraOnline(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := started(t, kind)
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		require.NoError(t, b.mirror.SetOnlineDevice(ctx, id, "tablet"))
		phone, _ := b.openStream(t, id, "phone")
		b.openStream(t, id, "tablet")
		b.clock.Advance(time.Minute)
		phone.Close()
		b.clock.Advance(3 * time.Minute)
		_, err := b.mirror.AutoOffline(ctx)
		require.NoError(t, err)
		b.requireOnline(t, id, true)
		devs, err := b.mirror.Devices(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []availability.Device{{ID: "tablet", LastSeenAt: b.clock.Now(), Streaming: true}}, devs)
	})
}

func TestStream_ADeviceThatSignedOffStaysOffWithItsStreamOpen(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := started(t, kind)
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		require.NoError(t, b.mirror.SetOnlineDevice(ctx, id, "tablet"))
		phone, log := b.openStream(t, id, "phone") // kept open for the chat's events
		online, err := b.mirror.EndDevice(ctx, id, "phone")
		require.NoError(t, err)
		require.True(t, online, "the tablet holds the mitra")
		b.clock.Advance(20 * time.Second)
		require.False(t, phone.Online())
		require.Equal(t, []bool{false}, log.changes(), "the phone's app is told at the next refresh")
		require.Equal(t, []string{"tablet"}, b.deviceIDs(t, id), "the stream did not bring the phone back")

		// The tablet goes silent: the mitra goes stale, the open stream of the phone does
		// not hold it.
		b.clock.Advance(availability.DefaultStaleThreshold)
		_, err = b.mirror.AutoOffline(ctx)
		require.NoError(t, err)
		b.requireOnline(t, id, false)
		b.requireNoDrift(t)
	})
}

func TestStream_ValkeyDownTheStreamsKeepTheirMitrasReachableThroughPostgres(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		o := setupOutage(t, kind, setupOptions{cfg: availability.Config{WatchdogInterval: time.Second}})
		ctx := ctxT(t)
		require.NoError(t, o.mirror.Start(ctx))
		requireStopped(t, o.mirror)
		id := o.deviceOnline(t, "phone")
		s, _ := o.openStream(t, id, "phone")
		seeds := o.hooks.Seeds()
		o.down(t)
		for range 6 { // 3 minutes without Valkey
			o.clock.Advance(30 * time.Second)
			ok, err := o.mirror.IsReachable(ctx, id)
			require.NoError(t, err)
			require.True(t, ok, "the refreshes moved last_heartbeat_at in postgres")
		}
		require.True(t, s.Online())
		o.up(t)
		o.awaitSeed(t, seeds, 100*time.Millisecond)
		o.clock.Advance(15 * time.Second) // a refresh writes the stream's lease to valkey again
		ok, err := o.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		o.requireOnline(t, id, true)
		o.requireNoDrift(t)
	})
}

func TestStream_StopEndsTheRefreshesAndTheGraces(t *testing.T) {
	t.Parallel()
	b := seeded(t, kindMemory, setupOptions{})
	ctx := ctxT(t)
	require.NoError(t, b.mirror.Start(ctx))
	id := b.deviceOnline(t, "phone")
	s, _ := b.openStream(t, id, "phone")
	b.clock.Advance(time.Minute)
	s.Close()
	require.NoError(t, b.mirror.Stop(ctx))
	require.NoError(t, b.mirror.Stop(ctx), "idempotent")
	b.clock.Advance(availability.DefaultReconnectGrace + time.Second)
	b.requireOnline(t, id, true, "no grace ends after Stop: the lease lasts until it goes stale")
	_, err := b.mirror.AutoOffline(ctx)
	require.NoError(t, err)
	b.requireOnline(t, id, true)
	b.clock.Advance(availability.DefaultStaleThreshold)
	_, err = b.mirror.AutoOffline(ctx)
	require.NoError(t, err)
	b.requireOnline(t, id, false)
}

func TestStream_RefreshStreamsTellsTheMitrasStreamsOfAChangeAtOnce(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := started(t, kind)
		ctx := ctxT(t)
		id := b.deviceOnline(t, "phone")
		require.NoError(t, b.mirror.SetOnlineDevice(ctx, id, "tablet"))
		_, phoneLog := b.openStream(t, id, "phone")
		tablet, tabletLog := b.openStream(t, id, "tablet")
		other := b.deviceOnline(t, "phone")
		_, otherLog := b.openStream(t, other, "phone")

		// No clock advance: no refresh pass runs, RefreshStreams alone tells the streams.
		_, err := b.mirror.EndDevice(ctx, id, "phone")
		require.NoError(t, err)
		require.NoError(t, b.mirror.RefreshStreams(ctx, id))
		require.Equal(t, []bool{false}, phoneLog.changes(), "the phone signed off")
		require.Empty(t, tabletLog.changes(), "the tablet still holds the mitra")

		require.NoError(t, b.mirror.SetOffline(ctx, id))
		require.NoError(t, b.mirror.RefreshStreams(ctx, id))
		require.Equal(t, []bool{false}, tabletLog.changes(), "every device's offline")
		require.False(t, tablet.Online())
		require.Empty(t, otherLog.changes(), "another mitra's streams are not touched")

		tablet.Close()
		require.NoError(t, b.mirror.RefreshStreams(ctx, uuid.New()), "no stream of the mitra here: nothing to do")
	})
}
