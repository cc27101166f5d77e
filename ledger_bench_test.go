package curhat_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
)

// BenchmarkLedger_PaidChatOnPostgres is one paid chat from start to end on Postgres +
// Valkey, with the Postgres statements of each step (start, the payment's confirmation,
// the accept, the end) and the latency of the two steps the ledger posts in: the
// confirmation (payment_paid) and the end (session_value). Run it beside the commit
// before the ledger to see what the ledger costs.
func BenchmarkLedger_PaidChatOnPostgres(b *testing.B) {
	counter := &pgutil.QueryCounter{}
	db := testenv.PostgresWith(b, testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = counter }})
	vk := testenv.NewValkey(b)
	cfg, _, _, _ := testConfig()
	cfg.KeyNames = vk.Names()
	c, err := curhat.NewClient(db.Pool, vk.Client, cfg)
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, c.Start(ctx))
	b.Cleanup(func() { require.NoError(b, c.Stop(ctx)) })
	_, err = c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 30000, ChangedBy: "op"})
	require.NoError(b, err)
	m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
	require.NoError(b, err)
	require.NoError(b, c.SetMitraOnline(ctx, m.ID))

	var steps [4]int64
	var pay, end time.Duration
	for b.Loop() {
		client, err := c.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
		require.NoError(b, err)
		n0 := counter.Count()
		pr, p, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30})
		require.NoError(b, err)
		n1 := counter.Count()
		t0 := time.Now()
		_, err = c.Payments().MarkPaid(ctx, p.ID, p.ProviderRef)
		require.NoError(b, err)
		pay += time.Since(t0)
		n2 := counter.Count()
		s, err := c.Pairing().Accept(ctx, m.ID, pr.ID)
		require.NoError(b, err)
		n3 := counter.Count()
		t0 = time.Now()
		_, err = c.Pairing().EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client.ID})
		require.NoError(b, err)
		end += time.Since(t0)
		n4 := counter.Count()
		for i, d := range []int64{n1 - n0, n2 - n1, n3 - n2, n4 - n3} {
			steps[i] += d
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(steps[0])/n, "start-stmts/op")
	b.ReportMetric(float64(steps[1])/n, "paid-stmts/op")
	b.ReportMetric(float64(steps[2])/n, "accept-stmts/op")
	b.ReportMetric(float64(steps[3])/n, "end-stmts/op")
	b.ReportMetric(float64(steps[0]+steps[1]+steps[2]+steps[3])/n, "stmts/op")
	b.ReportMetric(float64(pay.Microseconds())/n, "paid-µs/op")
	b.ReportMetric(float64(end.Microseconds())/n, "end-µs/op")
}
