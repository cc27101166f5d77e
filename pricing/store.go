package pricing

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// Store is the durable side of pricing: the pricing_tiers, pricing_promotions and history
// tables, plus the one question pricing asks of payments (has this client ever paid for a
// chat?). NewPostgresStore is the Postgres implementation; NewMemoryStore is an
// in-memory one that behaves the same.
//
// Writes are compare-and-swap: PricingStore computes the complete new row (its new
// updated_at included) from the row it read, and the store writes it only if the row still
// carries the updated_at that was read. Because every write moves updated_at forward, a
// matching token proves the row is exactly the one PricingStore read, so the history
// "before" it built is accurate. Each write method is atomic, audit rows included.
type Store interface {
	// ListTiers returns tiers ordered session first, then by sort_order, minutes and id.
	// An empty Mode lists both modes; inactive tiers only with IncludeInactive.
	ListTiers(ctx context.Context, params ListTiersParams) ([]Tier, error)
	// GetTier returns ErrNotFound for an unknown id.
	GetTier(ctx context.Context, id uuid.UUID) (Tier, error)
	// ActiveTier returns the active tier of (mode, minutes), or ErrNotFound.
	ActiveTier(ctx context.Context, mode Mode, minutes int) (Tier, error)
	// InsertTier inserts w.Tier and w.History and writes w.Moved as UpdateTiers would, all
	// in one transaction. A row with the same (mode, minutes) — active or not — makes it
	// fail with ErrDuplicateTier; a moved row that is missing or carries another token
	// (ErrNotFound, *StaleWriteError) makes it write nothing.
	InsertTier(ctx context.Context, w TierWrite) error
	// UpdateTiers writes every w.Tier (price, label, sort_order, is_active, updated_at) whose
	// row still has w.ExpectedUpdatedAt, and its w.History, all in one transaction. If any
	// row is missing (ErrNotFound) or carries another token (*StaleWriteError with the
	// current Tier), nothing at all is written.
	UpdateTiers(ctx context.Context, ws []TierWrite) error
	// TierHistory returns the audit rows of a tier, newest first.
	TierHistory(ctx context.Context, tierID uuid.UUID) ([]HistoryEntry, error)

	// Promotion returns the promotion of kind, or ErrNotFound.
	Promotion(ctx context.Context, kind PromotionKind) (Promotion, error)
	// SavePromotion writes w.Promotion and w.History atomically. A zero ExpectedUpdatedAt
	// inserts the row and requires that no row of that kind exists; otherwise the row must
	// still carry ExpectedUpdatedAt. A mismatch writes nothing and returns
	// *StaleWriteError with the current Promotion.
	SavePromotion(ctx context.Context, w PromotionWrite) error
	// PromotionHistory returns the audit rows of the promotion of kind, newest first.
	PromotionHistory(ctx context.Context, kind PromotionKind) ([]HistoryEntry, error)

	// ClientHasPaidChatStart reports whether the client has a chat_start payment that was
	// paid and is not (being) given back in full (then the first-session discount is used
	// up): paid, partially_refunded, or refund_failed with refunds that do not cover it —
	// the rule of payment.Store.HasPaidChatStart.
	ClientHasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error)
}

// TxStore is a Store that can run in the caller's transaction: what PricingStore.CreateTierTx and UpdateTierTx need
// of the store (else ErrNoTx). PostgresStore is one. A host's wrapper around it (tracing,
// metrics) keeps the …Tx methods by being one too: embedding *PostgresStore gives it
// WithTx, and a WithTx of its own that wraps what the inner store's returns keeps the
// wrapper in the transaction as well.
type TxStore interface {
	Store
	// WithTx returns the store with every statement run in tx, the caller's transaction
	// (the store's own transactions become savepoints of it).
	WithTx(tx pgx.Tx) Store
}

// TierWrite is one tier row written by Store.InsertTier or Store.UpdateTiers, together
// with its audit row.
type TierWrite struct {
	// Tier is the complete new row. Mode, minutes, currency and created_at are written on
	// insert only: they never change afterwards.
	Tier Tier
	// ExpectedUpdatedAt is the token the row must still carry (UpdateTiers only).
	ExpectedUpdatedAt time.Time
	// History is the audit row written in the same transaction.
	History HistoryEntry
	// Moved are the other tiers of the mode whose sort_order a new tier shifts (InsertTier
	// only; see PricingStore.CreateTier).
	Moved []TierWrite
}

// PromotionWrite is a promotion row written by Store.SavePromotion with its audit row.
type PromotionWrite struct {
	Promotion Promotion
	// ExpectedUpdatedAt is the token the row must still carry; zero means "insert: no row
	// of this kind may exist yet".
	ExpectedUpdatedAt time.Time
	History           HistoryEntry
}

// DB is what NewPostgresStore takes: a *pgxpool.Pool, or a pgx.Tx (curhat.DB). Its
// methods are pgx's: Exec, Query and QueryRow run a statement; Begin starts a transaction
// (a savepoint inside a pgx.Tx).
type DB = pgutil.DB
