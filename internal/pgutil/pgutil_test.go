package pgutil_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
)

func TestTranslate_MapsDriverErrorsToDomainErrors(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	ctx := context.Background()

	err := pgutil.Translate(db.Pool.QueryRow(ctx, "SELECT 1 WHERE false").Scan(new(int)))
	require.ErrorIs(t, err, core.ErrNotFound)

	_, err = db.Pool.Exec(ctx, "INSERT INTO clients (display_name) VALUES ($1)", "a\x00b")
	var ve *core.ValidationError
	require.True(t, errors.As(pgutil.Translate(err), &ve), "a NUL byte is the caller's fault: %v", err)

	_, err = db.Pool.Exec(ctx, "INSERT INTO app_config (key, value) VALUES ('k', '1'), ('k', '2')")
	require.ErrorIs(t, pgutil.Translate(err), core.ErrConflict)

	_, err = db.Pool.Exec(ctx, "INSERT INTO pricing_tiers (mode, minutes, price) VALUES ('session', 0, 1)")
	require.True(t, errors.As(pgutil.Translate(err), &ve), "check violation: %v", err)

	_, err = db.Pool.Exec(ctx, "INSERT INTO pairings (client_id, type, status, minutes) VALUES (gen_random_uuid(), 'blast', 'searching', 30)")
	require.ErrorIs(t, pgutil.Translate(err), core.ErrNotFound, "a foreign key to no row: %v", err)
	require.ErrorContains(t, pgutil.Translate(err), "pairings_client_id_fkey")

	require.NoError(t, pgutil.Translate(nil))
}
