package pricing_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pricing"
)

func TestQuote_FollowsAnOperatorEditImmediately(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		client := uuid.New()
		tier := e.mustCreate(t, pricing.ModeSession, 30, 25000)

		q, err := e.svc.Quote(ctx, client, pricing.ModeSession, 30)
		require.NoError(t, err)
		require.Equal(t, pricing.Quote{TierID: tier.ID, Mode: pricing.ModeSession, Minutes: 30,
			BaseAmount: 25000, Amount: 25000, Currency: "IDR"}, q)

		_, err = e.svc.UpdateTier(ctx, pricing.UpdateTierParams{ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: ptr[int64](29000), ChangedBy: operator})
		require.NoError(t, err)
		q, err = e.svc.Quote(ctx, client, pricing.ModeSession, 30)
		require.NoError(t, err)
		require.Equal(t, int64(29000), q.BaseAmount)
		require.Equal(t, int64(29000), q.Amount)
	})
}

func TestQuote_NoActiveTierAndBadInput(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.mustCreate(t, pricing.ModeSession, 30, 25000)
		_, err := e.svc.Quote(ctx, uuid.New(), pricing.ModeSession, 45)
		require.ErrorIs(t, err, pricing.ErrNoTier)
		_, err = e.svc.Quote(ctx, uuid.New(), pricing.ModeExtension, 30)
		require.ErrorIs(t, err, pricing.ErrNoTier, "tiers are looked up by mode and minutes")
		_, err = e.svc.Quote(ctx, uuid.New(), "gift", 30)
		check.Invalid(t, err, "mode")
		_, err = e.svc.Quote(ctx, uuid.New(), pricing.ModeSession, 0)
		check.Invalid(t, err, "minutes")
	})
}

func TestQuote_FirstSessionDiscountOnlyForClientsWithoutPaidChatStart(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s30 := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		e.mustCreate(t, pricing.ModeSession, 60, 45000)
		e.mustCreate(t, pricing.ModeExtension, 30, 20000)
		newcomer, regular, refunded := uuid.New(), uuid.New(), uuid.New()
		e.AddPayment(t, regular, s30.ID, "chat_start", "paid")
		e.AddPayment(t, refunded, s30.ID, "chat_start", "refunded") // charged back: never had a session
		e.AddPayment(t, refunded, s30.ID, "chat_start", "pending")
		e.AddPayment(t, refunded, s30.ID, "extension", "paid")

		// Disabled (as migrated): nobody gets a discount.
		q, err := e.svc.Quote(ctx, newcomer, pricing.ModeSession, 30)
		require.NoError(t, err)
		require.Zero(t, q.DiscountAmount)

		e.enableDiscount(t, 40, nil, 30)

		q, err = e.svc.Quote(ctx, newcomer, pricing.ModeSession, 30)
		require.NoError(t, err)
		require.Equal(t, pricing.Quote{TierID: s30.ID, Mode: pricing.ModeSession, Minutes: 30,
			BaseAmount: 25000, DiscountAmount: 10000, Amount: 15000, Currency: "IDR"}, q)

		q, err = e.svc.Quote(ctx, refunded, pricing.ModeSession, 30)
		require.NoError(t, err)
		require.Equal(t, int64(10000), q.DiscountAmount, "only a paid chat_start uses up the first session")

		q, err = e.svc.Quote(ctx, regular, pricing.ModeSession, 30)
		require.NoError(t, err)
		require.Zero(t, q.DiscountAmount)
		require.Equal(t, int64(25000), q.Amount)

		q, err = e.svc.Quote(ctx, newcomer, pricing.ModeSession, 60)
		require.NoError(t, err)
		require.Zero(t, q.DiscountAmount, "60 minutes is not an eligible duration")

		q, err = e.svc.Quote(ctx, newcomer, pricing.ModeExtension, 30)
		require.NoError(t, err)
		require.Zero(t, q.DiscountAmount, "extensions are never discounted")

		eligible, err := e.svc.FirstSessionEligible(ctx, newcomer)
		require.NoError(t, err)
		require.True(t, eligible)
		eligible, err = e.svc.FirstSessionEligible(ctx, regular)
		require.NoError(t, err)
		require.False(t, eligible)
	})
}

