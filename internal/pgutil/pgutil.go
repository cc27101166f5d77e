// Package pgutil holds the Postgres plumbing shared by the pgx adapters: pool construction,
// the transaction helper and the translation of driver errors into domain errors.
package pgutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curhat/curhat/internal/core"
)

// SQL is the squirrel statement builder with Postgres placeholders.
var SQL = sq.StatementBuilder.PlaceholderFormat(sq.Dollar)

// DB is what the Postgres stores need: a *pgxpool.Pool, or a pgx.Tx (a store over a
// transaction runs every write in it — its own transactions become savepoints — so that a
// host's transaction commits or rolls back the SDK's writes with its own).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	// Begin starts a transaction (a savepoint inside a pgx.Tx).
	Begin(ctx context.Context) (pgx.Tx, error)
}

// NewPool parses url and opens a pool. Extra config (tracer, search_path) may be applied
// through configure before the pool connects.
func NewPool(ctx context.Context, url string, configure func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return pool, nil
}

// InTx runs fn in a transaction (a savepoint when db is one), committing when fn returns
// nil and rolling back otherwise. Driver errors are translated with Translate.
func InTx(ctx context.Context, db DB, fn func(tx pgx.Tx) error) error {
	return Translate(pgx.BeginFunc(ctx, db, fn))
}

// Postgres error codes we translate.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeCheckViolation       = "23514"
	codeForeignKeyViolation  = "23503"
)

// Translate maps driver errors to the shared domain errors:
//   - pgx.ErrNoRows → core.ErrNotFound
//   - unique violation → core.ErrConflict (wrapping the constraint name)
//   - foreign-key violation → core.ErrNotFound (wrapping the constraint name): the row
//     referred to does not exist
//   - serialization failure / deadlock → core.ErrStaleWrite
//   - connection failures → core.ErrUnavailable
//
// Domain errors and nil pass through unchanged.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return core.ErrNotFound
	}
	// Before the server-error switch: a server shutting down answers with a PgError too
	// (57P01, 57P02, 57P03, 08xxx), and that is an outage, not a refused statement.
	if IsConnectionError(err) {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%w: %s", core.ErrConflict, pgErr.ConstraintName)
		case codeForeignKeyViolation:
			return fmt.Errorf("%w: %s", core.ErrNotFound, pgErr.ConstraintName)
		case codeSerializationFailure, codeDeadlockDetected:
			return fmt.Errorf("%w: %s", core.ErrStaleWrite, pgErr.Message)
		case codeCheckViolation:
			return &core.ValidationError{Field: pgErr.ConstraintName, Reason: "violates a database check"}
		}
		if strings.HasPrefix(pgErr.Code, "22") {
			// Class 22, data exception: a value Postgres cannot store (a NUL byte in text,
			// a number out of range). The caller's input, not the server, is at fault.
			return &core.ValidationError{Field: "input", Reason: "a value cannot be stored: " + pgErr.Message}
		}
		return err
	}
	return err
}

// IsUniqueViolation reports whether err is a unique violation, and of which constraint.
func IsUniqueViolation(err error) (constraint string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
		return pgErr.ConstraintName, true
	}
	return "", false
}

// IsConnectionError reports whether err means the database could not be reached or the
// connection broke (as opposed to the server refusing a statement).
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx connection exceptions.
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || pgErr.Code[:2] == "08"
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	// A connection cut in the middle of a reply (the server crashed or was killed).
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// QueryCounter is a pgx tracer that counts statements sent to Postgres (queries, batches
// and copies), so tests and the load tool can prove a hot path makes no round trip.
type QueryCounter struct {
	n atomic.Int64
	// statements counts each statement of a batch on its own.
	statements atomic.Int64
}

// Count returns the number of statements traced so far, a batch counting as one: the
// round trips.
func (c *QueryCounter) Count() int64 { return c.n.Load() }

// Statements returns the number of statements traced so far, each one of a batch counted.
func (c *QueryCounter) Statements() int64 { return c.statements.Load() }

func (c *QueryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.statements.Add(1)
	return ctx
}

func (c *QueryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *QueryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *QueryCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.statements.Add(1)
}

func (c *QueryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *QueryCounter) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.n.Add(1)
	c.statements.Add(1)
	return ctx
}

func (c *QueryCounter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

// Deref maps a NULL text column (nil) to "".
func Deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Nullable maps "" to SQL NULL.
func Nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// UTCPtr returns t in UTC (nil stays nil).
func UTCPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Qualified lists columns prefixed with a table alias: "p.id, p.status, …".
func Qualified(alias string, columns []string) string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = alias + "." + c
	}
	return strings.Join(out, ", ")
}
