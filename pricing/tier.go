package pricing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/core"
)

// Mode says what a tier prices: a new chat session or an extension of a running one.
type Mode string

const (
	// ModeSession prices a new chat session.
	ModeSession Mode = "session"
	// ModeExtension prices more minutes on a running chat session.
	ModeExtension Mode = "extension"
)

// Tier is the price of (mode, minutes). Mode and Minutes are its natural key and never
// change; to change a duration, deactivate the tier and create another.
type Tier struct {
	ID      uuid.UUID
	Mode    Mode
	Minutes int
	// Price is in the currency's smallest unit.
	Price     int64
	Currency  string
	Label     string
	SortOrder int
	IsActive  bool
	CreatedAt time.Time
	// UpdatedAt is the optimistic-lock token: pass it back as ExpectedUpdatedAt.
	UpdatedAt time.Time
}

// ListTiersParams filters ListTiers.
type ListTiersParams struct {
	Mode            Mode // "" lists both modes
	IncludeInactive bool
}

// CreateTierParams describes a new tier.
type CreateTierParams struct {
	Mode      Mode
	Minutes   int
	Price     int64
	Label     string
	ChangedBy string // operator id, recorded in the history
}

// UpdateTierParams edits a tier's price and/or label. Mode and Minutes exist only to be
// refused: setting either is a validation error (they form the natural key).
type UpdateTierParams struct {
	ID                uuid.UUID
	ExpectedUpdatedAt time.Time
	Price             *int64
	Label             *string
	Mode              *Mode
	Minutes           *int
	ChangedBy         string
}

// ReorderParams gives the new order of every tier of one mode.
type ReorderParams struct {
	Mode Mode
	// Tiers lists every tier of Mode, inactive ones included, in the new order.
	Tiers     []ReorderItem
	ChangedBy string
}

// ReorderItem is one tier of a reorder with the token the caller last saw.
type ReorderItem struct {
	ID                uuid.UUID
	ExpectedUpdatedAt time.Time
}

// ListTiers returns tiers session first, then by sort order.
func (p *PricingStore) ListTiers(ctx context.Context, params ListTiersParams) ([]Tier, error) {
	if params.Mode != "" {
		if err := validateMode(params.Mode); err != nil {
			return nil, err
		}
	}
	tiers, err := p.store.ListTiers(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list tiers: %w", err)
	}
	return tiers, nil
}

// GetTier returns one tier, active or not.
func (p *PricingStore) GetTier(ctx context.Context, id uuid.UUID) (Tier, error) {
	t, err := p.store.GetTier(ctx, id)
	if err != nil {
		return Tier{}, fmt.Errorf("get tier %s: %w", id, err)
	}
	return t, nil
}

// CreateTier adds an active tier. While its mode's tiers are in order of minutes (nobody
// reordered them otherwise), the new tier takes its place by minutes and the tiers after
// it move one place down — each move a write with its own token and history row (change
// kind reorder), in the same transaction as the insert; once an operator has chosen
// another order, a new tier goes to the end. A tier with the same (mode, minutes) — even
// an inactive one — makes it fail with ErrDuplicateTier.
func (p *PricingStore) CreateTier(ctx context.Context, params CreateTierParams) (Tier, error) {
	if err := validateMode(params.Mode); err != nil {
		return Tier{}, err
	}
	if err := core.FirstError(
		validateMinutes(fieldMinutes, params.Minutes),
		validatePrice(params.Mode, params.Price),
		validateLabel(params.Label),
		validateChangedBy(params.ChangedBy),
	); err != nil {
		return Tier{}, err
	}
	// A concurrent write to a tier this one moves makes the insert write nothing: read
	// the order again and retry.
	for attempt := 1; ; attempt++ {
		tier, err := p.createTier(ctx, params)
		if (errors.Is(err, ErrStaleWrite) || errors.Is(err, ErrNotFound)) && attempt < createTierAttempts {
			continue
		}
		return tier, err
	}
}

// createTierAttempts bounds CreateTier's retries when concurrent writes move its mode's
// tiers.
const createTierAttempts = 5

