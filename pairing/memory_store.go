package pairing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
)

// MemoryMitra is a mitra as PutMitra registers it in a MemoryStore built alone: what the
// store reads of a row of mitras, a table of the availability domain.
type MemoryMitra struct {
	ID     uuid.UUID
	Active bool
	// MaxConcurrentSessions is the mitra's own maximum; 0 means the runtime default.
	MaxConcurrentSessions int
	// DisplayName is the name operators see in the lists of live work.
	DisplayName string
}

// MemoryStore is an in-memory Store over a memdb database: its tables (clients, pairings,
// pairing_offers, chat_sessions, pairing_failures, pairing_mitra_stats and
// pairing_queue_estimate) and, in the same transaction, those of other domains that its
// Postgres twin reads or writes: mitras (capacity, and the foreign keys of offers and
// targets), payment_sessions (the foreign key of AttachPayment) and the refunds a
// transition owes (payment_refunds). Every method is one transaction, atomic like the
// Postgres ones.
//
// Over the database curhat.NewMemoryClient shares, those tables are the other domains'
// stores'. A store built alone (NewMemoryStore) has its own mitras, registered with
// PutMitra, and no payment tables: a transition that owes a refund records it through
// RecordRefunds, and AttachPayment does not check that the payment exists.
type MemoryStore struct {
	// RecordRefunds records the refund a transition owes (PairingTransition.Refund) when
	// the store's database has no payment tables (a store built alone): wire it to a
	// payment store (pairingtest.Payments.RecordRefunds does). It is called in the
	// transition's transaction, after the guard held and before anything changed, so a
	// failure changes nothing; it must not call a store of this database. Such a
	// transition fails while it is nil.
	RecordRefunds func(ctx context.Context, r payment.RefundOrder, at time.Time) ([]payment.Refund, error)

	db       *memdb.DB
	mitras   memdb.Table[uuid.UUID, MemoryMitra] // a store built alone only
	clients  memdb.Table[uuid.UUID, Client]
	pairings memdb.Table[uuid.UUID, Pairing]
	offers   memdb.Table[offerKey, offer]
	sessions memdb.Table[uuid.UUID, ChatSession]
	failures memdb.Table[uuid.UUID, Failure]
	stats    memdb.Table[uuid.UUID, mitraStats]
	// estimate is the one row of the shared wait estimate.
	estimate memdb.Table[bool, queueEstimate]
	blocks   memdb.Table[blockKey, Block]
	// ratings are keyed by their chat session (one rating each); totals are the mitras'
	// running totals of ratings.
	ratings memdb.Table[uuid.UUID, Rating]
	totals  memdb.Table[uuid.UUID, RatingSummary]
}

type offerKey struct{ pairingID, mitraID uuid.UUID }

type offer struct {
	status    OfferStatus
	createdAt time.Time
	updatedAt time.Time
	// expiresAt is the offer's own deadline (offers of queued pairings).
	expiresAt *time.Time
}

// mitraStats is what the pairing policies keep per mitra.
type mitraStats struct {
	missed    int
	idleSince *time.Time
	answers   OfferAnswers
}

