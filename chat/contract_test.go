package chat_test

import (
	"testing"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/chat/chattest"
	"github.com/curhat/curhat/internal/testenv"
)

func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			chattest.RunStoreContract(t, func(t *testing.T) chattest.StoreHarness {
				return harness(b.open(t))
			})
		})
	}
}

func TestRateLimiterContract(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		chattest.RunRateLimiterContract(t, func(*testing.T) chat.RateLimiter { return chat.NewMemoryRateLimiter() })
	})
	t.Run("valkey", func(t *testing.T) {
		t.Parallel()
		vk := testenv.NewValkey(t)
		l := chat.NewValkeyRateLimiter(vk.Client, chat.ValkeyRateLimiterConfig{Names: vk.Names()})
		chattest.RunRateLimiterContract(t, func(*testing.T) chat.RateLimiter { return l })
	})
}
