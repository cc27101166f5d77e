package curhat

import (
	"context"

	"github.com/curhat/curhat/internal/schema"
)

// Migration is one embedded, numbered, forward-only SQL migration: Version orders it,
// Name is its file's, SQL its statements.
type Migration = schema.Migration

// Migrations returns the embedded migrations in the order they must be applied, for hosts
// that run their own migration tool.
func Migrations() []Migration { return schema.Migrations() }

// Migrate applies every migration not yet applied to the database behind db (tracked in
// the table curhat_schema_migrations of its search_path). It is safe to call from several
// processes at once (a Postgres advisory lock serialises them) and a no-op when the schema
// is current. It returns the versions it applied.
//
// db is a *pgxpool.Pool (each migration in a transaction of its own) or the host's pgx.Tx
// (each migration a savepoint in it: the schema commits or rolls back with the host's
// own migrations).
func Migrate(ctx context.Context, db DB) ([]int, error) { return schema.Apply(ctx, db) }
