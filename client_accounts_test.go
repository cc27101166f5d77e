package curhat_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

var backends = map[string]func(*testing.T) clientBundle{"memory": newMemoryBundle, "postgres+valkey": newPostgresBundle}

// A host's test on the memory client fails on a client it never registered exactly as its
// production on Postgres does.
func TestClient_AClientNeverRegisteredIsNotFoundInMemoryAsOnPostgres(t *testing.T) {
	t.Parallel()
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			c, ctx := b.c, context.Background()
			tier, err := c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "op"})
			require.NoError(t, err)
			m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
			require.NoError(t, err)
			require.NoError(t, c.SetMitraOnline(ctx, m.ID))

			unknown := uuid.New()
			_, _, err = c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: unknown, Minutes: 30})
			require.ErrorIs(t, err, curhat.ErrNotFound)
			require.ErrorContains(t, err, "client "+unknown.String())
			require.Empty(t, b.gateway.Charges(), "nothing charged")

			registered := b.newClient(t)
			pr, _, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: registered, Minutes: 30})
			require.NoError(t, err, "once registered")
			_, _, err = c.Payments().Create(ctx, payment.CreateParams{
				ClientID: unknown, Purpose: payment.PurposeChatStart, PairingID: &pr.ID, TierID: tier.ID, Minutes: 30,
				BaseAmount: 25000, Amount: 25000, Currency: "IDR",
			})
			require.ErrorIs(t, err, curhat.ErrNotFound, "a payment of nobody")

			_, err = c.Pairing().GetClient(ctx, unknown)
			require.ErrorIs(t, err, curhat.ErrNotFound)
		})
	}
}

func TestClient_RegisterClientIsIdempotentForTheSameNameAndConflictsForAnother(t *testing.T) {
	t.Parallel()
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			c, ctx := b.c, context.Background()
			hostID := uuid.New()
			first, err := c.RegisterClient(ctx, pairing.RegisterClientParams{ID: hostID, DisplayName: "Dewi"})
			require.NoError(t, err)
			require.Equal(t, hostID, first.ID, "the host's own account id")

			again, err := c.RegisterClient(ctx, pairing.RegisterClientParams{ID: hostID, DisplayName: "Dewi"})
			require.NoError(t, err)
			require.Equal(t, first, again)
			_, err = c.RegisterClient(ctx, pairing.RegisterClientParams{ID: hostID, DisplayName: "Ayu"})
			require.ErrorIs(t, err, curhat.ErrConflict)
			_, err = c.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: " "})
			var ve *curhat.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, "display_name", ve.Field)

			got, err := c.Pairing().GetClient(ctx, hostID)
			require.NoError(t, err)
			require.Equal(t, first, got)
		})
	}
}
