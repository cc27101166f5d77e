package pubsub_test

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/pubsub"
	"github.com/curhat/curhat/internal/testenv"
)

// dialLog records when a client tried to connect, successfully or not.
type dialLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (d *dialLog) since(t0 time.Time) []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []time.Time
	for _, at := range d.times {
		if !at.Before(t0) {
			out = append(out, at)
		}
	}
	return out
}

// countingClient connects to addr with every dial attempt logged.
func countingClient(t *testing.T, addr string, log *dialLog) valkey.Client {
	t.Helper()
	c, err := valkey.NewClient(valkey.ClientOption{
		InitAddress: []string{addr}, ForceSingleClient: true, DisableCache: true,
		Dialer:           net.Dialer{Timeout: time.Second},
		ConnWriteTimeout: time.Second,
		DialCtxFn: func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
			log.mu.Lock()
			log.times = append(log.times, time.Now())
			log.mu.Unlock()
			return d.DialContext(ctx, "tcp", addr)
		},
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestValkey_RestartIsReportedAndResubscribedWithBackoff(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	var dials dialLog
	cfg := &pubsub.Config{BackoffMin: 40 * time.Millisecond, BackoffMax: 800 * time.Millisecond}
	sub := newValkey(t, countingClient(t, srv.Addr(), &dials), "", cfg)
	pub := newValkey(t, testenv.ValkeyClient(t, srv.URL()), "", cfg)
	r := &recorder{}
	subscribe(t, sub, "config:invalidate", r)
	publish(t, pub, "config:invalidate", "before")
	require.Eventually(t, func() bool { return len(r.messages()) == 1 }, 5*time.Second, 2*time.Millisecond)

	down := time.Now()
	require.NoError(t, srv.Stop())
	require.Eventually(t, func() bool { return !r.subscribed() }, 10*time.Second, 2*time.Millisecond,
		"the lost subscription is reported")

	// While the server is down the bus keeps trying, less and less often: with a 40 ms
	// first step doubling up to 800 ms (each wait between half and all of its step), the
	// first six attempts are at least 20, 40, 80, 160 and 200 ms apart (plus the time a
	// refused dial takes). Only lower bounds are checked: a loaded machine makes every gap
	// longer, never shorter. Retrying at a fixed interval, or not waiting, fails them.
	require.Eventually(t, func() bool { return len(dials.since(down)) >= 6 }, 20*time.Second, 5*time.Millisecond)
	attempts := dials.since(down)[:6]
	var gaps []time.Duration
	for i := 1; i < len(attempts); i++ {
		gaps = append(gaps, attempts[i].Sub(attempts[i-1]))
	}
	t.Logf("gaps between subscription attempts while the server is down: %v", gaps)
	for i, least := range []time.Duration{20, 40, 80, 160, 200} {
		require.GreaterOrEqual(t, gaps[i], least*time.Millisecond, "wait %d grows with each failed attempt: %v", i+1, gaps)
	}

	up := time.Now()
	require.NoError(t, srv.Start())
	require.Eventually(t, r.subscribed, 10*time.Second, 2*time.Millisecond, "resubscribed by itself")
	require.Less(t, time.Since(up), 3*time.Second, "within about one backoff step of the server's return")
	// The publisher's own connection died with the server: its first write may fail (a
	// publish is not retried, since it may have gone through).
	require.Eventually(t, func() bool {
		return pub.Publish(context.Background(), "config:invalidate", []byte("after")) == nil
	}, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return len(r.messages()) == 2 }, 5*time.Second, 2*time.Millisecond)
	require.Equal(t, []string{"reset(true,0)", "before", "reset(false,0)", "reset(true,0)", "after"}, r.allEvents(),
		"told of the loss once, and of the new subscription")
}

func TestValkey_FrozenServerIsReportedAndPublishStaysBounded(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	bus := newValkey(t, testenv.ValkeyClient(t, srv.URL()), "", &pubsub.Config{PublishTimeout: 300 * time.Millisecond})
	r := &recorder{}
	subscribe(t, bus, "events", r)

	require.NoError(t, srv.Pause())
	t.Cleanup(func() { _ = srv.Resume() })
	start := time.Now()
	err := bus.Publish(context.Background(), "events", []byte("into the void"))
	require.ErrorIs(t, err, pubsub.ErrUnavailable)
	require.Less(t, time.Since(start), time.Second, "publish gives up at its deadline: %v", err)

	// valkey-go's background PING closes a connection that stops answering.
	require.Eventually(t, func() bool { return !r.subscribed() }, 15*time.Second, 5*time.Millisecond, "unsubscribed")
	require.NoError(t, srv.Resume())
	require.Eventually(t, r.subscribed, 15*time.Second, 5*time.Millisecond, "resubscribed")
	require.Eventually(t, func() bool {
		return bus.Publish(context.Background(), "events", []byte("back")) == nil
	}, 15*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		msgs := r.messages()
		return len(msgs) > 0 && msgs[len(msgs)-1] == "back"
	}, 5*time.Second, 2*time.Millisecond)
}

func TestValkey_ChannelIsThePrefixAndTheTopic(t *testing.T) {
	t.Parallel()
	v := testenv.NewValkey(t)
	got := testenv.Listen(t, testenv.ValkeyClient(t, v.URL), v.Prefix+"config:invalidate")
	publish(t, newValkey(t, v.Client, v.Prefix, nil), "config:invalidate", "payment_session_ttl_seconds")
	select {
	case m := <-got:
		require.Equal(t, "payment_session_ttl_seconds", m)
	case <-time.After(5 * time.Second):
		t.Fatal("nothing on " + v.Prefix + "config:invalidate")
	}
}