func (p *PricingStore) createTier(ctx context.Context, params CreateTierParams) (Tier, error) {
	existing, err := p.store.ListTiers(ctx, ListTiersParams{Mode: params.Mode, IncludeInactive: true})
	if err != nil {
		return Tier{}, fmt.Errorf("create tier: %w", err)
	}
	for _, t := range existing {
		if t.Minutes == params.Minutes {
			return Tier{}, fmt.Errorf("create %s tier of %d minutes: %w", params.Mode, params.Minutes, ErrDuplicateTier)
		}
	}
	now := p.now()
	tier := Tier{
		ID:        uuid.New(),
		Mode:      params.Mode,
		Minutes:   params.Minutes,
		Price:     params.Price,
		Currency:  p.cfg.Currency,
		Label:     params.Label,
		IsActive:  true,
		CreatedAt: now,
		UpdatedAt: now,
	}
	var moved []TierWrite
	tier.SortOrder, moved, err = placeTier(existing, tier, now, params.ChangedBy)
	if err != nil {
		return Tier{}, err
	}
	h, err := tierHistory(ChangeCreate, params.ChangedBy, nil, tier)
	if err != nil {
		return Tier{}, err
	}
	if err := p.store.InsertTier(ctx, TierWrite{Tier: tier, History: h, Moved: moved}); err != nil {
		return Tier{}, fmt.Errorf("create %s tier of %d minutes: %w", params.Mode, params.Minutes, err)
	}
	p.cfg.Logger.InfoContext(ctx, "pricing tier created", "tier_id", tier.ID, "mode", tier.Mode,
		"minutes", tier.Minutes, "price", tier.Price, "sort_order", tier.SortOrder, "moved", len(moved),
		"changed_by", params.ChangedBy)
	return tier, nil
}

// placeTier returns the sort_order of a new tier among existing (its mode's tiers, in
// order) and the writes that move the others. In order of minutes: its place by minutes,
// the mode renumbered 1..n; otherwise: after the last.
func placeTier(existing []Tier, tier Tier, now time.Time, changedBy string) (int, []TierWrite, error) {
	byMinutes := slices.IsSortedFunc(existing, func(a, b Tier) int { return cmp.Compare(a.Minutes, b.Minutes) })
	if !byMinutes {
		last := 0
		for _, t := range existing {
			last = max(last, t.SortOrder)
		}
		return last + 1, nil, nil
	}
	at, _ := slices.BinarySearchFunc(existing, tier.Minutes, func(t Tier, m int) int { return cmp.Compare(t.Minutes, m) })
	var moved []TierWrite
	for i, cur := range existing {
		want := i + 1
		if i >= at {
			want = i + 2
		}
		if cur.SortOrder == want {
			continue
		}
		next := cur
		next.SortOrder = want
		next.UpdatedAt = nextToken(now, cur.UpdatedAt)
		h, err := tierHistory(ChangeReorder, changedBy, &cur, next)
		if err != nil {
			return 0, nil, err
		}
		moved = append(moved, TierWrite{Tier: next, ExpectedUpdatedAt: cur.UpdatedAt, History: h})
	}
	return at + 1, moved, nil
}

// CreateTierTx is CreateTier inside tx, the caller's transaction: the tier and its history
// row commit or roll back with it (an operator action the host records in its own tables
// too). It needs a TxStore (else ErrNoTx).
func (p *PricingStore) CreateTierTx(ctx context.Context, tx pgx.Tx, params CreateTierParams) (Tier, error) {
	inTx, err := p.inTx(tx)
	if err != nil {
		return Tier{}, fmt.Errorf("create tier: %w", err)
	}
	return inTx.CreateTier(ctx, params)
}

// UpdateTierTx is UpdateTier inside tx, the caller's transaction: the row is locked and
// written, with its history row, in tx. It needs a TxStore (else ErrNoTx).
func (p *PricingStore) UpdateTierTx(ctx context.Context, tx pgx.Tx, params UpdateTierParams) (Tier, error) {
	inTx, err := p.inTx(tx)
	if err != nil {
		return Tier{}, fmt.Errorf("update tier %s: %w", params.ID, err)
	}
	return inTx.UpdateTier(ctx, params)
}

// inTx is p over its store joined to tx.
func (p *PricingStore) inTx(tx pgx.Tx) (*PricingStore, error) {
	ts, ok := p.store.(TxStore)
	if !ok {
		return nil, fmt.Errorf("a store of type %T: %w", p.store, core.ErrNoTx)
	}
	return &PricingStore{store: ts.WithTx(tx), cfg: p.cfg}, nil
}

