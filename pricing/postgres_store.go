package pricing

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// PostgresStore is the Store on the pricing_* tables (pgx + squirrel).
type PostgresStore struct {
	db DB
}

var _ TxStore = (*PostgresStore)(nil)

// NewPostgresStore returns a Store on db (a *pgxpool.Pool, or a pgx.Tx whose commit or
// rollback decides the store's writes), whose schema must be migrated (curhat.Migrate).
func NewPostgresStore(db DB) *PostgresStore { return &PostgresStore{db: db} }

// WithTx returns a copy of s whose every statement runs in tx, the caller's transaction.
func (s *PostgresStore) WithTx(tx pgx.Tx) Store { return &PostgresStore{db: tx} }

const tierColumns = "id, mode, minutes, price, currency, label, sort_order, is_active, created_at, updated_at"

// tierOrder puts session tiers first, then follows the operator's sort order.
var tierOrder = []string{"CASE mode WHEN 'session' THEN 0 ELSE 1 END", "sort_order", "minutes", "id"}

func scanTier(row pgx.Row) (Tier, error) {
	var t Tier
	var mode string
	if err := row.Scan(&t.ID, &mode, &t.Minutes, &t.Price, &t.Currency, &t.Label, &t.SortOrder,
		&t.IsActive, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return Tier{}, err
	}
	t.Mode = Mode(mode)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

func (s *PostgresStore) ListTiers(ctx context.Context, params ListTiersParams) ([]Tier, error) {
	q := pgutil.SQL.Select(tierColumns).From("pricing_tiers").OrderBy(tierOrder...)
	if params.Mode != "" {
		q = q.Where(sq.Eq{"mode": string(params.Mode)})
	}
	if !params.IncludeInactive {
		q = q.Where(sq.Eq{"is_active": true})
	}
	return s.queryTiers(ctx, s.db, q)
}

func (s *PostgresStore) queryTiers(ctx context.Context, db pgutil.DB, q sq.SelectBuilder) ([]Tier, error) {
	sql, args, err := q.ToSql()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	tiers, err := pgx.AppendRows([]Tier{}, rows, func(r pgx.CollectableRow) (Tier, error) { return scanTier(r) })
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	return tiers, nil
}

func (s *PostgresStore) GetTier(ctx context.Context, id uuid.UUID) (Tier, error) {
	return s.getTier(ctx, s.db, id)
}

func (s *PostgresStore) getTier(ctx context.Context, db pgutil.DB, id uuid.UUID) (Tier, error) {
	sql, args, err := pgutil.SQL.Select(tierColumns).From("pricing_tiers").Where(sq.Eq{"id": id}).ToSql()
	if err != nil {
		return Tier{}, err
	}
	t, err := scanTier(db.QueryRow(ctx, sql, args...))
	return t, pgutil.Translate(err)
}

func (s *PostgresStore) ActiveTier(ctx context.Context, mode Mode, minutes int) (Tier, error) {
	sql, args, err := pgutil.SQL.Select(tierColumns).From("pricing_tiers").
		Where(sq.Eq{"mode": string(mode), "minutes": minutes, "is_active": true}).ToSql()
	if err != nil {
		return Tier{}, err
	}
	t, err := scanTier(s.db.QueryRow(ctx, sql, args...))
	return t, pgutil.Translate(err)
}

func (s *PostgresStore) InsertTier(ctx context.Context, w TierWrite) error {
	t := w.Tier
	return pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		sql, args, err := pgutil.SQL.Insert("pricing_tiers").
			Columns("id", "mode", "minutes", "price", "currency", "label", "sort_order", "is_active", "created_at", "updated_at").
			Values(t.ID, string(t.Mode), t.Minutes, t.Price, t.Currency, t.Label, t.SortOrder, t.IsActive, t.CreatedAt, t.UpdatedAt).
			ToSql()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			if _, unique := pgutil.IsUniqueViolation(err); unique {
				return ErrDuplicateTier
			}
			return err
		}
		if err := insertHistory(ctx, tx, "pricing_tiers_history", "tier_id", t.ID, w.History); err != nil {
			return err
		}
		return s.updateTiers(ctx, tx, w.Moved)
	})
}

