package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Listen subscribes to channel with a plain SUBSCRIBE, as an outside program would, and
// returns the messages received on it (a buffer of 64; more are dropped). It returns once
// the server confirmed the subscription, and unsubscribes when the test ends.
func Listen(t testing.TB, c valkey.Client, channel string) <-chan string {
	t.Helper()
	got := make(chan string, 64)
	subscribed := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		hooked := valkey.WithOnSubscriptionHook(ctx, func(valkey.PubSubSubscription) {
			select {
			case subscribed <- struct{}{}:
			default:
			}
		})
		_ = c.Receive(hooked, c.B().Subscribe().Channel(channel).Build(), func(m valkey.PubSubMessage) {
			select {
			case got <- m.Message:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatalf("SUBSCRIBE %s not confirmed within 10s", channel)
	}
	return got
}