// UpdateTier changes a tier's price and/or label if it still carries ExpectedUpdatedAt;
// otherwise nothing is written and the error is a *StaleWriteError with the current tier.
// An update that changes nothing writes nothing (no new token, no history row).
func (p *PricingStore) UpdateTier(ctx context.Context, params UpdateTierParams) (Tier, error) {
	if params.Mode != nil {
		return Tier{}, core.Invalid(fieldMode, "is read-only: deactivate the tier and create another")
	}
	if params.Minutes != nil {
		return Tier{}, core.Invalid(fieldMinutes, "is read-only: deactivate the tier and create another")
	}
	if err := validateToken(params.ExpectedUpdatedAt); err != nil {
		return Tier{}, err
	}
	if params.Price != nil && (*params.Price < 0 || *params.Price > MaxPrice) {
		return Tier{}, core.Invalid(fieldPrice, "must be between 0 and %d", MaxPrice)
	}
	if params.Label != nil {
		if err := validateLabel(*params.Label); err != nil {
			return Tier{}, err
		}
	}
	if err := validateChangedBy(params.ChangedBy); err != nil {
		return Tier{}, err
	}
	return p.writeTier(ctx, params.ID, params.ExpectedUpdatedAt, params.ChangedBy, ChangeUpdate, func(t *Tier) error {
		if params.Price != nil {
			if err := validatePrice(t.Mode, *params.Price); err != nil {
				return err
			}
			t.Price = *params.Price
		}
		if params.Label != nil {
			t.Label = *params.Label
		}
		return nil
	})
}

// DeactivateTier hides a tier from clients and quotes (a soft delete; it stays in the
// operator list and can be reactivated).
func (p *PricingStore) DeactivateTier(ctx context.Context, id uuid.UUID, expectedUpdatedAt time.Time, changedBy string) (Tier, error) {
	return p.setActive(ctx, id, expectedUpdatedAt, changedBy, false)
}

// ReactivateTier makes a deactivated tier available again.
func (p *PricingStore) ReactivateTier(ctx context.Context, id uuid.UUID, expectedUpdatedAt time.Time, changedBy string) (Tier, error) {
	return p.setActive(ctx, id, expectedUpdatedAt, changedBy, true)
}

func (p *PricingStore) setActive(ctx context.Context, id uuid.UUID, expected time.Time, by string, active bool) (Tier, error) {
	if err := core.FirstError(validateToken(expected), validateChangedBy(by)); err != nil {
		return Tier{}, err
	}
	kind := ChangeDeactivate
	if active {
		kind = ChangeReactivate
	}
	return p.writeTier(ctx, id, expected, by, kind, func(t *Tier) error {
		t.IsActive = active
		return nil
	})
}

// writeTier reads the tier, checks the token, applies change and writes the result with
// its history row. When change leaves the row as it was, nothing is written.
func (p *PricingStore) writeTier(ctx context.Context, id uuid.UUID, expected time.Time, by string, kind ChangeKind, change func(*Tier) error) (Tier, error) {
	expected = Token(expected)
	cur, err := p.store.GetTier(ctx, id)
	if err != nil {
		return Tier{}, fmt.Errorf("%s tier %s: %w", kind, id, err)
	}
	if !cur.UpdatedAt.Equal(expected) {
		return Tier{}, fmt.Errorf("%s tier %s: %w", kind, id, &StaleWriteError{Current: cur})
	}
	next := cur
	if err := change(&next); err != nil {
		return Tier{}, err
	}
	if next == cur {
		return cur, nil
	}
	next.UpdatedAt = nextToken(p.now(), cur.UpdatedAt)
	h, err := tierHistory(kind, by, &cur, next)
	if err != nil {
		return Tier{}, err
	}
	if err := p.store.UpdateTiers(ctx, []TierWrite{{Tier: next, ExpectedUpdatedAt: expected, History: h}}); err != nil {
		return Tier{}, fmt.Errorf("%s tier %s: %w", kind, id, err)
	}
	p.cfg.Logger.InfoContext(ctx, "pricing tier changed", "tier_id", id, "change", kind, "changed_by", by)
	return next, nil
}