func (s *PostgresStore) UpdateTiers(ctx context.Context, ws []TierWrite) error {
	return pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error { return s.updateTiers(ctx, tx, ws) })
}

// updateTiers writes ws in tx (UpdateTiers).
func (s *PostgresStore) updateTiers(ctx context.Context, tx pgx.Tx, ws []TierWrite) error {
	// Lock rows in one global order so that concurrent multi-row writes cannot deadlock.
	ws = slices.SortedFunc(slices.Values(ws), func(a, b TierWrite) int {
		return bytes.Compare(a.Tier.ID[:], b.Tier.ID[:])
	})
	for _, w := range ws {
		t := w.Tier
		sql, args, err := pgutil.SQL.Update("pricing_tiers").
			Set("price", t.Price).
			Set("label", t.Label).
			Set("sort_order", t.SortOrder).
			Set("is_active", t.IsActive).
			Set("updated_at", t.UpdatedAt).
			Where(sq.Eq{"id": t.ID, "updated_at": w.ExpectedUpdatedAt}).
			ToSql()
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			// Missing, or changed since it was read: say which, with the row as it is now.
			cur, err := s.getTier(ctx, tx, t.ID)
			if err != nil {
				return err
			}
			return &StaleWriteError{Current: cur}
		}
		if err := insertHistory(ctx, tx, "pricing_tiers_history", "tier_id", t.ID, w.History); err != nil {
			return err
		}
	}
	return nil
}

func (s *PostgresStore) TierHistory(ctx context.Context, tierID uuid.UUID) ([]HistoryEntry, error) {
	q := pgutil.SQL.Select("id, tier_id, change_kind, changed_by, changed_at, before, after").
		From("pricing_tiers_history").Where(sq.Eq{"tier_id": tierID}).OrderBy("changed_at DESC", "id DESC")
	return s.queryHistory(ctx, q, func(h *HistoryEntry, id uuid.UUID) { h.TierID = id })
}

const promotionColumns = "id, kind, enabled, discount_percent, max_discount_amount, eligible_minutes, label, updated_at"

func scanPromotion(row pgx.Row) (Promotion, error) {
	var pr Promotion
	var kind string
	if err := row.Scan(&pr.ID, &kind, &pr.Enabled, &pr.DiscountPercent, &pr.MaxDiscountAmount,
		&pr.EligibleMinutes, &pr.Label, &pr.UpdatedAt); err != nil {
		return Promotion{}, err
	}
	pr.Kind = PromotionKind(kind)
	pr.UpdatedAt = pr.UpdatedAt.UTC()
	if pr.EligibleMinutes == nil {
		pr.EligibleMinutes = []int{}
	}
	return pr, nil
}

func (s *PostgresStore) Promotion(ctx context.Context, kind PromotionKind) (Promotion, error) {
	return s.promotion(ctx, s.db, kind)
}

func (s *PostgresStore) promotion(ctx context.Context, db pgutil.DB, kind PromotionKind) (Promotion, error) {
	sql, args, err := pgutil.SQL.Select(promotionColumns).From("pricing_promotions").
		Where(sq.Eq{"kind": string(kind)}).ToSql()
	if err != nil {
		return Promotion{}, err
	}
	pr, err := scanPromotion(db.QueryRow(ctx, sql, args...))
	return pr, pgutil.Translate(err)
}

