package curhat_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
)

// counts are the statements and the round trips (a batch counting as one) sent to
// Postgres.
type counts struct{ Statements, RoundTrips int64 }

func countsOf(c *pgutil.QueryCounter) counts { return counts{c.Statements(), c.Count()} }

func (c counts) minus(o counts) counts {
	return counts{c.Statements - o.Statements, c.RoundTrips - o.RoundTrips}
}

// TestPairing_PostgresStatementsPerStepArePinned pins the Postgres statements of one paid
// blast, step by step, at two fan-outs (the target: at most 25 from start to match):
//
//   - start (6): the tier and the promotion (pricing), the pairing (one INSERT: the
//     client's lock and the one-open-pairing index in it), the payment and its charge, the
//     payment attached to the pairing;
//   - paid (7 statements, 6 round trips): the payment's transition (the ledger posted in
//     it), the pairing read, its move to searching (one statement, no transaction), the
//     offered and blocked mitras, the offers (the pairing's lock and the guarded insert,
//     in one batch), the payment's delivery mark;
//   - accept (10): the pairing read; the accept's transaction (the locks of the mitra and
//     the pairing in one statement, the offer and the capacity, one write for the
//     session, the pairing, the offers and the released queue offers); the capacity
//     mirrored (availability's transaction of two statements).
func TestPairing_PostgresStatementsPerStepArePinned(t *testing.T) {
	t.Parallel()
	for _, mitras := range []int{1, 20} {
		t.Run(fmt.Sprintf("mitras=%d", mitras), func(t *testing.T) {
			t.Parallel()
			tracer := &pgutil.QueryCounter{}
			db := testenv.PostgresWith(t, testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = tracer }})
			vk := testenv.NewValkey(t)
			cfg, _, ev, _ := testConfig()
			cfg.KeyNames = vk.Names()
			c, err := curhat.NewClient(db.Pool, vk.Client, cfg)
			require.NoError(t, err)
			startClient(t, c)
			ctx := context.Background()
			_, err = c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 30000, ChangedBy: "op"})
			require.NoError(t, err)
			var first availability.Mitra
			for i := range mitras {
				m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: fmt.Sprint("mitra ", i)})
				require.NoError(t, err)
				require.NoError(t, c.SetMitraOnline(ctx, m.ID))
				if i == 0 {
					first = m
				}
			}
			for round := range 2 {
				client, err := c.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
				require.NoError(t, err)
				n0 := countsOf(tracer)
				pr, pay, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30})
				require.NoError(t, err)
				n1 := countsOf(tracer)
				_, err = c.Payments().MarkPaidMatching(ctx, pay.ID, pay.ProviderRef)
				require.NoError(t, err)
				n2 := countsOf(tracer)
				a, err := c.Pairing().AcceptOffer(ctx, first.ID, pr.ID)
				require.NoError(t, err)
				n3 := countsOf(tracer)
				require.Equal(t, "Dewi", a.ClientDisplayName, "the client's name comes back with the accept")
				require.Equal(t, mitras, ev.offersOf(pr.ID), "every mitra offered")
				_, err = c.Pairing().EndSession(ctx, pairing.EndParams{SessionID: a.Session.ID, By: pairing.PartyClient, CallerID: client.ID})
				require.NoError(t, err)
				if round == 0 {
					continue // the first reads of the runtime settings and the pool's first statements
				}
				require.Equal(t, counts{6, 6}, n1.minus(n0), "start")
				require.Equal(t, counts{7, 6}, n2.minus(n1), "paid")
				require.Equal(t, counts{10, 10}, n3.minus(n2), "accept")
				require.Equal(t, counts{23, 22}, n3.minus(n0), "per pairing")
			}
		})
	}
}

// offersOf counts the pairing_offer events of a pairing, one per mitra told.
func (e *events) offersOf(pairingID uuid.UUID) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if o, ok := ev.Payload.(pairing.PairingOfferEvent); ok && o.PairingID == pairingID {
			n++
		}
	}
	return n
}