// queueEstimate is the wait estimate in seconds over samples waits.
type queueEstimate struct {
	seconds float64
	samples int
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore over a database of its own, with mitras of
// its own (PutMitra).
func NewMemoryStore() *MemoryStore {
	db := memdb.New()
	s := NewMemoryStoreIn(db)
	s.mitras = memdb.NewTable[uuid.UUID, MemoryMitra](db, "mitras", func(m MemoryMitra) memdb.Row {
		var max *int
		if m.MaxConcurrentSessions > 0 {
			max = &m.MaxConcurrentSessions
		}
		return memdb.Row{"is_active": m.Active, "max_concurrent_sessions": max, "display_name": m.DisplayName}
	})
	return s
}

// NewMemoryStoreIn returns a MemoryStore over db, whose tables it shares with the stores of
// the other domains built over it (curhat.NewMemoryClient builds them all over one), and
// with any other pairing MemoryStore over db (a second instance). Hosts call
// NewMemoryStore, or curhat.NewMemoryClient for the whole product.
func NewMemoryStoreIn(db *memdb.DB) *MemoryStore {
	return &MemoryStore{
		db:       db,
		clients:  memdb.NewTable[uuid.UUID, Client](db, "clients", nil),
		pairings: memdb.NewTable[uuid.UUID, Pairing](db, "pairings", memPairingColumns),
		offers:   memdb.NewTable[offerKey, offer](db, "pairing_offers", nil),
		sessions: memdb.NewTable[uuid.UUID, ChatSession](db, "chat_sessions", memSessionColumns),
		failures: memdb.NewTable[uuid.UUID, Failure](db, "pairing_failures", nil),
		stats:    memdb.NewTable[uuid.UUID, mitraStats](db, "pairing_mitra_stats", nil),
		estimate: memdb.NewTable[bool, queueEstimate](db, "pairing_queue_estimate", nil),
		blocks:   memdb.NewTable[blockKey, Block](db, "pairing_blocks", nil),
		ratings:  memdb.NewTable[uuid.UUID, Rating](db, "chat_ratings", nil),
		totals:   memdb.NewTable[uuid.UUID, RatingSummary](db, "mitra_rating_totals", nil),
	}
}

// memPairingColumns is what the payment store reads of a pairing (Reconcile).
func memPairingColumns(p Pairing) memdb.Row {
	return memdb.Row{"payment_session_id": p.PaymentSessionID, "prepaid": p.Prepaid, "status": string(p.Status),
		"chat_session_id": p.ChatSessionID}
}

// memSessionColumns is what other domains read of a chat session: availability counts a
// mitra's open sessions, the payment store's Reconcile asks whether one started.
func memSessionColumns(c ChatSession) memdb.Row {
	return memdb.Row{"mitra_id": c.MitraID, "pairing_id": c.PairingID, "status": string(c.Status), "started_at": c.StartedAt, "ended_at": c.EndedAt}
}

// PutMitra registers or replaces a mitra of a store built alone (NewMemoryStore). Over a
// shared database the mitras are the availability store's: PutMitra panics.
func (s *MemoryStore) PutMitra(m MemoryMitra) {
	if s.mitras == nil {
		panic("pairing: PutMitra on a MemoryStore over a shared database: create mitras with the availability store")
	}
	defer s.db.Begin().End()
	s.mitras[m.ID] = m
}

// PutChatSession inserts or replaces a chat session as is, without the checks of the
// Store's methods (to set up tests, e.g. an ended session that allows "Curhat lagi", or an
// extension that moved ends_at).
func (s *MemoryStore) PutChatSession(c ChatSession) {
	defer s.db.Begin().End()
	s.sessions[c.ID] = c
}

// memoryMitra reads a row of mitras, whichever store owns the table.
func memoryMitra(tx *memdb.Tx, id uuid.UUID) (MemoryMitra, bool) {
	row, ok := tx.Lookup("mitras", id)
	if !ok {
		return MemoryMitra{}, false
	}
	m := MemoryMitra{ID: id, Active: memdb.Col[bool](row, "is_active")}
	if max := memdb.Col[*int](row, "max_concurrent_sessions"); max != nil {
		m.MaxConcurrentSessions = *max
	}
	return m, true
}

func notFound(what string, id uuid.UUID) error {
	return fmt.Errorf("%s %s: %w", what, id, ErrNotFound)
}

func (s *MemoryStore) CreateClient(_ context.Context, c Client) (Client, error) {
	if n := utf8.RuneCountInString(c.DisplayName); n < 1 || n > MaxClientNameLength {
		return Client{}, checkViolation("clients_display_name_check")
	}
	defer s.db.Begin().End()
	if cur, ok := s.clients[c.ID]; ok {
		if cur.DisplayName != c.DisplayName {
			return Client{}, fmt.Errorf("client %s is registered with another display name: %w", c.ID, ErrConflict)
		}
		return cur, nil
	}
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	c.IsActive = true // as the column's default
	s.clients[c.ID] = c
	return c, nil
}

func (s *MemoryStore) GetClient(_ context.Context, id uuid.UUID) (Client, error) {
	defer s.db.Begin().End()
	c, ok := s.clients[id]
	if !ok {
		return Client{}, notFound("client", id)
	}
	return c, nil
}

// checkViolation is the error of a value outside a column's check, as pgutil.Translate
// reports it from Postgres.
func checkViolation(constraint string) error {
	return &core.ValidationError{Field: constraint, Reason: "violates a database check"}
}

// checkPairing applies the checks and foreign keys of pairings to a row to insert.
func checkPairing(tx *memdb.Tx, p Pairing) error {
	switch {
	case p.Type != TypeBlast && p.Type != TypeTargeted:
		return checkViolation("pairings_type_check")
	case !p.Status.Open() && p.Status != StatusMatched && p.Status != StatusFailed && p.Status != StatusCancelled:
		return checkViolation("pairings_status_check")
	case p.Minutes < 1 || p.Minutes > 1440:
		return checkViolation("pairings_minutes_check")
	case p.Rings < 0:
		return checkViolation("pairings_rings_check")
	case tx.Missing("clients", p.ClientID):
		return notFound("client", p.ClientID)
	case p.TargetMitraID != nil && tx.Missing("mitras", *p.TargetMitraID):
		return notFound("mitra", *p.TargetMitraID)
	case p.PaymentSessionID != nil && tx.Missing("payment_sessions", *p.PaymentSessionID):
		return notFound("payment session", *p.PaymentSessionID)
	}
	return nil
}

func (s *MemoryStore) CreatePairing(_ context.Context, p Pairing) (Pairing, error) {
	tx := s.db.Begin()
	defer tx.End()
	// In the order of the Postgres store: the client, the id, the open pairing, the row.
	client, ok := s.clients[p.ClientID]
	if !ok {
		return Pairing{}, notFound("client", p.ClientID)
	}
	if !client.IsActive {
		return Pairing{}, fmt.Errorf("client %s: %w", p.ClientID, ErrClientSuspended)
	}
	if _, ok := s.pairings[p.ID]; ok {
		return Pairing{}, fmt.Errorf("pairing %s exists: %w", p.ID, ErrConflict)
	}
	for _, o := range s.pairings {
		if o.ClientID == p.ClientID && o.Status.Open() {
			return Pairing{}, fmt.Errorf("client %s already has an open pairing %s: %w", p.ClientID, o.ID, ErrInvalidState)
		}
	}
	if err := checkPairing(tx, p); err != nil {
		return Pairing{}, err
	}
	p.Preferences, p.RoutingSteps = clonePreferences(p.Preferences), slices.Clone(p.RoutingSteps) // as a row: not the caller's
	s.pairings[p.ID] = p
	return p, nil
}

func (s *MemoryStore) GetPairing(_ context.Context, id uuid.UUID) (Pairing, error) {
	defer s.db.Begin().End()
	p, ok := s.pairings[id]
	if !ok {
		return Pairing{}, notFound("pairing", id)
	}
	return p, nil
}

func (s *MemoryStore) ListPairings(_ context.Context, q PairingQuery) ([]Pairing, error) {
	defer s.db.Begin().End()
	var out []Pairing
	for _, p := range s.pairings {
		switch {
		case len(q.Statuses) > 0 && !slices.Contains(q.Statuses, p.Status):
		case q.DueBy != nil && (p.ExpiresAt == nil || p.ExpiresAt.After(*q.DueBy)):
		case q.UpdatedBefore != nil && !p.UpdatedAt.Before(*q.UpdatedBefore):
		case q.WithoutPayment && p.PaymentSessionID != nil:
		case q.RingDueBy != nil && (p.NextRingAt == nil || p.NextRingAt.After(*q.RingDueBy)):
		case q.StepDueBy != nil && (p.NextStepAt == nil || p.NextStepAt.After(*q.StepDueBy)):
		default:
			out = append(out, p)
		}
	}
	slices.SortFunc(out, oldestPairingFirst)
	return limit(out, q.Limit), nil
}

func oldestPairingFirst(a, b Pairing) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), compareIDs(a.ID, b.ID))
}

