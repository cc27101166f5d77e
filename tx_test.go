package curhat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// written is what one host transaction wrote through the SDK, next to its own row.
type written struct {
	client, mitra, tier, pairing, payment uuid.UUID
}

func TestTx_SDKWritesCommitAndRollBackWithTheHostTransaction(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx := context.Background()
	mirror, err := availability.NewMirror(availability.NewPostgresStore(db.Pool), nil, nil)
	require.NoError(t, err)
	prices, err := pricing.NewPricingStore(pricing.NewPostgresStore(db.Pool), nil)
	require.NoError(t, err)
	payments, err := payment.NewService(payment.NewPostgresStore(db.Pool), payment.NewFakeGateway(), nil)
	require.NoError(t, err)

	// write runs, in one host transaction, the host's own insert and one SDK write of each
	// kind, and checks that nobody outside the transaction sees them before it ends.
	write := func(t *testing.T, tx pgx.Tx, minutes int) written {
		var w written
		require.NoError(t, tx.QueryRow(ctx, `INSERT INTO clients (display_name) VALUES ('host account') RETURNING id`).Scan(&w.client))
		m, err := mirror.CreateMitraTx(ctx, tx, availability.CreateMitraParams{DisplayName: "Ayu"})
		require.NoError(t, err)
		w.mitra = m.ID
		tier, err := prices.CreateTierTx(ctx, tx, pricing.CreateTierParams{
			Mode: pricing.ModeSession, Minutes: minutes, Price: 25000, Label: "host tier", ChangedBy: "op-1",
		})
		require.NoError(t, err)
		w.tier = tier.ID
		tier, err = prices.UpdateTierTx(ctx, tx, pricing.UpdateTierParams{
			ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(20000)), ChangedBy: "op-1",
		})
		require.NoError(t, err)
		require.Equal(t, int64(20000), tier.Price)
		// A store over the host's transaction (here the pairing store) writes in it too.
		now := time.Now().UTC().Truncate(time.Microsecond)
		pr, err := pairing.NewPostgresStore(tx).CreatePairing(ctx, pairing.Pairing{
			ID: uuid.New(), ClientID: w.client, Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
			Minutes: minutes, CreatedAt: now, UpdatedAt: now,
		})
		require.NoError(t, err)
		w.pairing = pr.ID
		pay, _, err := payments.CreateTx(ctx, tx, payment.CreateParams{
			ClientID: w.client, Purpose: payment.PurposeChatStart, PairingID: &pr.ID, TierID: tier.ID, Minutes: minutes,
			BaseAmount: tier.Price, Amount: tier.Price, Currency: tier.Currency,
		})
		require.NoError(t, err)
		require.NotEmpty(t, pay.CheckoutURL, "the charge was created")
		w.payment = pay.ID

		_, err = mirror.GetMitra(ctx, w.mitra)
		require.ErrorIs(t, err, curhat.ErrNotFound, "not visible outside the transaction before it ends")
		return w
	}
	// visible reports, for each row, whether it exists outside any transaction.
	visible := func(t *testing.T, w written) []bool {
		var clients int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM clients WHERE id = $1`, w.client).Scan(&clients))
		_, mErr := mirror.GetMitra(ctx, w.mitra)
		_, tErr := prices.GetTier(ctx, w.tier)
		hist, hErr := prices.TierHistory(ctx, w.tier)
		_, pErr := pairing.NewPostgresStore(db.Pool).GetPairing(ctx, w.pairing)
		_, payErr := payments.Get(ctx, w.payment)
		for _, err := range []error{mErr, tErr, hErr, pErr, payErr} {
			if err != nil && !errors.Is(err, curhat.ErrNotFound) {
				t.Fatal(err)
			}
		}
		return []bool{clients == 1, mErr == nil, tErr == nil, hErr == nil && len(hist) == 2, pErr == nil, payErr == nil}
	}

	t.Run("rollback", func(t *testing.T) {
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		w := write(t, tx, 30)
		require.NoError(t, tx.Rollback(ctx))
		require.Equal(t, []bool{false, false, false, false, false, false}, visible(t, w),
			"host row, mitra, tier, tier history, pairing, payment: all rolled back")
	})
	t.Run("commit", func(t *testing.T) {
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		w := write(t, tx, 45)
		require.NoError(t, tx.Commit(ctx))
		require.Equal(t, []bool{true, true, true, true, true, true}, visible(t, w),
			"host row, mitra, tier, tier history, pairing, payment: all committed")
	})
}

func TestTx_AServiceOverAnInMemoryStoreRefusesATransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mirror, err := availability.NewMirror(availability.NewMemoryStore(), nil, nil)
	require.NoError(t, err)
	_, err = mirror.CreateMitraTx(ctx, nil, availability.CreateMitraParams{DisplayName: "Ayu"})
	require.ErrorIs(t, err, curhat.ErrNoTx)
	prices, err := pricing.NewPricingStore(pricing.NewMemoryStore(), nil)
	require.NoError(t, err)
	_, err = prices.CreateTierTx(ctx, nil, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 1, ChangedBy: "op"})
	require.ErrorIs(t, err, curhat.ErrNoTx)
	_, err = prices.UpdateTierTx(ctx, nil, pricing.UpdateTierParams{ID: uuid.New(), ChangedBy: "op"})
	require.ErrorIs(t, err, curhat.ErrNoTx)
	payments, err := payment.NewService(payment.NewMemoryStore(), payment.NewFakeGateway(), nil)
	require.NoError(t, err)
	_, _, err = payments.CreateTx(ctx, nil, payment.CreateParams{})
	require.ErrorIs(t, err, curhat.ErrNoTx)
}

func TestMigrate_InsideAHostTransactionRollsBackWithIt(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx := context.Background()
	schema := "t_" + testenv.RandomSuffix(6)
	_, err := db.Pool.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })

	for _, commit := range []bool{false, true} {
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "SET LOCAL search_path TO "+schema)
		require.NoError(t, err)
		applied, err := curhat.Migrate(ctx, tx)
		require.NoError(t, err)
		require.Len(t, applied, len(curhat.Migrations()), "an empty schema gets every migration")
		if commit {
			require.NoError(t, tx.Commit(ctx))
		} else {
			require.NoError(t, tx.Rollback(ctx))
		}
		var tables int
		require.NoError(t, db.Pool.QueryRow(ctx,
			"SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema).Scan(&tables))
		if commit {
			require.GreaterOrEqual(t, tables, 14)
		} else {
			require.Zero(t, tables, "the migrations rolled back with the host's transaction")
		}
	}
}
