package pairing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
)

func TestErasure_ErasableRefusesWhatIsInFlightAndEraseClientScrubsOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		client := s.ClientID
		require.ErrorIs(t, e.p.Erasable(ctx, client), pairing.ErrInvalidState, "a chat session active")
		_, err := e.p.EraseClient(ctx, client)
		require.ErrorIs(t, err, pairing.ErrInvalidState)

		_, err = e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
		require.NoError(t, err)
		// A blast waiting for its payment (no mitra needed to start one).
		pr, _, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.NoError(t, err)
		require.ErrorIs(t, e.p.Erasable(ctx, client), pairing.ErrInvalidState, "a pairing waiting for its payment")
		_, err = e.p.Cancel(ctx, client, pr.ID)
		require.NoError(t, err)
		require.NoError(t, e.p.Erasable(ctx, client))

		e.clock.Advance(time.Minute)
		erased, err := e.p.EraseClient(ctx, client)
		require.NoError(t, err)
		require.Equal(t, pairing.ErasedClientName, erased.DisplayName)
		require.False(t, erased.IsActive)
		require.Equal(t, e.clock.Now().UTC(), *erased.ErasedAt)
		require.NoError(t, e.p.Erasable(ctx, client), "an erased client may be erased again (what is left)")
		again, err := e.p.EraseClient(ctx, client)
		require.NoError(t, err)
		require.Equal(t, erased, again)
		_, _, err = e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.ErrorIs(t, err, pairing.ErrClientSuspended, "an erased client starts nothing")
		_, err = e.p.SetClientActive(ctx, client, true)
		require.ErrorIs(t, err, pairing.ErrInvalidState, "nor is it reinstated")

		require.ErrorIs(t, e.p.Erasable(ctx, uuid.New()), pairing.ErrNotFound)
		_, err = e.p.EraseClient(ctx, uuid.Nil)
		require.Error(t, err)
	})
}
