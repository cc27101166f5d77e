package curhat_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
)

// The pairing policies through the Client: the runtime settings reach the pairer, the
// mirror takes a mitra away, the queue's index is built at start.
func TestClient_PairingPoliciesFollowTheRuntimeSettings(t *testing.T) {
	t.Parallel()
	eachBundle(t, func(t *testing.T, b clientBundle) {
		c, ctx := b.c, context.Background()
		b.sessionTierAnd(t, map[string]string{"pairing_queue_enabled": `true`, "mitra_missed_offers_before_away": `1`})

		paid := func() pairing.Pairing { return b.paidBlast(t) }
		first := paid()
		require.Equal(t, pairing.StatusQueued, first.Status)
		st, err := c.Pairing().QueueStatus(ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, 1, st.Position)

		m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
		require.NoError(t, err)
		require.NoError(t, c.SetMitraOnline(ctx, m.ID))
		offers, err := c.Pairing().ListOffers(ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, offers, 1)
		require.True(t, offers[0].Queued)

		// The mitra lets the one-to-one countdown run out: one miss takes it away.
		b.clock.Advance(20 * time.Second)
		status, err := c.Availability().Status(ctx, m.ID)
		require.NoError(t, err)
		require.False(t, status.Online)
		require.Equal(t, availability.AwayMissedOffers, status.AwayReason)
		require.Contains(t, b.events.kinds(m.ID), pairing.EventMitraAway)

		require.NoError(t, c.SetMitraOnline(ctx, m.ID))
		status, err = c.Availability().Status(ctx, m.ID)
		require.NoError(t, err)
		require.True(t, status.Online)
		require.Empty(t, status.AwayReason)
		offers, err = c.Pairing().ListOffers(ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, offers, 1, "back online, it is offered the head again")
		_, err = c.Pairing().Accept(ctx, m.ID, first.ID)
		require.NoError(t, err)
		n, err := c.Pairing().QueueLength(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
