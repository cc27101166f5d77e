package sweeps_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/sweeps"
	"github.com/curhat/curhat/sweeps/sweepstest"
)

// TestLocker runs one contract against every Locker implementation.
func TestLocker(t *testing.T) {
	t.Parallel()
	impls := map[string]func(t *testing.T) sweeps.Locker{
		"valkey": func(t *testing.T) sweeps.Locker {
			v := testenv.NewValkey(t)
			return sweeps.NewValkeyLocker(v.Client, v.Prefix)
		},
		"memory": func(*testing.T) sweeps.Locker { return sweepstest.NewLocker(nil) },
	}
	for name, newLocker := range impls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runLockerContract(t, newLocker)
		})
	}
}

func runLockerContract(t *testing.T, newLocker func(t *testing.T) sweeps.Locker) {
	ctx := context.Background()

	t.Run("HeldLockRefusesOthersUntilReleased", func(t *testing.T) {
		t.Parallel()
		l := newLocker(t)
		release, ok, err := l.TryLock(ctx, "reseed", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		_, ok, err = l.TryLock(ctx, "reseed", time.Minute)
		require.NoError(t, err)
		require.False(t, ok, "held by the first holder")

		_, ok, err = l.TryLock(ctx, "auto_offline", time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "locks are per name")

		release()
		release() // idempotent
		_, ok, err = l.TryLock(ctx, "reseed", time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "free after release")
	})

	t.Run("LockExpiresAfterTTL", func(t *testing.T) {
		t.Parallel()
		l := newLocker(t)
		_, ok, err := l.TryLock(ctx, "timeouts", 30*time.Millisecond)
		require.NoError(t, err)
		require.True(t, ok)
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, ok, err = l.TryLock(ctx, "timeouts", time.Minute)
			require.NoError(t, err)
			if ok {
				break
			}
			require.True(t, time.Now().Before(deadline), "lock never expired")
			time.Sleep(5 * time.Millisecond) // polling interval
		}
	})

	t.Run("LateReleaseDoesNotFreeTheNextHoldersLock", func(t *testing.T) {
		t.Parallel()
		l := newLocker(t)
		stale, ok, err := l.TryLock(ctx, "payments", 20*time.Millisecond)
		require.NoError(t, err)
		require.True(t, ok)
		var ok2 bool
		deadline := time.Now().Add(5 * time.Second)
		for !ok2 {
			require.True(t, time.Now().Before(deadline), "lock never expired")
			time.Sleep(5 * time.Millisecond) // polling interval
			_, ok2, err = l.TryLock(ctx, "payments", time.Minute)
			require.NoError(t, err)
		}
		stale() // the first holder wakes up late
		_, ok, err = l.TryLock(ctx, "payments", time.Minute)
		require.NoError(t, err)
		require.False(t, ok, "the second holder still has it")
	})
}

func TestValkeyLocker_FailsFastWhenValkeyIsDown(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	c, err := valkeyutil.NewClient(valkeyutil.Options{URL: srv.URL()})
	require.NoError(t, err)
	defer c.Close()
	l := sweeps.NewValkeyLocker(c, "")
	_, ok, err := l.TryLock(context.Background(), "x", time.Second)
	require.NoError(t, err)
	require.True(t, ok)

	require.NoError(t, srv.Stop())
	start := time.Now()
	_, ok, err = l.TryLock(context.Background(), "y", time.Second)
	require.Error(t, err)
	require.False(t, ok)
	require.Less(t, time.Since(start), 3*time.Second)
}

func TestValkeyLocker_GivesUpWithinItsDeadlineWhenValkeyFreezes(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	c, err := valkeyutil.NewClient(valkeyutil.Options{URL: srv.URL()})
	require.NoError(t, err)
	defer c.Close()
	l := sweeps.NewValkeyLocker(c, "")
	require.NoError(t, srv.Pause())
	defer func() { _ = srv.Resume() }()
	start := time.Now()
	_, ok, err := l.TryLock(context.Background(), "x", time.Second)
	require.Error(t, err)
	require.False(t, ok)
	require.Less(t, time.Since(start), sweeps.LockCallTimeout+2*time.Second)
}
