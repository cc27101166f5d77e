package pubsub_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/pubsub"
	"github.com/curhat/curhat/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// A deployment gives the bus of each of its instances: every bus it returns carries the
// messages of the others. cfg applies to all of them.
type deployment func(t *testing.T, cfg *pubsub.Config) (instance func() pubsub.Bus)

var deployments = []struct {
	name string
	open deployment
}{
	{"memory", func(t *testing.T, cfg *pubsub.Config) func() pubsub.Bus {
		b := newMemory(t, cfg) // one process: its instances share the bus
		return func() pubsub.Bus { return b }
	}},
	{"valkey", func(t *testing.T, cfg *pubsub.Config) func() pubsub.Bus {
		v := testenv.NewValkey(t) // a fresh prefix on the shared server
		return func() pubsub.Bus { return newValkey(t, testenv.ValkeyClient(t, v.URL), v.Prefix, cfg) }
	}},
	{"valkey_cluster", func(t *testing.T, cfg *pubsub.Config) func() pubsub.Bus {
		cluster := testenv.StartCluster(t)
		v := cluster.NewValkey(t) // a hash-tagged prefix, as in cluster mode
		return func() pubsub.Bus { return newValkey(t, cluster.Client(t), v.Prefix, cfg) }
	}},
}

func newMemory(t *testing.T, cfg *pubsub.Config) *pubsub.Memory {
	t.Helper()
	b, err := pubsub.NewMemory(cfg)
	require.NoError(t, err)
	return b
}

func newValkey(t *testing.T, c valkey.Client, prefix string, cfg *pubsub.Config) *pubsub.Valkey {
	t.Helper()
	b, err := pubsub.NewValkey(c, prefix, cfg)
	require.NoError(t, err)
	return b
}

// eachDeployment runs fn once per implementation, in parallel subtests.
func eachDeployment(t *testing.T, fn func(t *testing.T, open deployment)) {
	t.Helper()
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			fn(t, d.open)
		})
	}
}

// recorder is a Handler that records what it is given, in order.
type recorder struct {
	mu     sync.Mutex
	events []string // a message as its payload, a reset as "reset(subscribed,dropped)"
	resets []pubsub.Reset
	msgs   []string
	// block, when set, is called before a message is recorded (a slow subscriber).
	block func(payload string)
}

func (r *recorder) handler() pubsub.Handler {
	return pubsub.Handler{
		Message: func(p []byte) {
			if r.block != nil {
				r.block(string(p))
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, string(p))
			r.msgs = append(r.msgs, string(p))
		},
		Reset: func(rs pubsub.Reset) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, fmt.Sprintf("reset(%v,%d)", rs.Subscribed, rs.Dropped))
			r.resets = append(r.resets, rs)
		},
	}
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func (r *recorder) allResets() []pubsub.Reset {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pubsub.Reset(nil), r.resets...)
}

func (r *recorder) allEvents() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// subscribed reports whether the last reset said the subscription is up.
func (r *recorder) subscribed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.resets) > 0 && r.resets[len(r.resets)-1].Subscribed
}

// subscribe follows topic on b until the test ends (then requires Subscribe to return
// nil), and waits until the subscription is up.
func subscribe(t *testing.T, b pubsub.Bus, topic string, r *recorder) {
	t.Helper()
	follow(t, b, topic, r)
	require.Eventually(t, r.subscribed, 10*time.Second, 2*time.Millisecond, "subscribed to %s", topic)
}