func TestQuote_DiscountRoundsDownAndIsCapped(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		client := uuid.New()
		e.mustCreate(t, pricing.ModeSession, 15, 9999)
		e.mustCreate(t, pricing.ModeSession, 60, 100000)
		e.enableDiscount(t, 33, ptr[int64](20000)) // no eligible minutes: every session tier

		q, err := e.svc.Quote(ctx, client, pricing.ModeSession, 15)
		require.NoError(t, err)
		require.Equal(t, int64(3299), q.DiscountAmount, "9999 * 33 / 100 = 3299.67, rounded down")
		require.Equal(t, int64(6700), q.Amount)

		q, err = e.svc.Quote(ctx, client, pricing.ModeSession, 60)
		require.NoError(t, err)
		require.Equal(t, int64(20000), q.DiscountAmount, "33000 capped at 20000")
		require.Equal(t, int64(80000), q.Amount)
	})
}

// A migrated database always holds the promotion row; a host that deleted it gets it
// back through an update with the zero token, audited as a create.
func TestPromotion_MissingRowIsCreatedWithCreateHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, postgresStore)
	ctx := context.Background()
	_, err := e.db.Pool.Exec(ctx, `DELETE FROM pricing_promotions`)
	require.NoError(t, err)

	cur, err := e.svc.GetFirstSessionDiscount(ctx)
	require.NoError(t, err)
	require.False(t, cur.Enabled)
	require.True(t, cur.UpdatedAt.IsZero())

	created, err := e.svc.UpdateFirstSessionDiscount(ctx, pricing.UpdatePromotionParams{Enabled: true, DiscountPercent: 10, ChangedBy: operator})
	require.NoError(t, err)
	require.NotEqual(t, uuid.Nil, created.ID)
	hs, err := e.svc.PromotionHistory(ctx)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.Equal(t, pricing.ChangeCreate, hs[0].ChangeKind)
	require.Nil(t, hs[0].Before)

	// A second "create" with the zero token now is a validation error: the row exists.
	_, err = e.svc.UpdateFirstSessionDiscount(ctx, pricing.UpdatePromotionParams{Enabled: true, DiscountPercent: 20, ChangedBy: operator})
	check.Invalid(t, err, "expected_updated_at")
}

func TestCatalog_ShowsDiscountedPriceOnlyForEligibleClientsAndTiers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s30 := e.mustCreate(t, pricing.ModeSession, 30, 25000)
		s60 := e.mustCreate(t, pricing.ModeSession, 60, 45000)
		s90 := e.mustCreate(t, pricing.ModeSession, 90, 60000)
		_, err := e.svc.DeactivateTier(ctx, s90.ID, s90.UpdatedAt, operator)
		require.NoError(t, err)
		ext := e.mustCreate(t, pricing.ModeExtension, 10, 8000)
		e.enableDiscount(t, 20, nil, 30)
		regular := uuid.New()
		e.AddPayment(t, regular, s30.ID, "chat_start", "paid")

		c, err := e.svc.Catalog(ctx, uuid.New())
		require.NoError(t, err)
		require.True(t, c.Eligible)
		require.Equal(t, "IDR", c.Currency)
		require.Len(t, c.SessionTiers, 2, "inactive tiers are hidden")
		require.Equal(t, s30.ID, c.SessionTiers[0].ID)
		require.Equal(t, ptr[int64](20000), c.SessionTiers[0].DiscountedPrice)
		require.Equal(t, s60.ID, c.SessionTiers[1].ID)
		require.Nil(t, c.SessionTiers[1].DiscountedPrice)
		require.Equal(t, []pricing.Tier{ext}, c.ExtensionTiers)

		c, err = e.svc.Catalog(ctx, regular)
		require.NoError(t, err)
		require.False(t, c.Eligible)
		require.Nil(t, c.SessionTiers[0].DiscountedPrice)
	})
}

