package availability_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/core"
)

func TestSetAway_TakesTheMitraOfflineWithItsReasonUntilItGoesOnline(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		ctx := ctxT(t)
		id := b.onlineMitra(t)

		_, err := b.mirror.SetAway(ctx, id, "bored")
		var ve *core.ValidationError
		require.ErrorAs(t, err, &ve)
		changed, err := b.mirror.SetAway(ctx, id, availability.AwayMissedOffers)
		require.NoError(t, err)
		require.True(t, changed)
		changed, err = b.mirror.SetAway(ctx, id, availability.AwayMissedOffers)
		require.NoError(t, err)
		require.False(t, changed, "offline already")

		reachable, err := b.mirror.IsReachable(ctx, id)
		require.NoError(t, err)
		require.False(t, reachable, "the mirror no longer has it online")
		found, err := b.mirror.FindAvailable(ctx, availability.FindOptions{})
		require.NoError(t, err)
		require.NotContains(t, found, id)
		s, err := b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, availability.MitraStatus{IsActive: true, MaxConcurrentSessions: 1, AwayReason: availability.AwayMissedOffers}, s)
		m, err := b.mirror.GetMitra(ctx, id)
		require.NoError(t, err)
		require.Equal(t, availability.AwayMissedOffers, m.AwayReason)
		b.requireNoDrift(t)

		require.NoError(t, b.mirror.SetOnline(ctx, id))
		s, err = b.mirror.Status(ctx, id)
		require.NoError(t, err)
		require.True(t, s.Online)
		require.Empty(t, s.AwayReason, "going online clears the reason")
		b.requireNoDrift(t)
	})
}