func compareIDs(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }

func limit[T any](items []T, n int) []T {
	if n > 0 && len(items) > n {
		return items[:n]
	}
	return items
}

func (s *MemoryStore) AttachPayment(_ context.Context, pairingID, paymentID uuid.UUID, now time.Time) (Pairing, error) {
	tx := s.db.Begin()
	defer tx.End()
	p, ok := s.pairings[pairingID]
	if !ok {
		return Pairing{}, notFound("pairing", pairingID)
	}
	if p.PaymentSessionID != nil && *p.PaymentSessionID != paymentID {
		return Pairing{}, fmt.Errorf("pairing %s has another payment: %w", pairingID, ErrInvalidState)
	}
	if tx.Missing("payment_sessions", paymentID) {
		return Pairing{}, notFound("payment session", paymentID)
	}
	p.PaymentSessionID = &paymentID
	p.UpdatedAt = now
	s.pairings[pairingID] = p
	return p, nil
}

func (s *MemoryStore) Transition(ctx context.Context, t PairingTransition) (TransitionResult, error) {
	tx := s.db.Begin()
	defer tx.End()
	p, ok := s.pairings[t.ID]
	if !ok {
		return TransitionResult{}, notFound("pairing", t.ID)
	}
	if !slices.Contains(t.From, p.Status) || (t.DueBy != nil && (p.ExpiresAt == nil || p.ExpiresAt.After(*t.DueBy))) {
		return TransitionResult{}, fmt.Errorf("pairing %s is %s: %w", t.ID, p.Status, ErrInvalidState)
	}
	var refunds []payment.Refund
	if t.Refund != nil {
		var err error
		switch {
		case tx.Has("payment_sessions"):
			refunds, err = payment.RecordRefundIn(tx, payment.RefundRecord{RefundOrder: *t.Refund, At: t.Now})
		case s.RecordRefunds != nil:
			refunds, err = s.RecordRefunds(ctx, *t.Refund, t.Now)
		default:
			err = errors.New("the store has no payment tables and MemoryStore.RecordRefunds is not set")
		}
		if err != nil {
			return TransitionResult{}, fmt.Errorf("record the refund of pairing %s: %w", t.ID, err)
		}
	}
	p.Status, p.UpdatedAt = t.To, t.Now
	if t.ExpiresAt != nil {
		p.ExpiresAt = t.ExpiresAt
	}
	if t.FailureReason != "" {
		p.FailureReason = t.FailureReason
	}
	if t.PaidAt != nil {
		p.PaidAt = t.PaidAt
	}
	if t.To == StatusQueued {
		p.QueuedAt = cmp.Or(p.QueuedAt, &t.Now)
		p.PaidAt = cmp.Or(p.PaidAt, &t.Now)
	}
	if t.To != StatusSearching {
		p.NextRingAt, p.NextStepAt = nil, nil
	}
	if r := t.Routing; r != nil {
		p.RoutingSteps, p.RoutingStep, p.NextStepAt = slices.Clone(r.Steps), r.Step, r.NextStepAt
	}
	if t.To.Final() {
		p.ClosedAt = &t.Now
	}
	s.pairings[p.ID] = p
	res := TransitionResult{Pairing: p, Refunds: refunds}
	offered := 0
	for _, k := range s.offerKeys(p.ID) {
		offered++
		o := s.offers[k]
		if t.OfferStatus != "" && o.status == OfferOffered {
			o.status, o.updatedAt = t.OfferStatus, t.Now
			s.offers[k] = o
			s.countAnswer(k.mitraID, t.OfferStatus)
			res.Closed = append(res.Closed, k.mitraID)
		}
	}
	if t.Failure != nil {
		f := t.Failure.WithRecordedRefunds(t.Refund, refunds)
		if f.ID == uuid.Nil {
			f.ID = uuid.New()
		}
		f.PairingID, f.ClientID, f.Type, f.TargetMitraID = p.ID, p.ClientID, p.Type, p.TargetMitraID
		f.OfferedCount, f.Status, f.CreatedAt = offered, FailureOpen, t.Now
		f.ResolvedBy, f.ResolvedAt, f.Note = "", nil, ""
		s.failures[f.ID] = f
		res.Failure = &f
	}
	return res, nil
}

