// Package schema embeds the numbered, forward-only SQL migrations and applies them.
package schema

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curhat/curhat/internal/pgutil"
)

//go:embed migrations/*.sql
var files embed.FS

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// advisoryLockKey serialises concurrent Apply calls across processes ("curhat" in ASCII).
const advisoryLockKey int64 = 0x6375726861740001

// Migrations returns every embedded migration in ascending version order.
func Migrations() []Migration {
	entries, err := fs.ReadDir(files, "migrations")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	out := make([]Migration, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			panic("migration without a number: " + name)
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			panic("migration without a number: " + name)
		}
		body, err := fs.ReadFile(files, path.Join("migrations", name))
		if err != nil {
			panic(err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Apply runs every migration not yet recorded in curhat_schema_migrations, while holding
// an advisory lock so that two processes starting at once apply each migration exactly
// once. Applying an up-to-date schema is a no-op. It returns the versions it applied.
//
// Over a pool, each migration runs in its own transaction under a session lock. Over a
// transaction (the host's own), the lock lasts until that transaction ends and each
// migration is a savepoint: the schema commits or rolls back with the host's work.
func Apply(ctx context.Context, db pgutil.DB) ([]int, error) {
	pool, ok := db.(*pgxpool.Pool)
	if !ok {
		if _, err := db.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryLockKey); err != nil {
			return nil, fmt.Errorf("migrate: advisory lock: %w", err)
		}
		return apply(ctx, db)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", advisoryLockKey); err != nil {
		return nil, fmt.Errorf("migrate: advisory lock: %w", err)
	}
	defer func() {
		// Unlock on a fresh context: the caller's may already be done.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", advisoryLockKey)
	}()
	return apply(ctx, conn)
}

// apply runs the missing migrations on db, the lock held.
func apply(ctx context.Context, db pgutil.DB) ([]int, error) {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS curhat_schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate: create version table: %w", err)
	}
	applied := map[int]bool{}
	rows, err := db.Query(ctx, "SELECT version FROM curhat_schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read versions: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("migrate: read versions: %w", err)
	}
	for _, v := range versions {
		applied[v] = true
	}

	var done []int
	for _, m := range Migrations() {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO curhat_schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("migrate: apply %s: %w", m.Name, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
}