// ReorderTiers sets the order of every tier of a mode in one all-or-nothing write: the
// list must name each tier of the mode (inactive ones too) exactly once, and if any of
// them no longer carries its expected token nothing changes and the error is a
// *StaleWriteError whose Current is the mode's tiers as they are now. Sort orders become
// 1..n and every tier gets a new token and a "reorder" history row. It returns the tiers
// of the mode in their new order.
func (p *PricingStore) ReorderTiers(ctx context.Context, params ReorderParams) ([]Tier, error) {
	if err := validateMode(params.Mode); err != nil {
		return nil, err
	}
	if err := validateChangedBy(params.ChangedBy); err != nil {
		return nil, err
	}
	if len(params.Tiers) == 0 {
		return nil, core.Invalid(fieldTiers, "must list every tier of the mode")
	}
	seen := make(map[uuid.UUID]bool, len(params.Tiers))
	for _, it := range params.Tiers {
		if it.ExpectedUpdatedAt.IsZero() {
			return nil, core.Invalid(fieldExpectedUpdatedAt, "is required for tier %s", it.ID)
		}
		if seen[it.ID] {
			return nil, core.Invalid(fieldTiers, "lists tier %s twice", it.ID)
		}
		seen[it.ID] = true
	}

	current, err := p.store.ListTiers(ctx, ListTiersParams{Mode: params.Mode, IncludeInactive: true})
	if err != nil {
		return nil, fmt.Errorf("reorder %s tiers: %w", params.Mode, err)
	}
	byID := make(map[uuid.UUID]Tier, len(current))
	for _, t := range current {
		byID[t.ID] = t
		if !seen[t.ID] {
			return nil, core.Invalid(fieldTiers, "must list every %s tier: %s is missing", params.Mode, t.ID)
		}
	}
	if len(params.Tiers) != len(current) {
		for _, it := range params.Tiers {
			if _, ok := byID[it.ID]; !ok {
				return nil, core.Invalid(fieldTiers, "%s is not a %s tier", it.ID, params.Mode)
			}
		}
	}

	now := p.now()
	writes := make([]TierWrite, len(params.Tiers))
	out := make([]Tier, len(params.Tiers))
	for i, it := range params.Tiers {
		cur := byID[it.ID]
		if !cur.UpdatedAt.Equal(Token(it.ExpectedUpdatedAt)) {
			return nil, fmt.Errorf("reorder %s tiers: %w", params.Mode, &StaleWriteError{Current: current})
		}
		next := cur
		next.SortOrder = i + 1
		next.UpdatedAt = nextToken(now, cur.UpdatedAt)
		h, err := tierHistory(ChangeReorder, params.ChangedBy, &cur, next)
		if err != nil {
			return nil, err
		}
		writes[i] = TierWrite{Tier: next, ExpectedUpdatedAt: cur.UpdatedAt, History: h}
		out[i] = next
	}
	if err := p.store.UpdateTiers(ctx, writes); err != nil {
		if errors.Is(err, ErrStaleWrite) || errors.Is(err, ErrNotFound) {
			// Report the whole mode as it is now, which is what a caller must re-read.
			if fresh, lerr := p.store.ListTiers(ctx, ListTiersParams{Mode: params.Mode, IncludeInactive: true}); lerr == nil {
				err = &StaleWriteError{Current: fresh}
			}
		}
		return nil, fmt.Errorf("reorder %s tiers: %w", params.Mode, err)
	}
	p.cfg.Logger.InfoContext(ctx, "pricing tiers reordered", "mode", params.Mode, "count", len(out), "changed_by", params.ChangedBy)
	return out, nil
}

// TierHistory returns the audit trail of a tier, newest first, or ErrNotFound for an
// unknown tier.
func (p *PricingStore) TierHistory(ctx context.Context, tierID uuid.UUID) ([]HistoryEntry, error) {
	hs, err := p.store.TierHistory(ctx, tierID)
	if err == nil && len(hs) == 0 {
		_, err = p.store.GetTier(ctx, tierID) // empty history, or no such tier?
	}
	if err != nil {
		return nil, fmt.Errorf("tier %s history: %w", tierID, err)
	}
	return hs, nil
}
