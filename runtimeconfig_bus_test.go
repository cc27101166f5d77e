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

func newPGInstance(t *testing.T, dbURL string, bus curhat.Bus) instance {
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

// valkeyBus is curhat.NewValkeyBus, which must not fail here.
func valkeyBus(t *testing.T, c valkey.Client, names curhat.KeyNames, cfg *curhat.BusConfig) *curhat.ValkeyBus {
	t.Helper()
	b, err := curhat.NewValkeyBus(c, names, cfg)
	require.NoError(t, err)
	return b
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
		names := curhat.NewKeyNames(v.Prefix, false)
		a := newPGInstance(t, db.URL, valkeyBus(t, v.Client, names, nil))
		b := newPGInstance(t, db.URL, valkeyBus(t, testenv.ValkeyClient(t, v.URL), names, nil))

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
		bus := curhat.NewMemoryBus()
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
		names := curhat.NewKeyNames("", false)
		a := newPGInstance(t, db.URL, valkeyBus(t, testenv.ValkeyClient(t, srv.URL()), names, nil))
		b := newPGInstance(t, db.URL, valkeyBus(t, testenv.ValkeyClient(t, srv.URL()), names, nil))

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

func TestValkeyBus_PublishFailsFastWhenValkeyIsDown(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	bus := valkeyBus(t, testenv.ValkeyClient(t, srv.URL()), curhat.NewKeyNames("", false), nil)
	require.NoError(t, bus.Publish(context.Background(), "config:invalidate", []byte(curhat.KeyPaymentSessionTTL)))
	require.NoError(t, srv.Stop())
	start := time.Now()
	err := bus.Publish(context.Background(), "config:invalidate", []byte(curhat.KeyPaymentSessionTTL))
	require.ErrorIs(t, err, curhat.ErrUnavailable)
	require.Less(t, time.Since(start), 3*time.Second)

	// A write is not held up by the bus either: the store has it, the publish is logged.
	rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), bus, noExpiry)
	require.NoError(t, err)
	start = time.Now()
	_, err = rc.Set(context.Background(), string(curhat.KeyPaymentSessionTTL), json.RawMessage(`600`), "op")
	require.NoError(t, err)
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, 600*time.Second, rc.PaymentSessionTTL(context.Background()))
}

// TestRuntimeConfig_InvalidatesOnTheSpecChannel listens on the shared channel with a plain
// SUBSCRIBE (an instance of an existing deployment would): with the default key names a
// write is announced on "config:invalidate", the key as the message.
func TestRuntimeConfig_InvalidatesOnTheSpecChannel(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t) // a private server: the channel carries no test prefix
	got := testenv.Listen(t, testenv.ValkeyClient(t, srv.URL()), "config:invalidate")

	rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(),
		valkeyBus(t, testenv.ValkeyClient(t, srv.URL()), curhat.NewKeyNames("", false), nil), noExpiry)
	require.NoError(t, err)
	_, err = rc.Set(context.Background(), string(curhat.KeyMitraMaxConcurrentSessions), json.RawMessage(`2`), "op")
	require.NoError(t, err)
	select {
	case m := <-got:
		require.Equal(t, string(curhat.KeyMitraMaxConcurrentSessions), m)
	case <-time.After(5 * time.Second):
		t.Fatal("nothing published on config:invalidate")
	}
}

func TestRuntimeConfig_FrozenValkeyIsNoticedAsALostSubscription(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(),
		valkeyBus(t, testenv.ValkeyClient(t, srv.URL()), curhat.NewKeyNames("", false), nil), noExpiry)
	require.NoError(t, err)
	startRC(t, rc)

	require.NoError(t, srv.Pause())
	t.Cleanup(func() { _ = srv.Resume() })
	// valkey-go's background PING closes a connection that stops answering (about 2 s with
	// the 1 s write timeout; the bound leaves room for a loaded machine running every
	// package at once).
	waitFor(t, 45*time.Second, "unsubscribed", func() bool { return !rc.Subscribed() })
	require.NoError(t, srv.Resume())
	waitFor(t, 15*time.Second, "resubscribed", rc.Subscribed)
}
