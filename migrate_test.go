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