// offerKeys returns the keys of the pairing's offers, oldest first.
func (s *MemoryStore) offerKeys(pairingID uuid.UUID) []offerKey {
	var keys []offerKey
	for k := range s.offers {
		if k.pairingID == pairingID {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b offerKey) int {
		return cmp.Or(s.offers[a].createdAt.Compare(s.offers[b].createdAt), compareIDs(a.mitraID, b.mitraID))
	})
	return keys
}

func (s *MemoryStore) FallbackToBlast(_ context.Context, id uuid.UUID, now time.Time) (Pairing, error) {
	defer s.db.Begin().End()
	p, ok := s.pairings[id]
	if !ok {
		return Pairing{}, notFound("pairing", id)
	}
	if p.Status != StatusTargetedUnavailable {
		return Pairing{}, fmt.Errorf("pairing %s is %s: %w", id, p.Status, ErrInvalidState)
	}
	p.Type, p.Status = TypeBlast, StatusAwaitingPayment
	p.PaymentSessionID, p.ExpiresAt, p.FailureReason, p.UpdatedAt = nil, nil, "", now
	s.pairings[id] = p
	return p, nil
}

func (s *MemoryStore) InsertOffers(_ context.Context, pairingID uuid.UUID, mitraIDs []uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	if len(mitraIDs) == 0 {
		return nil, nil
	}
	tx := s.db.Begin()
	defer tx.End()
	p, ok := s.pairings[pairingID]
	if !ok {
		return nil, notFound("pairing", pairingID)
	}
	if !p.Status.Waiting() || p.ExpiresAt == nil || !p.ExpiresAt.After(now) {
		return nil, nil
	}
	for _, m := range mitraIDs {
		if tx.Missing("mitras", m) {
			return nil, notFound("mitra", m)
		}
	}
	var offered []uuid.UUID
	for _, m := range mitraIDs {
		k := offerKey{pairingID, m}
		if _, ok := s.offers[k]; ok || s.blocked(p.ClientID, m) {
			continue
		}
		s.offers[k] = offer{status: OfferOffered, createdAt: now, updatedAt: now}
		offered = append(offered, m)
	}
	return offered, nil
}

