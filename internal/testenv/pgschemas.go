package testenv

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrating a schema costs each test most of a second of Postgres time, under an advisory
// lock that every test process of the machine shares. So a test's schema, once the test
// has ended, is emptied and handed to the next test of the same process: it is migrated
// once, not once a test. A schema is reused only if its tables, columns, constraints,
// indexes, triggers and functions are still those of a freshly migrated one (a test that
// altered them gets its schema dropped), and it is given back holding the rows a fresh
// one holds (the migrations' seed rows).
//
// Reused schemas outlive the tests, so they are named after their process, which holds a
// session advisory lock named alike for as long as it lives: the first test of a process
// drops the schemas of the processes whose lock is free (they have exited).

// reusedSchemaPrefix starts the name of every schema that outlives its test.
const reusedSchemaPrefix = "tr_"

var pgSchemas struct {
	mu     sync.Mutex
	owner  string    // this process's part of the names: tr_<owner>_<suffix>
	lock   *pgx.Conn // holds the owner's advisory lock until the process exits
	free   []string
	shape  string            // catalog fingerprint of a freshly migrated schema
	tables []string          // its tables
	seed   map[string]string // JSON rows of each table it fills
}

// schemaOwner returns this process's owner part, taking its lock and dropping the schemas
// of exited processes on first use.
func schemaOwner(ctx context.Context, ap *pgxpool.Pool) (string, error) {
	pgSchemas.mu.Lock()
	defer pgSchemas.mu.Unlock()
	if pgSchemas.owner != "" {
		return pgSchemas.owner, nil
	}
	conn, err := pgx.Connect(ctx, DatabaseURL())
	if err != nil {
		return "", err
	}
	owner := RandomSuffix(4)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", reusedSchemaPrefix+owner); err != nil {
		conn.Close(ctx)
		return "", err
	}
	rows, err := ap.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, reusedSchemaPrefix)
	if err != nil {
		conn.Close(ctx)
		return "", err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		conn.Close(ctx)
		return "", err
	}
	gone := map[string]bool{} // owner -> exited
	for _, n := range names {
		o, _, ok := strings.Cut(strings.TrimPrefix(n, reusedSchemaPrefix), "_")
		if !ok {
			continue
		}
		exited, seen := gone[o]
		if !seen {
			// Free means the owner has exited; the probe takes the lock, so give it back.
			if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtext($1))", reusedSchemaPrefix+o).Scan(&exited); err == nil && exited {
				_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", reusedSchemaPrefix+o)
			}
			gone[o] = exited
		}
		if exited {
			_, _ = ap.Exec(ctx, "DROP SCHEMA IF EXISTS "+n+" CASCADE")
		}
	}
	pgSchemas.owner, pgSchemas.lock = owner, conn
	return owner, nil
}

// takeSchema returns a schema left by an earlier test of the process, if there is one.
func takeSchema() (string, bool) {
	pgSchemas.mu.Lock()
	defer pgSchemas.mu.Unlock()
	if n := len(pgSchemas.free); n > 0 {
		s := pgSchemas.free[n-1]
		pgSchemas.free = pgSchemas.free[:n-1]
		return s, true
	}
	return "", false
}

// noteFreshSchema records the shape and the seed rows of a freshly migrated schema (the
// first one of the process).
func noteFreshSchema(ctx context.Context, ap *pgxpool.Pool, schema string) error {
	pgSchemas.mu.Lock()
	known := pgSchemas.shape != ""
	pgSchemas.mu.Unlock()
	if known {
		return nil
	}
	shape, err := schemaShape(ctx, ap, schema)
	if err != nil {
		return err
	}
	tables, err := schemaTables(ctx, ap, schema)
	if err != nil {
		return err
	}
	seed := map[string]string{}
	for _, tbl := range tables {
		var rows *string
		if err := ap.QueryRow(ctx, fmt.Sprintf("SELECT json_agg(r)::text FROM %s.%s r", schema, tbl)).Scan(&rows); err != nil {
			return err
		}
		if rows != nil {
			seed[tbl] = *rows
		}
	}
	pgSchemas.mu.Lock()
	defer pgSchemas.mu.Unlock()
	if pgSchemas.shape == "" {
		pgSchemas.shape, pgSchemas.tables, pgSchemas.seed = shape, tables, seed
	}
	return nil
}