// Rows written by other code (payment, an existing deployment, a migration script) are
// priced like the SDK's own: the Postgres store reads the shared tables directly.
func TestPostgres_FirstSessionDiscountFromRowsWrittenWithSQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, postgresStore)
	ctx := context.Background()
	var tierID uuid.UUID
	err := e.db.Pool.QueryRow(ctx, `INSERT INTO pricing_tiers (mode, minutes, price, label, sort_order)
		VALUES ('session', 30, 25000, '30 menit', 1) RETURNING id`).Scan(&tierID)
	require.NoError(t, err)
	_, err = e.db.Pool.Exec(ctx, `UPDATE pricing_promotions SET enabled = true, discount_percent = 50,
		max_discount_amount = 10000, eligible_minutes = '{30}' WHERE kind = 'first_session_discount'`)
	require.NoError(t, err)
	newcomer, regular := uuid.New(), uuid.New()
	insertPayment(t, e.db, newcomer, tierID, "chat_start", "failed")
	insertPayment(t, e.db, regular, tierID, "chat_start", "paid")

	q, err := e.svc.Quote(ctx, newcomer, pricing.ModeSession, 30)
	require.NoError(t, err)
	require.Equal(t, pricing.Quote{TierID: tierID, Mode: pricing.ModeSession, Minutes: 30,
		BaseAmount: 25000, DiscountAmount: 10000, Amount: 15000, Currency: "IDR"}, q)

	q, err = e.svc.Quote(ctx, regular, pricing.ModeSession, 30)
	require.NoError(t, err)
	require.Zero(t, q.DiscountAmount)
	require.Equal(t, int64(25000), q.Amount)
}

func TestPostgresStore_AChatRefundedInPartStillUsesUpTheFirstSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, postgresStore)
	ctx := context.Background()
	s30 := e.mustCreate(t, pricing.ModeSession, 30, 25000)
	type refund struct {
		amount int64
		status string
	}
	// paymentOf records a paid 25000 chat_start of a new client, in status, with refunds.
	paymentOf := func(status string, refunds ...refund) uuid.UUID {
		t.Helper()
		client := uuid.New()
		insertPayment(t, e.db, client, s30.ID, "chat_start", "paid")
		var succeeded int64
		for i, r := range refunds {
			_, err := e.db.Pool.Exec(ctx, `INSERT INTO payment_refunds (id, payment_id, amount, cause, status)
				SELECT gen_random_uuid(), id, $2, $3, $4 FROM payment_sessions WHERE client_id = $1`,
				client, r.amount, fmt.Sprint("cause-", i), r.status)
			require.NoError(t, err)
			if r.status == "succeeded" {
				succeeded += r.amount
			}
		}
		_, err := e.db.Pool.Exec(ctx, `UPDATE payment_sessions SET status = $2, refunded_amount = $3 WHERE client_id = $1`,
			client, status, succeeded)
		require.NoError(t, err)
		return client
	}
	for name, c := range map[string]struct {
		client uuid.UUID
		paid   bool
	}{
		"delivered, then rerouted to nobody": {paymentOf("partially_refunded", refund{5000, "succeeded"}), true},
		"a part refund refused":              {paymentOf("refund_failed", refund{5000, "failed"}), true},
		"being refunded in full":             {paymentOf("paid", refund{25000, "pending"}), false},
		"a full refund refused":              {paymentOf("refund_failed", refund{25000, "failed"}), false},
		"refunded in two parts":              {paymentOf("refunded", refund{5000, "succeeded"}, refund{20000, "succeeded"}), false},
	} {
		got, err := e.Store.ClientHasPaidChatStart(ctx, c.client)
		require.NoError(t, err)
		require.Equal(t, c.paid, got, name)
	}
}
