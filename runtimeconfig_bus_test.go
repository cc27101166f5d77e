package curhat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
)

// Long bounds, so that a value seen through B can only come from an invalidation, never
// from expiry.
var noExpiry = &curhat.RuntimeConfigOptions{MaxAge: time.Hour, UnsubscribedMaxAge: time.Hour}

// instance is one process of a deployment: its own pool, its own Valkey client, its own
// RuntimeConfig.
type instance struct {
	store curhat.ConfigStore
	rc    *curhat.RuntimeConfig
}

func newPGInstance(t *testing.T, dbURL string, bus curhat.ConfigBus) instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := curhat.NewPostgresConfigStore(pool)
	rc, err := curhat.NewRuntimeConfig(store, bus, noExpiry)
	require.NoError(t, err)
	startRC(t, rc)
	return instance{store: store, rc: rc}
}

func newValkeyClient(t *testing.T, url string) valkey.Client {
	t.Helper()
	c, err := valkeyutil.NewClient(valkeyutil.Options{URL: url})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// requireSeenWithin polls B's getter: the write must show within d.
func requireSeenWithin(t *testing.T, d time.Duration, rc *curhat.RuntimeConfig, want time.Duration) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, d, fmt.Sprintf("blast timeout %v", want), func() bool { return rc.BlastTimeout(ctx) == want })
}

func TestRuntimeConfig_CrossInstanceInvalidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("PostgresAndValkey", func(t *testing.T) {
		t.Parallel()
		db := testenv.Postgres(t)
		v := testenv.NewValkey(t)
		channel := v.Names().ConfigInvalidate()
		a := newPGInstance(t, db.URL, curhat.NewValkeyConfigBus(v.Client, channel))
		b := newPGInstance(t, db.URL, curhat.NewValkeyConfigBus(newValkeyClient(t, v.URL), channel))

		require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx)) // B caches the default
		for i, secs := range []int{120, 90, 3600} {
			_, err := a.rc.Set(ctx, string(curhat.KeyPairingBlastTimeout), json.RawMessage(fmt.Sprint(secs)), "op")
			require.NoError(t, err, "write %d", i)
			requireSeenWithin(t, time.Second, b.rc, time.Duration(secs)*time.Second)
		}
	})

	t.Run("MemoryBus", func(t *testing.T) {
		t.Parallel()
		store := curhat.NewMemoryConfigStore()
		bus := curhat.NewMemoryConfigBus()
		a, err := curhat.NewRuntimeConfig(store, bus, noExpiry)
		require.NoError(t, err)
		b, err := curhat.NewRuntimeConfig(store, bus, noExpiry)
		require.NoError(t, err)
		startRC(t, a)
		startRC(t, b)

		require.Equal(t, 60*time.Second, b.BlastTimeout(ctx))
		for _, secs := range []int{120, 90, 3600} {
			_, err := a.Set(ctx, string(curhat.KeyPairingBlastTimeout), json.RawMessage(fmt.Sprint(secs)), "op")
			require.NoError(t, err)
			requireSeenWithin(t, time.Second, b, time.Duration(secs)*time.Second)
		}
	})

	t.Run("LostValkeySubscriptionDropsTheCache", func(t *testing.T) {
		t.Parallel()
		db := testenv.Postgres(t)
		srv := testenv.StartRedis(t)
		channel := valkeyutil.NewNames("", false).ConfigInvalidate()
		a := newPGInstance(t, db.URL, curhat.NewValkeyConfigBus(newValkeyClient(t, srv.URL()), channel))
		b := newPGInstance(t, db.URL, curhat.NewValkeyConfigBus(newValkeyClient(t, srv.URL()), channel))

		require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx))
		// A write that bypasses the bus: B, subscribed and with a long MaxAge, keeps its copy.
		_, err := a.store.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPairingBlastTimeout, Value: json.RawMessage(`75`)})
		require.NoError(t, err)
		require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx))

		require.NoError(t, srv.Restart())
		// The lost subscription dropped B's whole cache: the write shows without any message.
		requireSeenWithin(t, 15*time.Second, b.rc, 75*time.Second)

		// Resubscribed by itself: invalidations flow again.
		waitFor(t, 15*time.Second, "both resubscribed", func() bool { return a.rc.Subscribed() && b.rc.Subscribed() })
		_, err = a.rc.Set(ctx, string(curhat.KeyPairingBlastTimeout), json.RawMessage(`80`), "op")
		require.NoError(t, err)
		requireSeenWithin(t, time.Second, b.rc, 80*time.Second)
	})
}

func TestValkeyConfigBus_PublishFailsFastWhenValkeyIsDown(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	bus := curhat.NewValkeyConfigBus(newValkeyClient(t, srv.URL()), "config:invalidate")
	require.NoError(t, bus.Publish(context.Background(), curhat.KeyPaymentSessionTTL))
	require.NoError(t, srv.Stop())
	start := time.Now()
	err := bus.Publish(context.Background(), curhat.KeyPaymentSessionTTL)
	require.ErrorIs(t, err, curhat.ErrUnavailable)
	require.Less(t, time.Since(start), 3*time.Second)
}

func TestRuntimeConfig_FrozenValkeyIsNoticedAsALostSubscription(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(),
		curhat.NewValkeyConfigBus(newValkeyClient(t, srv.URL()), "config:invalidate"), noExpiry)
	require.NoError(t, err)
	startRC(t, rc)

	require.NoError(t, srv.Pause())
	t.Cleanup(func() { _ = srv.Resume() })
	// valkey-go's background PING closes a connection that stops answering.
	waitFor(t, 15*time.Second, "unsubscribed", func() bool { return !rc.Subscribed() })
	require.NoError(t, srv.Resume())
	waitFor(t, 15*time.Second, "resubscribed", rc.Subscribed)
}
