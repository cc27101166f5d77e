package availability_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/testenv"
)

// The invariants, one test each, against the in-memory cache and against a
// private redis-server that the tests stop and restart.

const (
	outageMemory = "memory"
	outageRedis  = "redis-server"
)

// outage is a Mirror whose Valkey can be taken down and brought back (empty).
type outage struct {
	*bundle
	srv *testenv.RedisServer
}

func setupOutage(t *testing.T, kind string, o setupOptions) *outage {
	t.Helper()
	if o.cfg.ValkeyTimeout == 0 {
		o.cfg.ValkeyTimeout = time.Second // a call to a stopped server waits it out once
	}
	if kind == outageMemory {
		return &outage{bundle: seeded(t, kindMemory, o)}
	}
	srv := testenv.StartRedis(t)
	o.redisURL = srv.URL()
	return &outage{bundle: seeded(t, kindValkey, o), srv: srv}
}

func forOutages(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, k := range []string{outageMemory, outageRedis} {
		t.Run(k, func(t *testing.T) {
			t.Parallel()
			fn(t, k)
		})
	}
}

// down makes every Valkey call fail (connection refused).
func (o *outage) down(t testing.TB) {
	t.Helper()
	if o.srv != nil {
		require.NoError(t, o.srv.Stop())
		return
	}
	o.mem.SetDown(true)
}

// up brings Valkey back, empty (a restart without persistence).
func (o *outage) up(t testing.TB) {
	t.Helper()
	if o.srv != nil {
		require.NoError(t, o.srv.Start())
		return
	}
	o.mem.Restart()
	o.mem.SetDown(false)
}

// awaitSeed drives the watchdog (its timer runs on the fake clock) until a seed beyond
// `seeds` succeeded.
func (o *outage) awaitSeed(t testing.TB, seeds int64, step time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		o.clock.Advance(step)
		return o.hooks.Seeds() > seeds
	}, 20*time.Second, 10*time.Millisecond, "the watchdog reseeds without a manual call")
}

func TestInvariant1_MirrorEqualsPostgresAfterWrites(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		rng := rand.New(rand.NewPCG(1, uint64(len(kind))))
		var ids []uuid.UUID
		for range 8 {
			ids = append(ids, b.newMitra(t))
		}
		expected := func(err error) {
			t.Helper()
			if err != nil && !errors.Is(err, availability.ErrDeactivated) {
				require.NoError(t, err)
			}
		}
		devices := []string{"phone", "tablet", "laptop"}
		var open []*availability.Stream
		defer func() {
			for _, s := range open {
				s.Close()
			}
		}()
		for step := range 160 {
			id := ids[rng.IntN(len(ids))]
			device := devices[rng.IntN(len(devices))]
			switch op := rng.IntN(15); op {
			case 0, 1:
				expected(b.mirror.SetOnline(ctx, id))
			case 2:
				expected(b.mirror.SetOffline(ctx, id))
			case 3:
				_, err := b.mirror.SetActive(ctx, id, rng.IntN(3) > 0)
				expected(err)
			case 4, 5:
				_, err := b.mirror.Heartbeat(ctx, id)
				expected(err)
			case 6:
				b.facts.setOpen(t, id, rng.IntN(3))
				_, err := b.mirror.RecomputeCapacity(ctx, id)
				require.NoError(t, err)
			case 7:
				b.clock.Advance(time.Duration(rng.IntN(60)) * time.Second)
				_, err := b.mirror.AutoOffline(ctx)
				require.NoError(t, err)
			case 8:
				_, err := b.mirror.MirrorHeartbeats(ctx)
				require.NoError(t, err)
			case 9:
				_, err := b.mirror.SeedFromPostgres(ctx)
				require.NoError(t, err)
			case 10:
				expected(b.mirror.SetOnlineDevice(ctx, id, device))
			case 11:
				_, err := b.mirror.HeartbeatDevice(ctx, id, device)
				expected(err)
			case 12:
				_, err := b.mirror.EndDevice(ctx, id, device)
				require.NoError(t, err)
			case 13:
				s, err := b.mirror.OpenStream(ctx, availability.StreamParams{MitraID: id, Device: device})
				expected(err)
				if err == nil {
					open = append(open, s)
				}
			case 14: // a stream closes; its grace may end at a later step's clock advance
				if len(open) > 0 {
					i := rng.IntN(len(open))
					open[i].Close()
					open = append(open[:i], open[i+1:]...)
				}
			}
			rep, err := b.mirror.Drift(ctx)
			require.NoError(t, err)
			require.Empty(t, rep.Differences, "after step %d", step)
		}
		require.Zero(t, b.hooks.Fallbacks())
		require.Zero(t, b.hooks.WriteFailures())
	})
}

