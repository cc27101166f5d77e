package curhat_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
)

// mitra_wrapup_seconds through the Client: the mirror and the pairer read it from the
// runtime config; a mitra whose chat expired is neither found, counted nor offered for the
// wrap-up, then offered the head of the queue.
func TestClient_WrapupFollowsTheRuntimeSetting(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) clientBundle{"memory": newMemoryBundle, "postgres+valkey": newPostgresBundle} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			c, ctx := b.c, context.Background()
			_, err := c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "op"})
			require.NoError(t, err)
			for key, value := range map[string]string{"pairing_queue_enabled": `true`, "mitra_wrapup_seconds": `60`} {
				_, err := c.Runtime().Set(ctx, key, json.RawMessage(value), "op")
				require.NoError(t, err)
			}
			paid := func() pairing.Pairing {
				t.Helper()
				pr, pay, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: b.newClient(t), Minutes: 30})
				require.NoError(t, err)
				_, err = c.Payments().MarkPaid(ctx, pay.ID, "fake_ch_"+pay.ID.String())
				require.NoError(t, err)
				pr, err = c.Pairing().GetPairing(ctx, pr.ID)
				require.NoError(t, err)
				return pr
			}
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
}
