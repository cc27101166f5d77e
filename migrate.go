package curhat

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curhat/curhat/internal/schema"
)

// Migration is one embedded, numbered, forward-only SQL migration.
type Migration = schema.Migration

// Migrations returns the embedded migrations in the order they must be applied, for hosts
// that run their own migration tool.
func Migrations() []Migration { return schema.Migrations() }

// Migrate applies every migration not yet applied to the database behind pool (tracked in
// the table curhat_schema_migrations of the pool's search_path). It is safe to call from
// several processes at once (a Postgres advisory lock serialises them) and a no-op when the
// schema is current. It returns the versions it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	return schema.Apply(ctx, pool)
}
