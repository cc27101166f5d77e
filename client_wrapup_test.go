package curhat_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
)

// mitra_wrapup_seconds through the Client: the mirror and the pairer read it from the
// runtime config; a mitra whose chat expired is neither found, counted nor offered for the
// wrap-up, then offered the head of the queue.
func TestClient_WrapupFollowsTheRuntimeSetting(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b clientBundle) {
		c, ctx := b.c, context.Background()
		b.sessionTierAnd(t, map[string]string{"pairing_queue_enabled": `true`, "mitra_wrapup_seconds": `60`})
		paid := func() pairing.Pairing { return b.paidBlast(t) }
		offered := func(m uuid.UUID) []pairing.Offer {
			t.Helper()
			offers, err := c.Pairing().ListOffers(ctx, m)
			require.NoError(t, err)
			return offers
		}
		available := func(want int) {
			t.Helper()
			ids, err := c.Availability().FindAvailable(ctx, availability.FindOptions{})
			require.NoError(t, err)
			require.Len(t, ids, want)
			n, err := c.Availability().AvailableCount(ctx)
			require.NoError(t, err)
			require.Equal(t, want, n)
			drift, err := c.Availability().Drift(ctx)
			require.NoError(t, err)
			require.Empty(t, drift.Differences)
		}

		m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
		require.NoError(t, err)
		require.NoError(t, c.SetMitraOnline(ctx, m.ID))
		first := paid()
		session, err := c.Pairing().Accept(ctx, m.ID, first.ID)
		require.NoError(t, err)
		b.clock.Advance(30 * time.Minute) // the chat expires: the wrap-up starts
		got, err := c.Pairing().GetChatSession(ctx, session.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.EndExpired, got.EndReason)
		available(0)

		waiting := paid()
		require.Equal(t, pairing.StatusQueued, waiting.Status, "nobody available")
		require.NoError(t, c.SetMitraOnline(ctx, m.ID))
		require.Empty(t, offered(m.ID), "coming online again changes nothing")

		b.clock.Advance(time.Minute)
		offers := offered(m.ID)
		require.Len(t, offers, 1)
		require.Equal(t, waiting.ID, offers[0].PairingID)
		available(1)
	})
}
