package curhat_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// BenchmarkBlast_FanOutOnPostgres is a paid blast to 50 available mitras on Postgres +
// Valkey, from the payment's confirmation (the search starts: the candidates read from
// the availability mirror, the offers inserted) to one mitra's accept, with the Postgres
// statements of each of the two steps and their latency. blocks=N runs it with the client
// blocked with N of the 50 mitras (half blocked by the client, half by the mitra): the
// blast must offer the other 50-N and cost what blocks=0 costs. No timing is asserted.
//
//	go test -run '^$' -bench Blast_FanOut -benchtime 200x .
func BenchmarkBlast_FanOutOnPostgres(b *testing.B) {
	for _, blocks := range []int{0, 10} {
		b.Run(fmt.Sprintf("blocks=%d", blocks), func(b *testing.B) { benchBlastFanOut(b, 50, blocks) })
	}
}

func benchBlastFanOut(b *testing.B, mitras, blocks int) {
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
	ids := make([]uuid.UUID, mitras)
	for i := range ids {
		m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: fmt.Sprintf("mitra %d", i)})
		require.NoError(b, err)
		require.NoError(b, c.SetMitraOnline(ctx, m.ID))
		ids[i] = m.ID
	}
	client, err := c.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
	require.NoError(b, err)
	blockedBy(b, c, db, client.ID, ids[:blocks])

	var paidStmts, acceptStmts int64
	var paid, accept time.Duration
	i := 0
	for b.Loop() {
		pr, p, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30})
		require.NoError(b, err)
		n0, t0 := counter.Count(), time.Now()
		_, err = c.Payments().MarkPaid(ctx, p.ID, p.ProviderRef)
		require.NoError(b, err)
		paid += time.Since(t0)
		n1 := counter.Count()
		m := ids[blocks+i%(mitras-blocks)]
		i++
		t1 := time.Now()
		s, err := c.Pairing().Accept(ctx, m, pr.ID)
		require.NoError(b, err)
		accept += time.Since(t1)
		n2 := counter.Count()
		paidStmts += n1 - n0
		acceptStmts += n2 - n1
		_, err = c.Pairing().EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client.ID})
		require.NoError(b, err)
	}
	n := float64(b.N)
	b.ReportMetric(float64(paidStmts)/n, "paid-stmts/op")
	b.ReportMetric(float64(acceptStmts)/n, "accept-stmts/op")
	b.ReportMetric(float64(paid.Microseconds())/n, "paid-µs/op")
	b.ReportMetric(float64(accept.Microseconds())/n, "accept-µs/op")
}

// blockedBy blocks client with each of mitras: the first half blocked by the client (the
// SDK's Block), the others blocking it (written as the SDK does, without the chat session a
// mitra's block needs first).
func blockedBy(b *testing.B, c *curhat.Client, db *testenv.DB, client uuid.UUID, mitras []uuid.UUID) {
	b.Helper()
	ctx := context.Background()
	for i, m := range mitras {
		if i < len(mitras)/2 {
			_, _, err := c.Pairing().Block(ctx, pairing.PartyClient, client, m)
			require.NoError(b, err)
			continue
		}
		_, err := db.Pool.Exec(ctx, `INSERT INTO pairing_blocks (client_id, mitra_id, blocked_by, created_at) VALUES ($1, $2, 'mitra', now())`, client, m)
		require.NoError(b, err)
	}
}
