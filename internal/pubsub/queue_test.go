package pubsub

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// drain runs q until it has delivered want events and returns them as strings: a message
// as its payload, a reset as "reset(subscribed,dropped)".
func drain(t *testing.T, q *queue, want int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	add := func(s string) {
		got = append(got, s)
		if len(got) == want {
			cancel()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.run(ctx, Handler{
			Message: func(p []byte) { add(string(p)) },
			Reset:   func(r Reset) { add(fmt.Sprintf("reset(%v,%d)", r.Subscribed, r.Dropped)) },
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cancel()
		<-done
		t.Fatalf("delivered %v, want %d events", got, want)
	}
	return got
}

func testQueue(buffer int, drops *[]int) *queue {
	cfg := (&Config{Buffer: buffer, OnDrop: func(_ string, n int) { *drops = append(*drops, n) }}).WithDefaults()
	return newQueue("t", cfg)
}

func TestQueue_DeliversMessagesAndResetsInTheOrderTheyHappened(t *testing.T) {
	t.Parallel()
	var drops []int
	q := testQueue(10, &drops)
	q.state(false) // never subscribed: no news
	q.state(true)
	q.message([]byte("a"))
	q.message([]byte("b"))
	q.state(false)
	q.state(false) // still down: told once
	q.state(true)
	q.state(true) // a second subscription may follow missed messages too
	q.message([]byte("c"))
	require.Equal(t, []string{"reset(true,0)", "a", "b", "reset(false,0)", "reset(true,0)", "reset(true,0)", "c"}, drain(t, q, 7))
	require.Empty(t, drops)
}

func TestQueue_FullQueueTurnsIntoOneResetCountingTheDroppedMessages(t *testing.T) {
	t.Parallel()
	var drops []int
	q := testQueue(3, &drops)
	q.state(true)
	q.message([]byte("1"))
	q.message([]byte("2"))
	q.message([]byte("3")) // three events wait: they become one reset, and "3" follows it
	require.Equal(t, []int{2}, drops, "the two waiting messages were dropped; the new one is kept")
	q.message([]byte("4"))
	q.message([]byte("5")) // full again: the earlier reset's count carries over
	require.Equal(t, []int{2, 2}, drops)
	require.Equal(t, []string{"reset(true,4)", "5"}, drain(t, q, 2))

	// A state change on a full queue is carried by the reset that replaces it.
	q.message([]byte("6"))
	q.message([]byte("7"))
	q.message([]byte("8"))
	q.state(false)
	require.Equal(t, []int{2, 2, 3}, drops)
	q.state(true)
	require.Equal(t, []string{"reset(false,3)", "reset(true,0)"}, drain(t, q, 2))
}

func TestBackoff_DoublesUpToItsMaximumWithJitter(t *testing.T) {
	t.Parallel()
	b := backoff{min: 100 * time.Millisecond, max: time.Second, next: 100 * time.Millisecond}
	for _, step := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		step *= time.Millisecond
		d := b.wait()
		require.GreaterOrEqual(t, d, step/2)
		require.LessOrEqual(t, d, step)
	}
}

func TestConfig_WithDefaults(t *testing.T) {
	t.Parallel()
	c := (*Config)(nil).WithDefaults()
	require.Equal(t, DefaultBuffer, c.Buffer)
	require.Equal(t, DefaultPublishTimeout, c.PublishTimeout)
	require.Equal(t, DefaultBackoffMin, c.BackoffMin)
	require.Equal(t, DefaultBackoffMax, c.BackoffMax)
	require.NotNil(t, c.Logger)
	c = (&Config{BackoffMin: 10 * time.Second}).WithDefaults()
	require.Equal(t, 10*time.Second, c.BackoffMax, "by default never below the minimum")

	for field, bad := range map[string]Config{
		"Buffer":         {Buffer: -1},
		"PublishTimeout": {PublishTimeout: -time.Second},
		"BackoffMin":     {BackoffMin: -time.Second},
		"BackoffMax":     {BackoffMax: -time.Second},
		"BackoffMax (":   {BackoffMin: time.Second, BackoffMax: time.Millisecond},
	} {
		_, err := NewMemory(&bad)
		require.ErrorContains(t, err, field)
	}
	_, err := NewValkey(nil, "", nil)
	require.ErrorContains(t, err, "nil Valkey client")
}
