package curhat_test

import (
	"context"
	"errors"
	"sync/atomic"
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

// A host wraps a store (tracing, metrics) the way these do: each counts the writes that go
// through it and, by its own WithTx, stays around the store inside the host's transaction.
type (
	tracedMitras struct {
		availability.Store
		writes *atomic.Int32
	}
	tracedTiers struct {
		pricing.Store
		writes *atomic.Int32
	}
	tracedPayments struct {
		payment.Store
		writes *atomic.Int32
	}
)

func (s tracedMitras) CreateMitra(ctx context.Context, p availability.CreateMitraParams) (availability.Mitra, error) {
	s.writes.Add(1)
	return s.Store.CreateMitra(ctx, p)
}

func (s tracedMitras) WithTx(tx pgx.Tx) availability.Store {
	return tracedMitras{Store: s.Store.(availability.TxStore).WithTx(tx), writes: s.writes}
}

func (s tracedTiers) InsertTier(ctx context.Context, w pricing.TierWrite) error {
	s.writes.Add(1)
	return s.Store.InsertTier(ctx, w)
}

func (s tracedTiers) UpdateTiers(ctx context.Context, ws []pricing.TierWrite) error {
	s.writes.Add(1)
	return s.Store.UpdateTiers(ctx, ws)
}

func (s tracedTiers) WithTx(tx pgx.Tx) pricing.Store {
	return tracedTiers{Store: s.Store.(pricing.TxStore).WithTx(tx), writes: s.writes}
}

func (s tracedPayments) Insert(ctx context.Context, sess payment.Session) (payment.Session, bool, error) {
	s.writes.Add(1)
	return s.Store.Insert(ctx, sess)
}

func (s tracedPayments) WithTx(tx pgx.Tx) payment.Store {
	return tracedPayments{Store: s.Store.(payment.TxStore).WithTx(tx), writes: s.writes}
}

var (
	_ availability.TxStore = tracedMitras{}
	_ pricing.TxStore      = tracedTiers{}
	_ payment.TxStore      = tracedPayments{}
)

func TestTx_AHostsWrapperOfThePostgresStoreKeepsTheTxMethods(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx := context.Background()
	var mitraWrites, tierWrites, paymentWrites atomic.Int32
	mirror, err := availability.NewMirror(tracedMitras{availability.NewPostgresStore(db.Pool), &mitraWrites}, nil, nil)
	require.NoError(t, err)
	prices, err := pricing.NewPricingStore(tracedTiers{pricing.NewPostgresStore(db.Pool), &tierWrites}, nil)
	require.NoError(t, err)
	payments, err := payment.NewService(tracedPayments{payment.NewPostgresStore(db.Pool), &paymentWrites},
		payment.NewFakeGateway(), nil)
	require.NoError(t, err)

	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	var client uuid.UUID
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO clients (display_name) VALUES ('host account') RETURNING id`).Scan(&client))
	m, err := mirror.CreateMitraTx(ctx, tx, availability.CreateMitraParams{DisplayName: "Ayu"})
	require.NoError(t, err)
	tier, err := prices.CreateTierTx(ctx, tx, pricing.CreateTierParams{
		Mode: pricing.ModeSession, Minutes: 30, Price: 25000, Label: "host tier", ChangedBy: "op-1",
	})
	require.NoError(t, err)
	tier, err = prices.UpdateTierTx(ctx, tx, pricing.UpdateTierParams{
		ID: tier.ID, ExpectedUpdatedAt: tier.UpdatedAt, Price: new(int64(20000)), ChangedBy: "op-1",
	})
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Microsecond)
	pr, err := pairing.NewPostgresStore(tx).CreatePairing(ctx, pairing.Pairing{
		ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
		Minutes: 30, CreatedAt: now, UpdatedAt: now,
	})
	require.NoError(t, err)
	pay, _, err := payments.CreateTx(ctx, tx, payment.CreateParams{
		ClientID: client, Purpose: payment.PurposeChatStart, PairingID: &pr.ID, TierID: tier.ID, Minutes: 30,
		BaseAmount: tier.Price, Amount: tier.Price, Currency: tier.Currency,
	})
	require.NoError(t, err)
	require.Equal(t, []int32{1, 2, 1}, []int32{mitraWrites.Load(), tierWrites.Load(), paymentWrites.Load()},
		"every write went through the host's wrapper")
	require.NoError(t, tx.Rollback(ctx))

	_, mErr := mirror.GetMitra(ctx, m.ID)
	_, tErr := prices.GetTier(ctx, tier.ID)
	_, pErr := payments.Get(ctx, pay.ID)
	for _, err := range []error{mErr, tErr, pErr} {
		require.ErrorIs(t, err, curhat.ErrNotFound, "written in the host's transaction, rolled back with it")
	}
}

func TestTx_AWrapperWithoutWithTxRefusesATransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Wrappers that forward the Store methods only: the transaction cannot reach the
	// Postgres store inside them.
	mirror, err := availability.NewMirror(struct{ availability.Store }{availability.NewPostgresStore(nil)}, nil, nil)
	require.NoError(t, err)
	_, err = mirror.CreateMitraTx(ctx, nil, availability.CreateMitraParams{DisplayName: "Ayu"})
	require.ErrorIs(t, err, curhat.ErrNoTx)
	prices, err := pricing.NewPricingStore(struct{ pricing.Store }{pricing.NewPostgresStore(nil)}, nil)
	require.NoError(t, err)
	_, err = prices.CreateTierTx(ctx, nil, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 1, ChangedBy: "op"})
	require.ErrorIs(t, err, curhat.ErrNoTx)
	payments, err := payment.NewService(struct{ payment.Store }{payment.NewPostgresStore(nil)}, payment.NewFakeGateway(), nil)
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