func TestInvariant2_ValkeyDownEveryReadAnswersWhatPostgresImpliesAndNoRequestFails(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		o := setupOutage(t, kind, setupOptions{})
		ctx := ctxT(t)
		avail, full, staleOne, offline, deact := o.onlineMitra(t), o.onlineMitra(t), o.onlineMitra(t), o.newMitra(t), o.onlineMitra(t)
		o.facts.setOpen(t, full, 1)
		_, err := o.mirror.RecomputeCapacity(ctx, full)
		require.NoError(t, err)
		_, err = o.mirror.SetActive(ctx, deact, false)
		require.NoError(t, err)
		o.clock.Advance(80 * time.Second)
		for _, id := range []uuid.UUID{avail, full} {
			_, err := o.mirror.Heartbeat(ctx, id)
			require.NoError(t, err)
		}
		_, err = o.mirror.MirrorHeartbeats(ctx)
		require.NoError(t, err)
		o.clock.Advance(20 * time.Second)

		o.down(t)
		all := []uuid.UUID{avail, full, staleOne, offline, deact, uuid.New()}
		requireSameAnswers(t, o.mirror, o.postgresOnly(), all...)
		require.Positive(t, o.hooks.Fallbacks())

		// Writes and pings keep working (Postgres only), and reads keep following them.
		online, err := o.mirror.Heartbeat(ctx, avail)
		require.NoError(t, err)
		require.True(t, online)
		require.NoError(t, o.mirror.SetOnline(ctx, offline))
		require.NoError(t, o.mirror.SetOffline(ctx, avail))
		_, err = o.mirror.SetActive(ctx, deact, true)
		require.NoError(t, err)
		o.facts.setOpen(t, full, 0)
		n, err := o.mirror.RecomputeCapacity(ctx, full)
		require.NoError(t, err)
		require.Zero(t, n)
		o.clock.Advance(availability.DefaultSnapshotTTL + time.Second) // let the beacon refresh
		requireSameAnswers(t, o.mirror, o.postgresOnly(), all...)
		ids, err := o.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.ElementsMatch(t, []uuid.UUID{full, offline}, ids)
	})
}

func TestInvariant3_DeactivatedHeartbeatIsRefusedWithValkeyUpOrDown(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		o := setupOutage(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := o.onlineMitra(t)
		_, err := o.mirror.SetActive(ctx, id, false)
		require.NoError(t, err)

		_, err = o.mirror.Heartbeat(ctx, id)
		require.ErrorIs(t, err, availability.ErrDeactivated, "valkey up")
		o.down(t)
		_, err = o.mirror.Heartbeat(ctx, id)
		require.ErrorIs(t, err, availability.ErrDeactivated, "valkey down")
		o.up(t)
		_, err = o.mirror.Heartbeat(ctx, id)
		require.ErrorIs(t, err, availability.ErrDeactivated, "valkey back but empty")
		_, err = o.mirror.SeedFromPostgres(ctx)
		require.NoError(t, err)
		_, err = o.mirror.Heartbeat(ctx, id)
		require.ErrorIs(t, err, availability.ErrDeactivated, "valkey reseeded")
	})
}

func TestInvariant4_MitraPingingThroughAnOutageAndRestartIsNeverAutoOfflined(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		o := setupOutage(t, kind, setupOptions{cfg: availability.Config{WatchdogInterval: time.Second}})
		ctx := ctxT(t)
		pinger, silent := o.onlineMitra(t), o.onlineMitra(t)
		require.NoError(t, o.mirror.Start(ctx))
		t.Cleanup(func() { require.NoError(t, o.mirror.Stop(context.Background())) })

		pings := 0
		requirePingerOnline := func(when string) {
			t.Helper()
			m, err := o.mirror.GetMitra(ctx, pinger)
			require.NoError(t, err)
			require.True(t, m.IsOnline, when)
			// Two devices take turns: each pings every minute, the mitra every 30 s.
			pings++
			online, err := o.mirror.HeartbeatDevice(ctx, pinger, []string{"phone", "tablet"}[pings%2])
			require.NoError(t, err)
			require.True(t, online, when)
		}
		sweep := func() {
			_, _ = o.mirror.AutoOffline(ctx) // fails while valkey is down: that is the point
		}
		seeds := o.hooks.Seeds()
		for i := range 12 { // 6 minutes of pings every 30 s, a 3-minute outage in the middle
			switch i {
			case 2:
				o.down(t)
			case 8:
				o.up(t)
				o.awaitSeed(t, seeds, 100*time.Millisecond)
			}
			o.clock.Advance(30 * time.Second)
			requirePingerOnline("before the sweep")
			sweep()
			requirePingerOnline("after the sweep")
		}
		m, err := o.mirror.GetMitra(ctx, silent)
		require.NoError(t, err)
		require.False(t, m.IsOnline, "the silent one went offline once valkey was back")
		o.requireNoDrift(t)
	})
}

