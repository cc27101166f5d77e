package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
)

func TestPGServer_RestartKeepsCommittedDataAndRefusesWhileDown(t *testing.T) {
	t.Parallel()
	s := testenv.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, s.URL())
	require.NoError(t, err)
	defer pool.Close()
	_, err = curhat.Migrate(ctx, pool)
	require.NoError(t, err, "the schema applies to the private cluster")
	_, err = pool.Exec(ctx, `INSERT INTO clients (display_name) VALUES ('before restart')`)
	require.NoError(t, err)

	require.NoError(t, s.Stop())
	qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = pool.Exec(qctx, `SELECT 1`)
	qcancel()
	require.Error(t, err)
	require.True(t, pgutil.IsConnectionError(err), "a stopped server is a connection error: %v", err)

	require.NoError(t, s.Start())
	var n int
	require.Eventually(t, func() bool {
		return pool.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&n) == nil
	}, 20*time.Second, 20*time.Millisecond, "the pool reconnects")
	require.Equal(t, 1, n)

	require.NoError(t, s.Crash())
	require.NoError(t, s.Start())
	require.Eventually(t, func() bool {
		return pool.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&n) == nil
	}, 20*time.Second, 20*time.Millisecond, "recovered after an immediate shutdown")
	require.Equal(t, 1, n)
}
