package curhat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/testenv"
)

func TestMigrations_AreNumberedInOrder(t *testing.T) {
	t.Parallel()
	ms := curhat.Migrations()
	require.NotEmpty(t, ms)
	for i, m := range ms {
		require.Equal(t, i+1, m.Version, "migration %s", m.Name)
		require.NotEmpty(t, m.SQL)
	}
}

func TestMigrate_TwiceIsNoOp(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t) // applied once already
	ctx := context.Background()
	applied, err := curhat.Migrate(ctx, db.Pool)
	require.NoError(t, err)
	require.Empty(t, applied)

	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM curhat_schema_migrations").Scan(&n))
	require.Equal(t, len(curhat.Migrations()), n)
}

func TestMigrate_ConcurrentProcessesApplyOnce(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A second, empty schema migrated by 5 pools at once (each stands for a process).
	schema := "t_" + testenv.RandomSuffix(6)
	_, err := db.Pool.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })

	var wg sync.WaitGroup
	results := make([][]int, 5)
	errs := make([]error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, err := pgxpool.ParseConfig(db.URL)
			if err != nil {
				errs[i] = err
				return
			}
			cfg.ConnConfig.RuntimeParams["search_path"] = schema
			cfg.MaxConns = 1
			p, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				errs[i] = err
				return
			}
			defer p.Close()
			results[i], errs[i] = curhat.Migrate(ctx, p)
		}()
	}
	wg.Wait()
	total := 0
	for i := range 5 {
		require.NoError(t, errs[i])
		total += len(results[i])
	}
	require.Equal(t, len(curhat.Migrations()), total, "each migration applied exactly once")

	var tables int
	require.NoError(t, db.Pool.QueryRow(ctx,
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema).Scan(&tables))
	require.GreaterOrEqual(t, tables, 14)
}

func TestMigrate_RefundsMigrationCarriesPastRefundsOver(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	schema := "t_" + testenv.RandomSuffix(6)
	_, err := db.Pool.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()

	// A deployment at version 3 with a payment refunded and one whose refund was refused.
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec(`CREATE TABLE curhat_schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	for _, m := range curhat.Migrations()[:3] {
		exec(m.SQL)
		exec(`INSERT INTO curhat_schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
	}
	exec(`INSERT INTO clients (id, display_name) VALUES ('00000000-0000-0000-0000-00000000000c', 'client')`)
	exec(`INSERT INTO pricing_tiers (id, mode, minutes, price) VALUES ('00000000-0000-0000-0000-00000000000e', 'session', 30, 25000)`)
	for id, status := range map[string]string{"00000000-0000-0000-0000-0000000000a1": "refunded", "00000000-0000-0000-0000-0000000000a2": "refund_failed"} {
		exec(`INSERT INTO payment_sessions (id, client_id, purpose, tier_id, minutes, base_amount, amount, currency, status, expires_at, paid_at)
			VALUES ($1, '00000000-0000-0000-0000-00000000000c', 'chat_start', '00000000-0000-0000-0000-00000000000e', 30, 25000, 25000, 'IDR', $2, now(), now())`,
			id, status)
	}

	applied, err := curhat.Migrate(ctx, pool)
	require.NoError(t, err)
	var later []int // 4 and every migration after it
	for _, m := range curhat.Migrations()[3:] {
		later = append(later, m.Version)
	}
	require.Equal(t, later, applied)
	var refunded int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT refunded_amount FROM payment_sessions WHERE status = 'refunded'`).Scan(&refunded))
	require.Equal(t, int64(25000), refunded, "a refunded payment was refunded in full")
	var amount int64
	var status, cause string
	require.NoError(t, pool.QueryRow(ctx, `SELECT r.amount, r.status, r.cause FROM payment_refunds r
		JOIN payment_sessions p ON p.id = r.payment_id WHERE p.status = 'refund_failed'`).Scan(&amount, &status, &cause))
	require.Equal(t, int64(25000), amount)
	require.Equal(t, "failed", status, "a refused refund becomes a failed refund the retry sweep picks up")
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_refunds`).Scan(&n))
	require.Equal(t, 1, n)
}
