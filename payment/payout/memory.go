package payout

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/payment/ledger"
)

// MemoryStore is an in-memory Store over a memdb database: its tables
// payout_destinations and payouts, and, in the same transaction, the ledger's (postings
// and balances) and the mitras a destination refers to. Every method is one transaction.
type MemoryStore struct {
	db           *memdb.DB
	destinations memdb.Table[uuid.UUID, Destination]
	payouts      memdb.Table[uuid.UUID, Payout]
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store over a database of its own.
func NewMemoryStore() *MemoryStore { return NewMemoryStoreIn(memdb.New()) }

// NewMemoryStoreIn returns a MemoryStore over db, whose tables it shares with the other
// domains' stores over it (curhat.NewMemoryClient).
func NewMemoryStoreIn(db *memdb.DB) *MemoryStore {
	return &MemoryStore{
		db:           db,
		destinations: memdb.NewTable[uuid.UUID, Destination](db, "payout_destinations", nil),
		payouts: memdb.NewTable[uuid.UUID, Payout](db, "payouts", func(p Payout) memdb.Row {
			return memdb.Row{"mitra_id": p.MitraID, "status": string(p.Status), "amount": p.Amount}
		}),
	}
}

func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (s *MemoryStore) PutDestination(_ context.Context, d Destination) (Destination, error) {
	if err := d.Validate(); err != nil {
		return Destination{}, err
	}
	tx := s.db.Begin()
	defer tx.End()
	if tx.Missing("mitras", d.MitraID) {
		return Destination{}, fmt.Errorf("payout destination of mitra %s: %w", d.MitraID, ErrNotFound)
	}
	d.UpdatedAt = truncate(d.UpdatedAt)
	s.destinations[d.MitraID] = d
	return d, nil
}

func (s *MemoryStore) GetDestination(_ context.Context, mitraID uuid.UUID) (Destination, error) {
	defer s.db.Begin().End()
	d, ok := s.destinations[mitraID]
	if !ok {
		return Destination{}, fmt.Errorf("payout destination of mitra %s: %w", mitraID, ErrNotFound)
	}
	return d, nil
}

// open reports whether the mitra has an open payout.
func (s *MemoryStore) open(mitraID uuid.UUID) bool {
	for _, p := range s.payouts {
		if p.MitraID == mitraID && p.Status.Open() {
			return true
		}
	}
	return false
}

func (s *MemoryStore) Eligible(_ context.Context, minimum int64, limit int) ([]uuid.UUID, error) {
	tx := s.db.Begin()
	defer tx.End()
	var out []uuid.UUID
	for id := range s.destinations {
		available := ledger.HeldIn(tx, id, ledger.AccountMitraAvailable)
		if available > 0 && available >= minimum && !s.open(id) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *MemoryStore) Create(_ context.Context, c CreateParams) (Payout, error) {
	tx := s.db.Begin()
	defer tx.End()
	d, ok := s.destinations[c.MitraID]
	if !ok {
		return Payout{}, fmt.Errorf("create the payout of mitra %s: %w", c.MitraID, &NotEligibleError{MitraID: c.MitraID, Reason: ReasonNoDestination})
	}
	available := ledger.HeldIn(tx, c.MitraID, ledger.AccountMitraAvailable)
	if err := eligible(c, available, s.open(c.MitraID)); err != nil {
		return Payout{}, fmt.Errorf("create the payout of mitra %s: %w", c.MitraID, err)
	}
	if _, ok := s.payouts[c.ID]; ok {
		return Payout{}, fmt.Errorf("create the payout of mitra %s: payout %s exists: %w", c.MitraID, c.ID, ErrConflict)
	}
	at := truncate(c.At)
	p := Payout{ID: c.ID, MitraID: c.MitraID, Amount: available, Currency: c.Currency, Status: StatusPending,
		ChannelCode: d.ChannelCode, AccountNumber: d.AccountNumber, AccountHolderName: d.AccountHolderName,
		CreatedAt: at, UpdatedAt: at}
	txn, _ := posting(p, StatusPending, at)
	if _, err := ledger.PostIn(tx, txn); err != nil {
		return Payout{}, fmt.Errorf("create the payout of mitra %s: %w", c.MitraID, err)
	}
	s.payouts[p.ID] = p
	return p, nil
}

func (s *MemoryStore) Claim(_ context.Context, id uuid.UUID, attempts int, at time.Time) (Payout, bool, error) {
	defer s.db.Begin().End()
	p, ok := s.payouts[id]
	if !ok {
		return Payout{}, false, fmt.Errorf("payout %s: %w", id, ErrNotFound)
	}
	if p.Status != StatusPending || p.Attempts != attempts {
		return p, false, nil
	}
	p.Attempts++
	p.UpdatedAt = truncate(at)
	s.payouts[id] = p
	return p, true, nil
}

func (s *MemoryStore) Transition(_ context.Context, t Transition) (Payout, bool, error) {
	tx := s.db.Begin()
	defer tx.End()
	p, ok := s.payouts[t.ID]
	if !ok {
		return Payout{}, false, fmt.Errorf("payout %s: %w", t.ID, ErrNotFound)
	}
	if !slices.Contains(t.From, p.Status) {
		return p, false, nil
	}
	at := truncate(t.At)
	p.Status, p.UpdatedAt = t.To, at
	if t.ProviderRef != "" {
		p.ProviderRef = t.ProviderRef
	}
	if t.FailureReason != "" {
		p.FailureReason = t.FailureReason
	}
	if txn, ok := posting(p, t.To, at); ok {
		if _, err := ledger.PostIn(tx, txn); err != nil {
			return Payout{}, false, fmt.Errorf("payout %s to %s: %w", t.ID, t.To, err)
		}
	}
	s.payouts[t.ID] = p
	return p, true, nil
}

func (s *MemoryStore) Get(_ context.Context, id uuid.UUID) (Payout, error) {
	defer s.db.Begin().End()
	p, ok := s.payouts[id]
	if !ok {
		return Payout{}, fmt.Errorf("payout %s: %w", id, ErrNotFound)
	}
	return p, nil
}

func (s *MemoryStore) List(_ context.Context, f Filter) ([]Payout, int, error) {
	f, err := f.normalize()
	if err != nil {
		return nil, 0, err
	}
	defer s.db.Begin().End()
	var all []Payout
	for _, p := range s.payouts {
		if (f.Status == "" || p.Status == f.Status) && (f.MitraID == nil || p.MitraID == *f.MitraID) {
			all = append(all, p)
		}
	}
	slices.SortFunc(all, func(a, b Payout) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), slices.Compare(b.ID[:], a.ID[:]))
	})
	return memdb.Page(all, f.Page, f.PageSize, f.PageSize), len(all), nil
}

func (s *MemoryStore) DuePending(_ context.Context, before time.Time, limit int) ([]Payout, error) {
	defer s.db.Begin().End()
	var out []Payout
	for _, p := range s.payouts {
		if p.Status == StatusPending && !p.UpdatedAt.After(before) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Payout) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), slices.Compare(a.ID[:], b.ID[:]))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *MemoryStore) Stats(_ context.Context) (Stats, error) {
	defer s.db.Begin().End()
	st := Stats{ByStatus: map[Status]int{}}
	for _, p := range s.payouts {
		st.ByStatus[p.Status]++
		if p.Status == StatusSucceeded {
			st.PaidOut += p.Amount
		}
	}
	return st, nil
}