func (s *MemoryStore) OfferedMitras(_ context.Context, pairingID uuid.UUID) ([]uuid.UUID, error) {
	defer s.db.Begin().End()
	var ids []uuid.UUID
	for _, k := range s.offerKeys(pairingID) {
		ids = append(ids, k.mitraID)
	}
	return ids, nil
}

func (s *MemoryStore) ListOffers(_ context.Context, mitraID uuid.UUID, now time.Time) ([]Offer, error) {
	defer s.db.Begin().End()
	var out []Offer
	for k, o := range s.offers {
		if k.mitraID != mitraID || o.status != OfferOffered {
			continue
		}
		p := s.pairings[k.pairingID]
		deadline, live := offerDeadline(p, o, now)
		if !live {
			continue
		}
		out = append(out, Offer{PairingID: p.ID, Type: p.Type, Minutes: p.Minutes, ExpiresAt: deadline,
			OfferedAt: o.createdAt, Queued: p.Status == StatusQueued, ClientID: p.ClientID,
			ClientDisplayName: s.clients[p.ClientID].DisplayName})
	}
	slices.SortFunc(out, func(a, b Offer) int {
		pa, pb := s.pairings[a.PairingID], s.pairings[b.PairingID]
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), pa.CreatedAt.Compare(pb.CreatedAt), compareIDs(a.PairingID, b.PairingID))
	})
	return out, nil
}

// offerDeadline is when a live offer (status offered) of p ends, and whether it is still
// live at now: a waiting pairing's offers end at its deadline, a queued pairing's at their
// own (never later than the pairing's).
func offerDeadline(p Pairing, o offer, now time.Time) (time.Time, bool) {
	if p.ExpiresAt == nil {
		return time.Time{}, false
	}
	switch {
	case p.Status.Waiting():
		return *p.ExpiresAt, p.ExpiresAt.After(now)
	case p.Status == StatusQueued && o.expiresAt != nil:
		d := *o.expiresAt
		if p.ExpiresAt.Before(d) {
			d = *p.ExpiresAt
		}
		return d, d.After(now)
	}
	return time.Time{}, false
}

func (s *MemoryStore) DeclineOffer(_ context.Context, mitraID, pairingID uuid.UUID, now time.Time) (Pairing, error) {
	defer s.db.Begin().End()
	k := offerKey{pairingID, mitraID}
	o, ok := s.offers[k]
	if !ok || o.status != OfferOffered {
		return Pairing{}, fmt.Errorf("no live offer of pairing %s for mitra %s: %w", pairingID, mitraID, ErrNotFound)
	}
	o.status, o.updatedAt = OfferDeclined, now
	s.offers[k] = o
	s.countAnswer(mitraID, OfferDeclined)
	return s.pairings[pairingID], nil
}

