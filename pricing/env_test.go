package pricing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/pricing/pricingtest"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

var t0 = time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)

var zeroTime time.Time

const operator = "op-7f3a"

// env is one PricingStore over one Store implementation, with the means to record
// payments the way the payment package would.
type env struct {
	pricingtest.StoreHarness
	svc   *pricing.PricingStore
	clock *clock.Fake
	// db is set for the Postgres store only.
	db *testenv.DB
}

type storeKind string

const (
	memoryStore   storeKind = "memory"
	postgresStore storeKind = "postgres"
)

var storeKinds = []storeKind{memoryStore, postgresStore}

// newHarness returns a fresh store of kind with its AddPayment fact; db is set for the
// Postgres store only.
func newHarness(t *testing.T, kind storeKind) (h pricingtest.StoreHarness, db *testenv.DB) {
	t.Helper()
	switch kind {
	case memoryStore:
		// The pricing store over one in-memory database with the payment store, as
		// curhat.NewMemoryClient builds it: ClientHasPaidChatStart reads the payment
		// tables as the Postgres store's statement does.
		db := memdb.New()
		s := pricing.NewMemoryStoreIn(db)
		clients, payments := pairing.NewMemoryStoreIn(db), payment.NewMemoryStoreIn(db)
		h.Store = s
		h.AddPayment = func(t *testing.T, clientID, tierID uuid.UUID, purpose, status string) {
			t.Helper()
			ctx := context.Background()
			_, err := clients.CreateClient(ctx, pairing.Client{ID: clientID, DisplayName: "Client", CreatedAt: t0})
			require.NoError(t, err)
			p := payment.Session{
				ID: uuid.New(), ClientID: clientID, Purpose: payment.Purpose(purpose), TierID: tierID, Minutes: 30,
				BaseAmount: 25000, Amount: 25000, Currency: "IDR", Status: payment.Status(status),
				ExpiresAt: t0.Add(15 * time.Minute), CreatedAt: t0, UpdatedAt: t0,
			}
			if status == "paid" {
				p.PaidAt = &t0
			}
			_, _, err = payments.Insert(ctx, p)
			require.NoError(t, err)
		}
	case postgresStore:
		db = testenv.PostgresWith(t, testenv.PGOptions{MaxConns: 24})
		h.Store = pricing.NewPostgresStore(db.Pool)
		h.AddPayment = func(t *testing.T, clientID, tierID uuid.UUID, purpose, status string) {
			t.Helper()
			insertPayment(t, db, clientID, tierID, purpose, status)
		}
	}
	return h, db
}

func newEnv(t *testing.T, kind storeKind) *env {
	t.Helper()
	h, db := newHarness(t, kind)
	c := clock.NewFake(t0)
	svc, err := pricing.NewPricingStore(h.Store, &pricing.Config{Clock: c})
	require.NoError(t, err)
	return &env{StoreHarness: h, svc: svc, clock: c, db: db}
}

// insertPayment writes a client (if new) and one payment_sessions row with plain SQL, as
// the payment package would.
func insertPayment(t *testing.T, db *testenv.DB, clientID, tierID uuid.UUID, purpose, status string) {
	t.Helper()
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `INSERT INTO clients (id, display_name) VALUES ($1, 'Client') ON CONFLICT (id) DO NOTHING`, clientID)
	require.NoError(t, err)
	var paidAt *time.Time
	if status == "paid" {
		paidAt = &t0
	}
	_, err = db.Pool.Exec(ctx, `INSERT INTO payment_sessions
		(client_id, purpose, tier_id, minutes, base_amount, discount_amount, amount, currency, status, expires_at, paid_at)
		VALUES ($1, $2, $3, 30, 25000, 0, 25000, 'IDR', $4, $5, $6)`,
		clientID, purpose, tierID, status, t0.Add(15*time.Minute), paidAt)
	require.NoError(t, err)
}

// eachStore runs fn against the in-memory and the Postgres store, in parallel.
func eachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, kind := range storeKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, kind))
		})
	}
}

// mustCreate creates a tier or fails the test.
func (e *env) mustCreate(t *testing.T, mode pricing.Mode, minutes int, price int64) pricing.Tier {
	t.Helper()
	tier, err := e.svc.CreateTier(context.Background(), pricing.CreateTierParams{
		Mode: mode, Minutes: minutes, Price: price, Label: "", ChangedBy: operator,
	})
	require.NoError(t, err)
	return tier
}

// enableDiscount turns the first-session discount on.
func (e *env) enableDiscount(t *testing.T, percent int, maxAmount *int64, eligible ...int) pricing.Promotion {
	t.Helper()
	ctx := context.Background()
	cur, err := e.svc.GetFirstSessionDiscount(ctx)
	require.NoError(t, err)
	pr, err := e.svc.UpdateFirstSessionDiscount(ctx, pricing.UpdatePromotionParams{
		ExpectedUpdatedAt: cur.UpdatedAt, Enabled: true, DiscountPercent: percent,
		MaxDiscountAmount: maxAmount, EligibleMinutes: eligible, Label: "Sesi pertama", ChangedBy: operator,
	})
	require.NoError(t, err)
	return pr
}

func ptr[T any](v T) *T { return &v }