func (s *PostgresStore) SavePromotion(ctx context.Context, w PromotionWrite) error {
	pr := w.Promotion
	eligible := pr.EligibleMinutes
	if eligible == nil {
		eligible = []int{}
	}
	return pgutil.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var q sq.Sqlizer
		if w.ExpectedUpdatedAt.IsZero() {
			q = pgutil.SQL.Insert("pricing_promotions").
				Columns("id", "kind", "enabled", "discount_percent", "max_discount_amount", "eligible_minutes", "label", "updated_at").
				Values(pr.ID, string(pr.Kind), pr.Enabled, pr.DiscountPercent, pr.MaxDiscountAmount, eligible, pr.Label, pr.UpdatedAt).
				Suffix("ON CONFLICT (kind) DO NOTHING")
		} else {
			q = pgutil.SQL.Update("pricing_promotions").
				Set("enabled", pr.Enabled).
				Set("discount_percent", pr.DiscountPercent).
				Set("max_discount_amount", pr.MaxDiscountAmount).
				Set("eligible_minutes", eligible).
				Set("label", pr.Label).
				Set("updated_at", pr.UpdatedAt).
				Where(sq.Eq{"id": pr.ID, "kind": string(pr.Kind), "updated_at": w.ExpectedUpdatedAt})
		}
		sql, args, err := q.ToSql()
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			cur, err := s.promotion(ctx, tx, pr.Kind)
			if err != nil {
				return err
			}
			return &StaleWriteError{Current: cur}
		}
		return insertHistory(ctx, tx, "pricing_promotions_history", "promotion_id", pr.ID, w.History)
	})
}

func (s *PostgresStore) PromotionHistory(ctx context.Context, kind PromotionKind) ([]HistoryEntry, error) {
	q := pgutil.SQL.Select("h.id, h.promotion_id, h.change_kind, h.changed_by, h.changed_at, h.before, h.after").
		From("pricing_promotions_history h").
		Join("pricing_promotions p ON p.id = h.promotion_id").
		Where(sq.Eq{"p.kind": string(kind)}).
		OrderBy("h.changed_at DESC", "h.id DESC")
	return s.queryHistory(ctx, q, func(h *HistoryEntry, id uuid.UUID) { h.PromotionID = id })
}

func (s *PostgresStore) ClientHasPaidChatStart(ctx context.Context, clientID uuid.UUID) (bool, error) {
	var paid bool
	// The payment side's rule (payment.Store.HasPaidChatStart): a chat_start that was paid
	// and is not (being) given back in full — a free one included, one refunded in part
	// (a chat delivered, then rerouted to nobody) too.
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payment_sessions p
		WHERE p.client_id = $1 AND p.purpose = 'chat_start' AND p.status IN ('paid', 'partially_refunded', 'refund_failed')
		AND (p.amount = 0 OR p.amount > (SELECT COALESCE(sum(r.amount), 0) FROM payment_refunds r WHERE r.payment_id = p.id)))`,
		clientID).Scan(&paid)
	if err != nil {
		return false, pgutil.Translate(err)
	}
	return paid, nil
}

// insertHistory writes one audit row into table (pricing_tiers_history or
// pricing_promotions_history); subjectColumn names the audited row's id column.
func insertHistory(ctx context.Context, tx pgx.Tx, table, subjectColumn string, subjectID uuid.UUID, h HistoryEntry) error {
	var before any // SQL NULL for a create
	if len(h.Before) > 0 {
		before = string(h.Before)
	}
	sql, args, err := pgutil.SQL.Insert(table).
		Columns("id", subjectColumn, "change_kind", "changed_by", "changed_at", "before", "after").
		Values(h.ID, subjectID, string(h.ChangeKind), h.ChangedBy, h.ChangedAt, before, string(h.After)).
		ToSql()
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	return nil
}

// queryHistory runs q (id, subject id, change_kind, changed_by, changed_at, before, after).
func (s *PostgresStore) queryHistory(ctx context.Context, q sq.SelectBuilder, setSubject func(*HistoryEntry, uuid.UUID)) ([]HistoryEntry, error) {
	sql, args, err := q.ToSql()
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	hs, err := pgx.AppendRows([]HistoryEntry{}, rows, func(r pgx.CollectableRow) (HistoryEntry, error) {
		var h HistoryEntry
		var subject uuid.UUID
		var kind string
		var before, after []byte
		if err := r.Scan(&h.ID, &subject, &kind, &h.ChangedBy, &h.ChangedAt, &before, &after); err != nil {
			return HistoryEntry{}, err
		}
		setSubject(&h, subject)
		h.ChangeKind = ChangeKind(kind)
		h.ChangedAt = h.ChangedAt.UTC()
		h.Before, h.After = before, after
		return h, nil
	})
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	return hs, nil
}