func (s *MemoryStore) PairingsToOffer(_ context.Context, mitraID uuid.UUID, now time.Time, n int) ([]Pairing, error) {
	defer s.db.Begin().End()
	var out []Pairing
	for _, p := range s.pairings {
		if p.Status != StatusSearching || p.Type != TypeBlast || p.ExpiresAt == nil || !p.ExpiresAt.After(now) || p.Rings > 0 {
			continue
		}
		if _, offered := s.offers[offerKey{p.ID, mitraID}]; offered || s.blocked(p.ClientID, mitraID) {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, oldestPairingFirst)
	return limit(out, n), nil
}

func (s *MemoryStore) AcceptOffer(_ context.Context, a AcceptParams) (AcceptResult, error) {
	tx := s.db.Begin()
	defer tx.End()
	m, ok := memoryMitra(tx, a.MitraID)
	if !ok {
		return AcceptResult{}, notFound("mitra", a.MitraID)
	}
	p, ok := s.pairings[a.PairingID]
	if !ok {
		return AcceptResult{}, notFound("pairing", a.PairingID)
	}
	k := offerKey{a.PairingID, a.MitraID}
	o, ok := s.offers[k]
	if !ok {
		return AcceptResult{}, fmt.Errorf("no offer for mitra %s: %w", a.MitraID, ErrNotFound)
	}
	maxSessions := a.DefaultMaxSessions
	if m.MaxConcurrentSessions > 0 {
		maxSessions = m.MaxConcurrentSessions
	}
	replay, err := CheckAccept(AcceptCheck{
		Pairing: p, MitraID: a.MitraID, Offer: o.status, OfferExpiresAt: o.expiresAt, Blocked: s.blocked(p.ClientID, a.MitraID),
		MitraActive: m.Active, OpenSessions: s.openSessions(a.MitraID), MaxSessions: maxSessions, Now: a.Now,
	})
	if err != nil {
		return AcceptResult{}, err
	}
	name := s.clients[p.ClientID].DisplayName
	if replay {
		return AcceptResult{Pairing: p, Session: s.sessions[*p.ChatSessionID], Replayed: true, ClientDisplayName: name}, nil
	}
	sess := NewAcceptedSession(p, a)
	if _, ok := s.sessions[sess.ID]; ok {
		return AcceptResult{}, fmt.Errorf("chat session %s exists: %w", sess.ID, ErrConflict)
	}
	if sess.ReroutedFromID != nil && tx.Missing("chat_sessions", *sess.ReroutedFromID) {
		return AcceptResult{}, notFound("chat session", *sess.ReroutedFromID)
	}
	s.sessions[sess.ID] = sess
	p.Status, p.MatchedMitraID, p.ChatSessionID, p.UpdatedAt, p.ClosedAt = StatusMatched, &a.MitraID, &sess.ID, a.Now, &a.Now
	s.pairings[p.ID] = p
	o.status, o.updatedAt = OfferAccepted, a.Now
	s.offers[k] = o
	s.countAnswer(a.MitraID, OfferAccepted)
	res := AcceptResult{Pairing: p, Session: sess, ClientDisplayName: name}
	for _, ok := range s.offerKeys(p.ID) {
		other := s.offers[ok]
		if other.status == OfferOffered {
			other.status, other.updatedAt = OfferDismissed, a.Now
			s.offers[ok] = other
			res.Dismissed = append(res.Dismissed, ok.mitraID)
		}
	}
	res.Released = s.releaseQueuedOffers(a.MitraID, maxSessions, a.Now)
	return res, nil
}

// releaseQueuedOffers dismisses the live offers of queued pairings the mitra holds beyond
// its free slots, those furthest back in the queue first.
func (s *MemoryStore) releaseQueuedOffers(mitraID uuid.UUID, maxSessions int, now time.Time) []OfferRef {
	held := s.heldQueuedOffers(mitraID, now)
	excess := len(held) - max(maxSessions-s.openSessions(mitraID), 0)
	var out []OfferRef
	for i := len(held) - excess; excess > 0 && i < len(held); i++ {
		k := held[i]
		o := s.offers[k]
		o.status, o.updatedAt = OfferDismissed, now
		s.offers[k] = o
		out = append(out, OfferRef{PairingID: k.pairingID, MitraID: k.mitraID})
	}
	return out
}

// heldQueuedOffers returns the live offers of queued pairings the mitra holds, in queue
// order.
func (s *MemoryStore) heldQueuedOffers(mitraID uuid.UUID, now time.Time) []offerKey {
	var held []offerKey
	for k, o := range s.offers {
		if k.mitraID != mitraID || o.status != OfferOffered {
			continue
		}
		if p := s.pairings[k.pairingID]; p.Status == StatusQueued {
			if _, live := offerDeadline(p, o, now); live {
				held = append(held, k)
			}
		}
	}
	slices.SortFunc(held, func(a, b offerKey) int { return queueOrder(s.pairings[a.pairingID], s.pairings[b.pairingID]) })
	return held
}

func (s *MemoryStore) openSessions(mitraID uuid.UUID) int {
	n := 0
	for _, c := range s.sessions {
		if c.MitraID == mitraID && c.Holds() {
			n++
		}
	}
	return n
}

func (s *MemoryStore) MitraInfo(_ context.Context, mitraID uuid.UUID) (MitraInfo, error) {
	tx := s.db.Begin()
	defer tx.End()
	m, ok := memoryMitra(tx, mitraID)
	if !ok {
		return MitraInfo{}, notFound("mitra", mitraID)
	}
	return MitraInfo{Active: m.Active, MaxConcurrentSessions: m.MaxConcurrentSessions, OpenSessions: s.openSessions(mitraID)}, nil
}

func (s *MemoryStore) GetChatSession(_ context.Context, id uuid.UUID) (ChatSession, error) {
	defer s.db.Begin().End()
	c, ok := s.sessions[id]
	if !ok {
		return ChatSession{}, notFound("chat session", id)
	}
	return c, nil
}

func (s *MemoryStore) ListChatSessions(_ context.Context, q ListSessionsParams) ([]ChatSession, error) {
	defer s.db.Begin().End()
	statuses := q.Statuses
	if q.Status != "" {
		statuses = append([]SessionStatus{q.Status}, statuses...)
	}
	var out []ChatSession
	for _, c := range s.sessions {
		switch {
		case q.ClientID != nil && c.ClientID != *q.ClientID:
		case q.MitraID != nil && c.MitraID != *q.MitraID:
		case len(statuses) > 0 && !slices.Contains(statuses, c.Status):
		case len(q.EndReasons) > 0 && !slices.Contains(q.EndReasons, c.EndReason):
		case q.EndsBy != nil && (c.EndsAt == nil || c.EndsAt.After(*q.EndsBy)):
		default:
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b ChatSession) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), compareIDs(b.ID, a.ID))
	})
	return limit(out, q.Limit), nil
}