// recycleSchema empties schema and keeps it for the next test, or reports false when it
// cannot be reused (its shape changed, or it could not be emptied).
func recycleSchema(ctx context.Context, ap *pgxpool.Pool, schema string) bool {
	pgSchemas.mu.Lock()
	want, tables, seed := pgSchemas.shape, pgSchemas.tables, pgSchemas.seed
	pgSchemas.mu.Unlock()
	if want == "" {
		return false
	}
	if got, err := schemaShape(ctx, ap, schema); err != nil || got != want {
		return false
	}
	// The same shape: the same tables.
	err := pgx.BeginFunc(ctx, ap, func(tx pgx.Tx) error {
		// A connection the test left open must not hold the next test up.
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
			return err
		}
		// What the test wrote needs no flush to disk before the next test starts.
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		// The ledger and the operator audit are append-only; a test database is wiped all the same.
		if _, err := tx.Exec(ctx, "SET LOCAL curhat.ledger_erase = 'on'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SET LOCAL curhat.audit_erase = 'on'"); err != nil {
			return err
		}
		// DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE replaces every
		// table's and index's files (most of a second). One statement deletes from every
		// table, so the foreign keys are checked once all of them are empty.
		deletes := make([]string, len(tables))
		for i, tbl := range tables {
			deletes[i] = fmt.Sprintf("d%d AS (DELETE FROM %s.%s)", i, schema, tbl)
		}
		if _, err := tx.Exec(ctx, "WITH "+strings.Join(deletes, ", ")+" SELECT 1"); err != nil {
			return err
		}
		for _, tbl := range tables {
			rows, ok := seed[tbl]
			if !ok {
				continue
			}
			q := fmt.Sprintf("INSERT INTO %[1]s.%[2]s SELECT * FROM json_populate_recordset(NULL::%[1]s.%[2]s, $1::json)", schema, tbl)
			if _, err := tx.Exec(ctx, q, rows); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false
	}
	pgSchemas.mu.Lock()
	pgSchemas.free = append(pgSchemas.free, schema)
	pgSchemas.mu.Unlock()
	return true
}

func schemaTables(ctx context.Context, ap *pgxpool.Pool, schema string) ([]string, error) {
	rows, err := ap.Query(ctx, `
		SELECT c.relname FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
		 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_namespace'::regclass
		   AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p')
		 ORDER BY c.relname`, schema)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// schemaShape fingerprints the catalog of schema, with the schema's name taken out: the
// objects that belong to the schema and the columns, constraints, indexes and triggers of
// its tables. Every lookup goes through a catalog index (the objects of a schema are found
// through their dependency on it), so a Postgres whose catalogs are bloated by the schemas
// of many test runs answers in milliseconds.
func schemaShape(ctx context.Context, ap *pgxpool.Pool, schema string) (string, error) {
	var shape string
	err := ap.QueryRow(ctx, `
		WITH obj AS (
			SELECT classid, objid FROM pg_depend
			 WHERE refclassid = 'pg_namespace'::regclass
			   AND refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1)
		),
		rel AS (SELECT objid AS oid FROM obj WHERE classid = 'pg_class'::regclass),
		d AS (
			SELECT 'obj ' || pg_describe_object(classid, objid, 0) AS d FROM obj
			UNION ALL
			SELECT 'rel ' || relname || ' ' || relkind::text || ' ' || coalesce(array_to_string(reloptions, ','), '')
			  FROM pg_class WHERE oid IN (SELECT oid FROM rel)
			UNION ALL
			SELECT 'col ' || a.attrelid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' ||
			       a.attnotnull::text || ' ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
			  FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
			 WHERE a.attrelid IN (SELECT oid FROM rel) AND a.attnum > 0 AND NOT a.attisdropped
			UNION ALL
			SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rel)
			UNION ALL
			SELECT 'idx ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid IN (SELECT oid FROM rel)
			UNION ALL
			SELECT 'trg ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM rel) AND NOT tgisinternal
		)
		SELECT md5(replace(coalesce(string_agg(d, E'\n' ORDER BY d), ''), $1 || '.', '')) FROM d`,
		schema).Scan(&shape)
	return shape, err
}

// recycleTimeout bounds emptying a schema for the next test.
const recycleTimeout = 30 * time.Second