// follow is subscribe without waiting for the subscription.
func follow(t *testing.T, b pubsub.Bus, topic string, r *recorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Subscribe(ctx, topic, r.handler()) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func publish(t *testing.T, b pubsub.Bus, topic, payload string) {
	t.Helper()
	require.NoError(t, b.Publish(context.Background(), topic, []byte(payload)))
}

func TestBus_EveryInstanceReceivesWhatAnyInstancePublishes(t *testing.T) {
	t.Parallel()
	eachDeployment(t, func(t *testing.T, open deployment) {
		instance := open(t, nil)
		buses := []pubsub.Bus{instance(), instance(), instance()}
		recs := make([]*recorder, len(buses))
		for i, b := range buses {
			recs[i] = &recorder{}
			subscribe(t, b, "news", recs[i])
		}
		for i, b := range buses {
			publish(t, b, "news", fmt.Sprint("from ", i))
		}
		for i, r := range recs {
			require.Eventually(t, func() bool { return len(r.messages()) == len(buses) }, 5*time.Second, 2*time.Millisecond,
				"instance %d got %v", i, r.messages())
			require.ElementsMatch(t, []string{"from 0", "from 1", "from 2"}, r.messages(), "its own message included")
			require.Equal(t, []pubsub.Reset{{Subscribed: true}}, r.allResets(), "one reset: the subscription")
		}
	})
}

func TestBus_TopicsAreSeparate(t *testing.T) {
	t.Parallel()
	eachDeployment(t, func(t *testing.T, open deployment) {
		instance := open(t, nil)
		a, b := &recorder{}, &recorder{}
		subscribe(t, instance(), "topic:a", a)
		subscribe(t, instance(), "topic:b", b)
		pub := instance()
		publish(t, pub, "topic:a", "for a")
		publish(t, pub, "topic:b", "for b")
		require.Eventually(t, func() bool { return len(a.messages()) == 1 && len(b.messages()) == 1 }, 5*time.Second, 2*time.Millisecond)
		require.Equal(t, []string{"for a"}, a.messages())
		require.Equal(t, []string{"for b"}, b.messages())

		require.Error(t, pub.Publish(context.Background(), "", []byte("x")), "an empty topic is refused")
		require.Error(t, pub.Subscribe(context.Background(), "", pubsub.Handler{}))
	})
}

func TestBus_MessagesArriveInPublishOrder(t *testing.T) {
	t.Parallel()
	eachDeployment(t, func(t *testing.T, open deployment) {
		instance := open(t, nil)
		const n = 300
		recs := []*recorder{{}, {}}
		for _, r := range recs {
			subscribe(t, instance(), "seq", r)
		}
		pub := instance()
		want := make([]string, n)
		for i := range n {
			want[i] = strconv.Itoa(i)
			publish(t, pub, "seq", want[i])
		}
		for i, r := range recs {
			require.Eventually(t, func() bool { return len(r.messages()) == n }, 10*time.Second, 5*time.Millisecond,
				"subscriber %d got %d of %d", i, len(r.messages()), n)
			require.Equal(t, want, r.messages(), "subscriber %d", i)
		}
	})
}

func TestBus_SlowSubscriberLosesMessagesAndIsToldHowMany(t *testing.T) {
	t.Parallel()
	eachDeployment(t, func(t *testing.T, open deployment) {
		var dropped atomic.Int64
		instance := open(t, &pubsub.Config{Buffer: 4, OnDrop: func(topic string, n int) {
			if topic == "slow" {
				dropped.Add(int64(n))
			}
		}})
		// The subscriber is stuck on the first message until messages were dropped.
		gate := make(chan struct{})
		slow := &recorder{block: func(p string) {
			if p == "0" {
				<-gate
			}
		}}
		subscribe(t, instance(), "slow", slow)
		pub := instance()
		const n = 100
		for i := range n {
			publish(t, pub, "slow", strconv.Itoa(i))
		}
		require.Eventually(t, func() bool { return dropped.Load() > 0 }, 10*time.Second, 2*time.Millisecond, "messages dropped")
		close(gate)
		last := strconv.Itoa(n - 1)
		require.Eventually(t, func() bool {
			msgs := slow.messages()
			return len(msgs) > 0 && msgs[len(msgs)-1] == last
		}, 10*time.Second, 2*time.Millisecond, "the last message is never dropped: it follows the reset")

		// Every message is delivered or counted, and a gap is always announced by a reset
		// that counts exactly what is missing.
		events := slow.allEvents()
		require.Equal(t, "reset(true,0)", events[0])
		next, delivered, counted := 0, 0, 0
		for _, e := range events[1:] {
			var subscribed bool
			var d int
			if _, err := fmt.Sscanf(e, "reset(%t,%d)", &subscribed, &d); err == nil {
				require.True(t, subscribed, "still subscribed: %s", e)
				require.Positive(t, d, "a reset without a loss: %v", events)
				next += d
				counted += d
				continue
			}
			require.Equal(t, strconv.Itoa(next), e, "in order, with every gap announced: %v", events)
			next++
			delivered++
		}
		require.Equal(t, n, delivered+counted)
		require.Positive(t, counted)
		require.EqualValues(t, counted, dropped.Load(), "OnDrop counted what the resets reported")
	})
}

func TestBus_SubscribeReturnsWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	eachDeployment(t, func(t *testing.T, open deployment) {
		b := open(t, nil)()
		ctx, cancel := context.WithCancel(context.Background())
		r := &recorder{}
		done := make(chan error, 1)
		go func() { done <- b.Subscribe(ctx, "bye", r.handler()) }()
		require.Eventually(t, r.subscribed, 10*time.Second, 2*time.Millisecond)
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("Subscribe did not return after its context ended")
		}
	})
}

func TestMemory_DisconnectIsReportedAndLosesMessagesUntilReconnect(t *testing.T) {
	t.Parallel()
	b := newMemory(t, nil)
	r := &recorder{}
	subscribe(t, b, "t", r)
	publish(t, b, "t", "before")
	b.Disconnect()
	require.ErrorIs(t, b.Publish(context.Background(), "t", []byte("lost")), pubsub.ErrUnavailable)
	require.Eventually(t, func() bool { return !r.subscribed() }, 5*time.Second, 2*time.Millisecond)
	b.Reconnect()
	require.Eventually(t, r.subscribed, 5*time.Second, 2*time.Millisecond)
	publish(t, b, "t", "after")
	require.Eventually(t, func() bool { return len(r.messages()) == 2 }, 5*time.Second, 2*time.Millisecond)
	require.Equal(t, []string{"reset(true,0)", "before", "reset(false,0)", "reset(true,0)", "after"}, r.allEvents())

	// A subscription made while disconnected is not up until Reconnect.
	b.Disconnect()
	late := &recorder{}
	follow(t, b, "t", late)
	b.Reconnect()
	require.Eventually(t, late.subscribed, 5*time.Second, 2*time.Millisecond)
	require.Equal(t, []string{"reset(true,0)"}, late.allEvents())
}
