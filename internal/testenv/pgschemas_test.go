package testenv_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
)

// A schema handed to a later test holds what a freshly migrated one holds: the seed rows,
// none of the earlier test's rows, none of its tables.
func TestPostgres_ALaterTestGetsASchemaAsFreshAsANewOne(t *testing.T) {
	t.Parallel()
	for i := range 4 {
		t.Run("test", func(t *testing.T) {
			ctx := context.Background()
			db := testenv.Postgres(t)
			var promotions, mitras int
			require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM pricing_promotions").Scan(&promotions))
			require.Equal(t, 1, promotions, "the migrations' seed row")
			require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM mitras").Scan(&mitras))
			require.Zero(t, mitras, "no row of an earlier test")
			var extra *string
			require.NoError(t, db.Pool.QueryRow(ctx, "SELECT to_regclass('extra')::text").Scan(&extra))
			require.Nil(t, extra, "no table of an earlier test")

			_, err := db.Pool.Exec(ctx, "INSERT INTO mitras (display_name) VALUES ('Ayu')")
			require.NoError(t, err)
			// Rows that reference the seed row: emptying must respect the foreign key.
			_, err = db.Pool.Exec(ctx, `INSERT INTO pricing_promotions_history (promotion_id, change_kind, changed_by, after)
				SELECT id, 'update', 'test', '{}' FROM pricing_promotions`)
			require.NoError(t, err)
			if i%2 == 1 {
				_, err = db.Pool.Exec(ctx, "CREATE TABLE extra (x int)") // a changed shape: dropped
				require.NoError(t, err)
			}
		})
	}
}
