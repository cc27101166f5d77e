package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
)

// BenchmarkOperatorLookups: an operator's lookups over Postgres + Valkey, through the
// whole handler — GET /api/internal/payments/{id} of a chat that had an extension and an
// operator's end with a refund (a story of 2 payments, 2 refunds, 5 ledger transactions),
// and GET /api/internal/clients/{id}/timeline of a client with 20 such stories (the
// timeline's bound). Time, allocations and Postgres statements per request.
//
//	go test -run '^$' -bench OperatorLookups -benchmem ./examples/server/
func BenchmarkOperatorLookups(b *testing.B) {
	s := newBenchServer(b)
	app := s.srv.app
	ctx := context.Background()
	for _, t := range []pricing.CreateTierParams{
		{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "bench"},
		{Mode: pricing.ModeExtension, Minutes: 10, Price: 10000, ChangedBy: "bench"},
	} {
		_, err := app.pricing.CreateTier(ctx, t)
		require.NoError(b, err)
	}
	m, err := app.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "story mitra"})
	require.NoError(b, err)
	require.NoError(b, app.mirror.SetOnline(ctx, m.ID))
	c, err := app.registerClient(ctx, "story client")
	require.NoError(b, err)
	var payID uuid.UUID
	for range clientTimelinePairings {
		pr, pay, err := app.pairer.StartBlast(ctx, pairing.StartParams{ClientID: c.ID, Minutes: 30})
		require.NoError(b, err)
		_, err = app.payments.MarkPaid(ctx, pay.ID, "ch-"+pay.ID.String())
		require.NoError(b, err)
		sess, err := app.pairer.Accept(ctx, m.ID, pr.ID)
		require.NoError(b, err)
		_, extPay, err := app.exts.Request(ctx, extension.RequestParams{ClientID: c.ID, ChatSessionID: sess.ID, Minutes: 10})
		require.NoError(b, err)
		_, err = app.payments.MarkPaid(ctx, extPay.ID, "ch-"+extPay.ID.String())
		require.NoError(b, err)
		_, refunds, err := app.pairer.EndByOperator(ctx, pairing.OperatorEndParams{
			SessionID: sess.ID, Refund: pairing.EndRefundUnused, Reason: "bench",
		})
		require.NoError(b, err)
		require.Len(b, refunds, 2)
		payID = pay.ID
	}
	operator := "Bearer " + app.cfg.OperatorToken
	b.Run("payment", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/api/internal/payments/"+payID.String(), nil)
		req.Header.Set("Authorization", operator)
		s.run(b, req)
	})
	b.Run("client_timeline_20_stories", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/api/internal/clients/"+c.ID.String()+"/timeline", nil)
		req.Header.Set("Authorization", operator)
		s.run(b, req)
	})
}