func TestInvariant4_MitraPingingThroughAnInstantRestartIsNeverAutoOfflined(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		o := setupOutage(t, kind, setupOptions{cfg: availability.Config{WatchdogInterval: time.Second}})
		ctx := ctxT(t)
		o.clock.Advance(5 * time.Minute) // long after the first seed
		pinger, silent := o.onlineMitra(t), o.onlineMitra(t)
		require.NoError(t, o.mirror.Start(ctx))
		t.Cleanup(func() { require.NoError(t, o.mirror.Stop(context.Background())) })

		// Pings reach valkey only: postgres still says the heartbeat is from SetOnline.
		for range 2 {
			o.clock.Advance(30 * time.Second)
			_, err := o.mirror.Heartbeat(ctx, pinger)
			require.NoError(t, err)
		}
		// Valkey restarts empty between two pings and no ping falls back to postgres.
		o.clock.Advance(20 * time.Second)
		seeds := o.hooks.Seeds()
		o.down(t)
		o.up(t)
		o.awaitSeed(t, seeds, 100*time.Millisecond)

		// The heartbeat rebuilt from postgres is 80 s old; the next ping is due in 10 s. A
		// sweep now must not take the pinger for stale.
		o.clock.Advance(15 * time.Second)
		// A connection that died with the old server may still fail one command (EOF):
		// the sweep then aborts offlining nobody, and the next run decides.
		var rep availability.AutoOfflineReport
		var err error
		for range 3 {
			if rep, err = o.mirror.AutoOffline(ctx); err == nil {
				break
			}
			require.Zero(t, rep.Offlined, "an aborted sweep offlines nobody")
		}
		require.NoError(t, err)
		require.Zero(t, rep.Offlined)
		online, err := o.mirror.Heartbeat(ctx, pinger)
		require.NoError(t, err)
		require.True(t, online)

		// Once a full threshold has passed since the recovery, the silent one goes.
		for range 4 {
			o.clock.Advance(30 * time.Second)
			_, err := o.mirror.Heartbeat(ctx, pinger)
			require.NoError(t, err)
			_, err = o.mirror.AutoOffline(ctx)
			require.NoError(t, err)
		}
		m, err := o.mirror.GetMitra(ctx, pinger)
		require.NoError(t, err)
		require.True(t, m.IsOnline)
		m, err = o.mirror.GetMitra(ctx, silent)
		require.NoError(t, err)
		require.False(t, m.IsOnline)
		o.requireNoDrift(t)
	})
}

func TestInvariant5_SilentMitraIsAutoOfflinedWithinThresholdPlusCadence(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		silent, pinger := b.deviceOnline(t, "phone"), b.deviceOnline(t, "phone")
		for _, id := range []uuid.UUID{silent, pinger} {
			_, err := b.mirror.HeartbeatDevice(ctx, id, "tablet")
			require.NoError(t, err)
		}
		const cadence = 30 * time.Second // MITRA_AUTO_OFFLINE_SWEEP_SECONDS
		var offlineAt time.Duration
		for elapsed := cadence; elapsed <= availability.DefaultStaleThreshold+cadence; elapsed += cadence {
			b.clock.Advance(cadence)
			_, err := b.mirror.HeartbeatDevice(ctx, pinger, "tablet") // the phone went silent too
			require.NoError(t, err)
			_, err = b.mirror.AutoOffline(ctx)
			require.NoError(t, err)
			m, err := b.mirror.GetMitra(ctx, silent)
			require.NoError(t, err)
			if !m.IsOnline && offlineAt == 0 {
				offlineAt = elapsed
			}
			if elapsed <= availability.DefaultStaleThreshold {
				require.True(t, m.IsOnline, "not before the threshold (%s)", elapsed)
			}
		}
		require.NotZero(t, offlineAt, "offline within threshold + cadence")
		ok, err := b.mirror.IsReachable(ctx, silent)
		require.NoError(t, err)
		require.False(t, ok)
		online, err := b.mirror.Heartbeat(ctx, silent)
		require.NoError(t, err)
		require.False(t, online, "the app learns it at its next ping")
		m, err := b.mirror.GetMitra(ctx, pinger)
		require.NoError(t, err)
		require.True(t, m.IsOnline)
		b.requireNoDrift(t)
	})
}

func TestInvariant6_ValkeyErrorDuringAutoOfflineOfflinesNobody(t *testing.T) {
	t.Parallel()
	forOutages(t, func(t *testing.T, kind string) {
		for _, phase := range []string{"read", "write"} {
			t.Run(phase, func(t *testing.T) {
				spy := (*spyCache)(nil)
				o := setupOutage(t, kind, setupOptions{wrapCache: func(c availability.Cache) availability.Cache { spy = newSpy(c); return spy }})
				ctx := ctxT(t)
				ids := []uuid.UUID{o.deviceOnline(t, "phone"), o.deviceOnline(t, "phone"), o.deviceOnline(t, "phone")}
				for _, id := range ids {
					_, err := o.mirror.HeartbeatDevice(ctx, id, "tablet")
					require.NoError(t, err)
				}
				o.clock.Advance(5 * time.Minute) // every lease of every one of them is stale
				switch phase {
				case "read":
					o.down(t)
				case "write":
					// Valkey dies between the sweep's read and its write.
					spy.setAfter("StaleOnline", func() { o.down(t) })
				}
				rep, err := o.mirror.AutoOffline(ctx)
				require.Error(t, err)
				require.Zero(t, rep.Offlined)
				for _, id := range ids {
					m, err := o.mirror.GetMitra(ctx, id)
					require.NoError(t, err)
					require.True(t, m.IsOnline, "nobody offlined")
				}
			})
		}
	})
}