func (s *MemoryStore) HasEndedSession(_ context.Context, clientID, mitraID uuid.UUID) (bool, error) {
	defer s.db.Begin().End()
	for _, c := range s.sessions {
		if c.ClientID == clientID && c.MitraID == mitraID && c.Status == SessionEnded {
			return true, nil
		}
	}
	return false, nil
}

func (s *MemoryStore) CountOpenSessions(ctx context.Context) (OpenSessionCounts, error) {
	open, err := s.ListChatSessions(ctx, ListSessionsParams{Statuses: []SessionStatus{SessionActive, SessionPendingPayment}})
	var n OpenSessionCounts
	for _, c := range open {
		if c.Status == SessionActive {
			n.Active++
		} else {
			n.PendingPayment++
		}
	}
	return n, err
}

func (s *MemoryStore) ActivateChatSession(_ context.Context, id uuid.UUID, startedAt, endsAt, now time.Time) (ChatSession, error) {
	defer s.db.Begin().End()
	c, err := s.guardSession(id, []SessionStatus{SessionPendingPayment}, nil, nil)
	if err != nil {
		return ChatSession{}, err
	}
	c.Status, c.StartedAt, c.EndsAt, c.UpdatedAt = SessionActive, &startedAt, &endsAt, now
	s.sessions[id] = c
	return c, nil
}

// guardSession returns the session when it is in one of from, ends at or before dueBy
// (when set) and at exactly endsAt (when set); else ErrNotFound or ErrInvalidState.
func (s *MemoryStore) guardSession(id uuid.UUID, from []SessionStatus, dueBy, endsAt *time.Time) (ChatSession, error) {
	c, ok := s.sessions[id]
	if !ok {
		return ChatSession{}, notFound("chat session", id)
	}
	if !slices.Contains(from, c.Status) || (dueBy != nil && (c.EndsAt == nil || c.EndsAt.After(*dueBy))) ||
		(endsAt != nil && (c.EndsAt == nil || !c.EndsAt.Equal(*endsAt))) {
		return ChatSession{}, sessionStateError(c)
	}
	return c, nil
}

func (s *MemoryStore) EndChatSession(_ context.Context, t SessionTransition) (ChatSession, error) {
	tx := s.db.Begin()
	defer tx.End()
	c, err := s.endSession(t)
	if err != nil || t.To != SessionEnded {
		return c, err
	}
	err = ledger.PostSessionValueIn(tx, ledger.SessionEnd{
		SessionID: c.ID, MitraID: c.MitraID, PairingID: c.PairingID, Minutes: c.Minutes, At: t.Now,
		ClearsAt: clearsAt(t.ClearsAt, t.Now),
	})
	return c, err
}

// endSession writes the end of a session as t says, or refuses it with nothing written.
func (s *MemoryStore) endSession(t SessionTransition) (ChatSession, error) {
	c, err := s.guardSession(t.ID, t.From, t.DueBy, t.EndsAt)
	if err != nil {
		return ChatSession{}, err
	}
	now := t.Now
	c.Status, c.EndReason, c.EndedAt, c.UpdatedAt = t.To, t.Reason, &now, now
	s.sessions[c.ID] = c
	return c, nil
}

