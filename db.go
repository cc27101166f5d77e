package curhat

import "github.com/curhat/curhat/internal/pgutil"

// DB is what every Postgres store of the SDK, Migrate and NewClient take: a
// *pgxpool.Pool, or a pgx.Tx. A store built over the host's transaction (NewPostgresStore(tx),
// or store.WithTx(tx)) runs every statement in it, its own transactions becoming
// savepoints, so that the host's commit or rollback decides the SDK's writes with its
// own. The services' …Tx methods do this for one call: Mirror.CreateMitraTx,
// PricingStore.CreateTierTx and UpdateTierTx, payment.Service.CreateTx, over any store
// that is the domain's TxStore (the Postgres store, or a host's wrapper with a WithTx).
//
// Its methods are pgx's: Exec(ctx, sql, args...) (pgconn.CommandTag, error),
// Query(ctx, sql, args...) (pgx.Rows, error) and QueryRow(ctx, sql, args...) pgx.Row run
// a statement; Begin(ctx) (pgx.Tx, error) starts a transaction (a savepoint inside a
// pgx.Tx).
type DB = pgutil.DB

// TranslatePostgresError maps a pgx error to the SDK's errors, as the SDK's own stores do,
// for a host whose own SQL runs beside them: no rows is ErrNotFound, a unique violation
// ErrConflict, a serialization failure or deadlock ErrStaleWrite, a broken or refused
// connection ErrUnavailable (each wrapping the driver's text), a check violation or a
// value Postgres cannot store a *ValidationError. Other errors, and nil, pass through.
func TranslatePostgresError(err error) error { return pgutil.Translate(err) }