func (s *MemoryStore) Reroute(_ context.Context, r RerouteParams) (ChatSession, Pairing, error) {
	tx := s.db.Begin()
	defer tx.End()
	if _, ok := s.pairings[r.Pairing.ID]; ok {
		return ChatSession{}, Pairing{}, fmt.Errorf("pairing %s exists: %w", r.Pairing.ID, ErrConflict)
	}
	if c, ok := s.sessions[r.SessionID]; ok && c.Minutes != r.Minutes {
		return ChatSession{}, Pairing{}, sessionStateError(c)
	}
	// As the Postgres store: the session's guard first, then the new pairing's row.
	if _, err := s.guardSession(r.SessionID, []SessionStatus{SessionActive}, nil, &r.EndsAt); err != nil {
		return ChatSession{}, Pairing{}, err
	}
	if err := checkPairing(tx, r.Pairing); err != nil {
		return ChatSession{}, Pairing{}, err
	}
	c, err := s.endSession(SessionTransition{
		ID: r.SessionID, From: []SessionStatus{SessionActive}, To: SessionEnded, Reason: r.Reason,
		EndsAt: &r.EndsAt, Now: r.Now,
	})
	if err != nil {
		return ChatSession{}, Pairing{}, err
	}
	s.pairings[r.Pairing.ID] = r.Pairing
	err = ledger.PostSessionValueIn(tx, ledger.SessionEnd{
		SessionID: c.ID, MitraID: c.MitraID, PairingID: c.PairingID, CarryTo: &r.Pairing.ID,
		CarryMinutes: r.Pairing.Minutes, Minutes: c.Minutes, At: r.Now, ClearsAt: clearsAt(r.ClearsAt, r.Now),
	})
	return c, r.Pairing, err
}

func (s *MemoryStore) CarryOver(_ context.Context, pairingID uuid.UUID) ([]ledger.Part, bool, error) {
	tx := s.db.Begin()
	defer tx.End()
	parts, kept := ledger.CarryOverIn(tx, pairingID)
	return parts, kept, nil
}

func (s *MemoryStore) ListFailures(_ context.Context, f FailureFilter) ([]Failure, int, error) {
	defer s.db.Begin().End()
	var all []Failure
	for _, x := range s.failures {
		switch {
		case f.Reason != "" && string(x.Reason) != f.Reason:
		case f.Status != "" && string(x.Status) != f.Status:
		case f.Type != "" && string(x.Type) != f.Type:
		case f.PairingID != nil && x.PairingID != *f.PairingID:
		case f.RefundStatus != "" && x.RefundStatus != f.RefundStatus:
		case f.From != nil && x.CreatedAt.Before(*f.From):
		case f.To != nil && !x.CreatedAt.Before(*f.To):
		default:
			all = append(all, x)
		}
	}
	slices.SortFunc(all, func(a, b Failure) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), compareIDs(b.ID, a.ID))
	})
	return memdb.Page(all, f.Page, f.PageSize, DefaultFailurePageSize), len(all), nil
}

func (s *MemoryStore) GetFailure(_ context.Context, id uuid.UUID) (Failure, error) {
	defer s.db.Begin().End()
	f, ok := s.failures[id]
	if !ok {
		return Failure{}, notFound("failure", id)
	}
	return f, nil
}

func (s *MemoryStore) SetFailureRefunded(_ context.Context, id uuid.UUID) (Failure, error) {
	defer s.db.Begin().End()
	f, ok := s.failures[id]
	if !ok {
		return Failure{}, notFound("failure", id)
	}
	if f.RefundStatus != RefundFailed {
		return Failure{}, fmt.Errorf("failure %s is %s (%s): %w", id, f.Status, f.RefundStatus, ErrInvalidState)
	}
	f.RefundStatus = RefundRefunded
	s.failures[id] = f
	return f, nil
}

func (s *MemoryStore) ResolveFailure(_ context.Context, id uuid.UUID, by, note string, at time.Time) (Failure, error) {
	defer s.db.Begin().End()
	f, ok := s.failures[id]
	if !ok {
		return Failure{}, notFound("failure", id)
	}
	if f.Status != FailureOpen {
		return Failure{}, fmt.Errorf("failure %s is %s (%s): %w", id, f.Status, f.RefundStatus, ErrInvalidState)
	}
	f.Status, f.ResolvedBy, f.ResolvedAt, f.Note = FailureResolved, by, &at, note
	s.failures[id] = f
	return f, nil
}
