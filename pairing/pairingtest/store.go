// Package pairingtest provides in-memory implementations for testing code that uses the
// pairing package without servers: a Store that behaves like the Postgres one, and fakes
// of the services a Pairer depends on (Availability, Payments, Quoter, Settings,
// Notifier).
//
// RunStoreContract is the conformance suite of pairing.Store that pins its rules — one open
// pairing per client, guarded transitions that close offers and write the failure row in
// one step, offers only before the deadline, a race-free accept checked in order, atomic
// reroutes guarded on the session as the caller read it, and what the pairing policies
// keep (the queue's order and positions, offers of queued pairings filling free slots
// once, lapses, rings, missed offers, idle order, the wait estimate): the Postgres store
// and this one pass it, and a host with its own Store can run it from its tests. It uses
// no assertion library.
package pairingtest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// Mitra is what the Store needs to know of a mitra (the mitras table is not its own).
type Mitra struct {
	ID     uuid.UUID
	Active bool
	// MaxConcurrentSessions is the mitra's own maximum; 0 means the runtime default.
	MaxConcurrentSessions int
}

// Store is an in-memory pairing.Store. Every method runs under one lock, so it is atomic
// like the Postgres transactions. Mitras must be registered with PutMitra (or looked up
// through MitraFunc), as rows of the mitras table would be.
type Store struct {
	// MitraFunc, when set, is asked about mitras not registered with PutMitra (for
	// example a host's own in-memory mitra registry). It must not call the Store.
	MitraFunc func(id uuid.UUID) (Mitra, bool)
	// RecordRefunds records the refund a transition owes (PairingTransition.Refund), as
	// the Postgres store does in its transaction: wire it to the payment store
	// (Payments.RecordRefunds does). It is called under the Store's lock, after the
	// transition's guard held and before anything changed, so a failure changes nothing;
	// it must not call the Store. A transition with a refund fails while it is nil.
	RecordRefunds func(ctx context.Context, r pairing.RefundIntent, at time.Time) ([]pairing.RecordedRefund, error)

	mu       sync.Mutex
	mitras   map[uuid.UUID]Mitra
	pairings map[uuid.UUID]pairing.Pairing
	offers   map[offerKey]offer
	sessions map[uuid.UUID]pairing.ChatSession
	failures map[uuid.UUID]pairing.Failure
	stats    map[uuid.UUID]mitraStats
	// estimate is the shared wait estimate in seconds; samples 0: none yet.
	estimate float64
	samples  int
}

type offerKey struct{ pairingID, mitraID uuid.UUID }

type offer struct {
	status    pairing.OfferStatus
	createdAt time.Time
	updatedAt time.Time
	// expiresAt is the offer's own deadline (offers of queued pairings).
	expiresAt *time.Time
}

// mitraStats is what the pairing policies keep per mitra.
type mitraStats struct {
	missed    int
	idleSince *time.Time
}

var _ pairing.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		mitras:   map[uuid.UUID]Mitra{},
		pairings: map[uuid.UUID]pairing.Pairing{},
		offers:   map[offerKey]offer{},
		sessions: map[uuid.UUID]pairing.ChatSession{},
		failures: map[uuid.UUID]pairing.Failure{},
		stats:    map[uuid.UUID]mitraStats{},
	}
}

// PutMitra registers or replaces a mitra.
func (s *Store) PutMitra(m Mitra) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mitras[m.ID] = m
}

// PutChatSession inserts or replaces a chat session as is (to set up tests, e.g. an
// ended session that allows "Curhat lagi", or an extension that moved ends_at).
func (s *Store) PutChatSession(c pairing.ChatSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[c.ID] = c
}

func (s *Store) mitra(id uuid.UUID) (Mitra, bool) {
	if m, ok := s.mitras[id]; ok {
		return m, true
	}
	if s.MitraFunc != nil {
		return s.MitraFunc(id)
	}
	return Mitra{}, false
}

func notFound(what string, id uuid.UUID) error {
	return fmt.Errorf("%s %s: %w", what, id, pairing.ErrNotFound)
}

func (s *Store) CreatePairing(_ context.Context, p pairing.Pairing) (pairing.Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pairings[p.ID]; ok {
		return pairing.Pairing{}, fmt.Errorf("pairing %s exists: %w", p.ID, pairing.ErrConflict)
	}
	for _, o := range s.pairings {
		if o.ClientID == p.ClientID && o.Status.Open() {
			return pairing.Pairing{}, fmt.Errorf("client %s already has an open pairing %s: %w", p.ClientID, o.ID, pairing.ErrInvalidState)
		}
	}
	s.pairings[p.ID] = p
	return p, nil
}

func (s *Store) GetPairing(_ context.Context, id uuid.UUID) (pairing.Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pairings[id]
	if !ok {
		return pairing.Pairing{}, notFound("pairing", id)
	}
	return p, nil
}

func (s *Store) ListPairings(_ context.Context, q pairing.PairingQuery) ([]pairing.Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []pairing.Pairing
	for _, p := range s.pairings {
		switch {
		case len(q.Statuses) > 0 && !slices.Contains(q.Statuses, p.Status):
		case q.DueBy != nil && (p.ExpiresAt == nil || p.ExpiresAt.After(*q.DueBy)):
		case q.UpdatedBefore != nil && !p.UpdatedAt.Before(*q.UpdatedBefore):
		case q.WithoutPayment && p.PaymentSessionID != nil:
		case q.RingDueBy != nil && (p.NextRingAt == nil || p.NextRingAt.After(*q.RingDueBy)):
		default:
			out = append(out, p)
		}
	}
	slices.SortFunc(out, oldestPairingFirst)
	return limit(out, q.Limit), nil
}

func oldestPairingFirst(a, b pairing.Pairing) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), compareIDs(a.ID, b.ID))
}

func compareIDs(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }

func limit[T any](items []T, n int) []T {
	if n > 0 && len(items) > n {
		return items[:n]
	}
	return items
}

func (s *Store) AttachPayment(_ context.Context, pairingID, paymentID uuid.UUID, now time.Time) (pairing.Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pairings[pairingID]
	if !ok {
		return pairing.Pairing{}, notFound("pairing", pairingID)
	}
	if p.PaymentSessionID != nil && *p.PaymentSessionID != paymentID {
		return pairing.Pairing{}, fmt.Errorf("pairing %s has another payment: %w", pairingID, pairing.ErrInvalidState)
	}
	p.PaymentSessionID = &paymentID
	p.UpdatedAt = now
	s.pairings[pairingID] = p
	return p, nil
}

func (s *Store) Transition(ctx context.Context, t pairing.PairingTransition) (pairing.TransitionResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pairings[t.ID]
	if !ok {
		return pairing.TransitionResult{}, notFound("pairing", t.ID)
	}
	if !slices.Contains(t.From, p.Status) || (t.DueBy != nil && (p.ExpiresAt == nil || p.ExpiresAt.After(*t.DueBy))) {
		return pairing.TransitionResult{}, fmt.Errorf("pairing %s is %s: %w", t.ID, p.Status, pairing.ErrInvalidState)
	}
	var refunds []pairing.RecordedRefund
	if t.Refund != nil {
		if s.RecordRefunds == nil {
			return pairing.TransitionResult{}, fmt.Errorf("pairing %s owes a refund but pairingtest.Store.RecordRefunds is not set", t.ID)
		}
		var err error
		if refunds, err = s.RecordRefunds(ctx, *t.Refund, t.Now); err != nil {
			return pairing.TransitionResult{}, fmt.Errorf("record the refund of pairing %s: %w", t.ID, err)
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
	if t.To == pairing.StatusQueued {
		p.QueuedAt = cmp.Or(p.QueuedAt, &t.Now)
		p.PaidAt = cmp.Or(p.PaidAt, &t.Now)
	}
	if t.To != pairing.StatusSearching {
		p.NextRingAt = nil
	}
	s.pairings[p.ID] = p
	res := pairing.TransitionResult{Pairing: p, Refunds: refunds}
	offered := 0
	for _, k := range s.offerKeys(p.ID) {
		offered++
		o := s.offers[k]
		if t.OfferStatus != "" && o.status == pairing.OfferOffered {
			o.status, o.updatedAt = t.OfferStatus, t.Now
			s.offers[k] = o
			res.Closed = append(res.Closed, k.mitraID)
		}
	}
	if t.Failure != nil {
		f := t.Failure.WithRecordedRefunds(t.Refund, refunds)
		if f.ID == uuid.Nil {
			f.ID = uuid.New()
		}
		f.PairingID, f.ClientID, f.Type, f.TargetMitraID = p.ID, p.ClientID, p.Type, p.TargetMitraID
		f.OfferedCount, f.Status, f.CreatedAt = offered, pairing.FailureOpen, t.Now
		f.ResolvedBy, f.ResolvedAt, f.Note = "", nil, ""
		s.failures[f.ID] = f
		res.Failure = &f
	}
	return res, nil
}

// offerKeys returns the keys of the pairing's offers, oldest first.
func (s *Store) offerKeys(pairingID uuid.UUID) []offerKey {
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

func (s *Store) FallbackToBlast(_ context.Context, id uuid.UUID, now time.Time) (pairing.Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pairings[id]
	if !ok {
		return pairing.Pairing{}, notFound("pairing", id)
	}
	if p.Status != pairing.StatusTargetedUnavailable {
		return pairing.Pairing{}, fmt.Errorf("pairing %s is %s: %w", id, p.Status, pairing.ErrInvalidState)
	}
	p.Type, p.Status = pairing.TypeBlast, pairing.StatusAwaitingPayment
	p.PaymentSessionID, p.ExpiresAt, p.FailureReason, p.UpdatedAt = nil, nil, "", now
	s.pairings[id] = p
	return p, nil
}

func (s *Store) InsertOffers(_ context.Context, pairingID uuid.UUID, mitraIDs []uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pairings[pairingID]
	if !ok {
		return nil, notFound("pairing", pairingID)
	}
	if !p.Status.Waiting() || p.ExpiresAt == nil || !p.ExpiresAt.After(now) {
		return nil, nil
	}
	var offered []uuid.UUID
	for _, m := range mitraIDs {
		k := offerKey{pairingID, m}
		if _, ok := s.offers[k]; ok {
			continue
		}
		s.offers[k] = offer{status: pairing.OfferOffered, createdAt: now, updatedAt: now}
		offered = append(offered, m)
	}
	return offered, nil
}

func (s *Store) OfferedMitras(_ context.Context, pairingID uuid.UUID) ([]uuid.UUID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []uuid.UUID
	for _, k := range s.offerKeys(pairingID) {
		ids = append(ids, k.mitraID)
	}
	return ids, nil
}

func (s *Store) ListOffers(_ context.Context, mitraID uuid.UUID, now time.Time) ([]pairing.Offer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []pairing.Offer
	for k, o := range s.offers {
		if k.mitraID != mitraID || o.status != pairing.OfferOffered {
			continue
		}
		p := s.pairings[k.pairingID]
		deadline, live := offerDeadline(p, o, now)
		if !live {
			continue
		}
		out = append(out, pairing.Offer{PairingID: p.ID, Type: p.Type, Minutes: p.Minutes, ExpiresAt: deadline,
			OfferedAt: o.createdAt, Queued: p.Status == pairing.StatusQueued})
	}
	slices.SortFunc(out, func(a, b pairing.Offer) int {
		pa, pb := s.pairings[a.PairingID], s.pairings[b.PairingID]
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), pa.CreatedAt.Compare(pb.CreatedAt), compareIDs(a.PairingID, b.PairingID))
	})
	return out, nil
}

// offerDeadline is when a live offer (status offered) of p ends, and whether it is still
// live at now: a waiting pairing's offers end at its deadline, a queued pairing's at their
// own (never later than the pairing's).
func offerDeadline(p pairing.Pairing, o offer, now time.Time) (time.Time, bool) {
	if p.ExpiresAt == nil {
		return time.Time{}, false
	}
	switch {
	case p.Status.Waiting():
		return *p.ExpiresAt, p.ExpiresAt.After(now)
	case p.Status == pairing.StatusQueued && o.expiresAt != nil:
		d := *o.expiresAt
		if p.ExpiresAt.Before(d) {
			d = *p.ExpiresAt
		}
		return d, d.After(now)
	}
	return time.Time{}, false
}

func (s *Store) DeclineOffer(_ context.Context, mitraID, pairingID uuid.UUID, now time.Time) (pairing.Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := offerKey{pairingID, mitraID}
	o, ok := s.offers[k]
	if !ok || o.status != pairing.OfferOffered {
		return pairing.Pairing{}, fmt.Errorf("no live offer of pairing %s for mitra %s: %w", pairingID, mitraID, pairing.ErrNotFound)
	}
	o.status, o.updatedAt = pairing.OfferDeclined, now
	s.offers[k] = o
	return s.pairings[pairingID], nil
}

func (s *Store) PairingsToOffer(_ context.Context, mitraID uuid.UUID, now time.Time, n int) ([]pairing.Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []pairing.Pairing
	for _, p := range s.pairings {
		if p.Status != pairing.StatusSearching || p.Type != pairing.TypeBlast || p.ExpiresAt == nil || !p.ExpiresAt.After(now) || p.Rings > 0 {
			continue
		}
		if _, offered := s.offers[offerKey{p.ID, mitraID}]; offered {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, oldestPairingFirst)
	return limit(out, n), nil
}

func (s *Store) AcceptOffer(_ context.Context, a pairing.AcceptParams) (pairing.AcceptResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mitra(a.MitraID)
	if !ok {
		return pairing.AcceptResult{}, notFound("mitra", a.MitraID)
	}
	p, ok := s.pairings[a.PairingID]
	if !ok {
		return pairing.AcceptResult{}, notFound("pairing", a.PairingID)
	}
	k := offerKey{a.PairingID, a.MitraID}
	o, ok := s.offers[k]
	if !ok {
		return pairing.AcceptResult{}, fmt.Errorf("no offer for mitra %s: %w", a.MitraID, pairing.ErrNotFound)
	}
	maxSessions := a.DefaultMaxSessions
	if m.MaxConcurrentSessions > 0 {
		maxSessions = m.MaxConcurrentSessions
	}
	replay, err := pairing.CheckAccept(pairing.AcceptCheck{
		Pairing: p, MitraID: a.MitraID, Offer: o.status, OfferExpiresAt: o.expiresAt, MitraActive: m.Active,
		OpenSessions: s.openSessions(a.MitraID), MaxSessions: maxSessions, Now: a.Now,
	})
	if err != nil {
		return pairing.AcceptResult{}, err
	}
	if replay {
		return pairing.AcceptResult{Pairing: p, Session: s.sessions[*p.ChatSessionID], Replayed: true}, nil
	}
	sess := pairing.NewAcceptedSession(p, a)
	s.sessions[sess.ID] = sess
	p.Status, p.MatchedMitraID, p.ChatSessionID, p.UpdatedAt = pairing.StatusMatched, &a.MitraID, &sess.ID, a.Now
	s.pairings[p.ID] = p
	o.status, o.updatedAt = pairing.OfferAccepted, a.Now
	s.offers[k] = o
	res := pairing.AcceptResult{Pairing: p, Session: sess}
	for _, ok := range s.offerKeys(p.ID) {
		other := s.offers[ok]
		if other.status == pairing.OfferOffered {
			other.status, other.updatedAt = pairing.OfferDismissed, a.Now
			s.offers[ok] = other
			res.Dismissed = append(res.Dismissed, ok.mitraID)
		}
	}
	res.Released = s.releaseQueuedOffers(a.MitraID, maxSessions, a.Now)
	return res, nil
}

// releaseQueuedOffers dismisses the live offers of queued pairings the mitra holds beyond
// its free slots, those furthest back in the queue first.
func (s *Store) releaseQueuedOffers(mitraID uuid.UUID, maxSessions int, now time.Time) []pairing.OfferRef {
	held := s.heldQueuedOffers(mitraID, now)
	excess := len(held) - max(maxSessions-s.openSessions(mitraID), 0)
	var out []pairing.OfferRef
	for i := len(held) - excess; excess > 0 && i < len(held); i++ {
		k := held[i]
		o := s.offers[k]
		o.status, o.updatedAt = pairing.OfferDismissed, now
		s.offers[k] = o
		out = append(out, pairing.OfferRef{PairingID: k.pairingID, MitraID: k.mitraID})
	}
	return out
}

// heldQueuedOffers returns the live offers of queued pairings the mitra holds, in queue
// order.
func (s *Store) heldQueuedOffers(mitraID uuid.UUID, now time.Time) []offerKey {
	var held []offerKey
	for k, o := range s.offers {
		if k.mitraID != mitraID || o.status != pairing.OfferOffered {
			continue
		}
		if p := s.pairings[k.pairingID]; p.Status == pairing.StatusQueued {
			if _, live := offerDeadline(p, o, now); live {
				held = append(held, k)
			}
		}
	}
	slices.SortFunc(held, func(a, b offerKey) int { return queueOrder(s.pairings[a.pairingID], s.pairings[b.pairingID]) })
	return held
}

func (s *Store) openSessions(mitraID uuid.UUID) int {
	n := 0
	for _, c := range s.sessions {
		if c.MitraID == mitraID && c.Holds() {
			n++
		}
	}
	return n
}

func (s *Store) MitraInfo(_ context.Context, mitraID uuid.UUID) (pairing.MitraInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mitra(mitraID)
	if !ok {
		return pairing.MitraInfo{}, notFound("mitra", mitraID)
	}
	return pairing.MitraInfo{Active: m.Active, MaxConcurrentSessions: m.MaxConcurrentSessions, OpenSessions: s.openSessions(mitraID)}, nil
}

func (s *Store) GetChatSession(_ context.Context, id uuid.UUID) (pairing.ChatSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.sessions[id]
	if !ok {
		return pairing.ChatSession{}, notFound("chat session", id)
	}
	return c, nil
}

func (s *Store) ListChatSessions(_ context.Context, q pairing.ListSessionsParams) ([]pairing.ChatSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	statuses := q.Statuses
	if q.Status != "" {
		statuses = append([]pairing.SessionStatus{q.Status}, statuses...)
	}
	var out []pairing.ChatSession
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
	slices.SortFunc(out, func(a, b pairing.ChatSession) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), compareIDs(b.ID, a.ID))
	})
	return limit(out, q.Limit), nil
}

func (s *Store) HasEndedSession(_ context.Context, clientID, mitraID uuid.UUID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.sessions {
		if c.ClientID == clientID && c.MitraID == mitraID && c.Status == pairing.SessionEnded {
			return true, nil
		}
	}
	return false, nil
}

func (s *Store) ActivateChatSession(_ context.Context, id uuid.UUID, startedAt, endsAt, now time.Time) (pairing.ChatSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.guardSession(id, []pairing.SessionStatus{pairing.SessionPendingPayment}, nil, nil)
	if err != nil {
		return pairing.ChatSession{}, err
	}
	c.Status, c.StartedAt, c.EndsAt, c.UpdatedAt = pairing.SessionActive, &startedAt, &endsAt, now
	s.sessions[id] = c
	return c, nil
}

// guardSession returns the session when it is in one of from, ends at or before dueBy
// (when set) and at exactly endsAt (when set); else ErrNotFound or ErrInvalidState.
func (s *Store) guardSession(id uuid.UUID, from []pairing.SessionStatus, dueBy, endsAt *time.Time) (pairing.ChatSession, error) {
	c, ok := s.sessions[id]
	if !ok {
		return pairing.ChatSession{}, notFound("chat session", id)
	}
	if !slices.Contains(from, c.Status) || (dueBy != nil && (c.EndsAt == nil || c.EndsAt.After(*dueBy))) ||
		(endsAt != nil && (c.EndsAt == nil || !c.EndsAt.Equal(*endsAt))) {
		return pairing.ChatSession{}, sessionStateError(c)
	}
	return c, nil
}

func sessionStateError(c pairing.ChatSession) error {
	if c.EndsAt == nil {
		return fmt.Errorf("chat session %s is %s: %w", c.ID, c.Status, pairing.ErrInvalidState)
	}
	return fmt.Errorf("chat session %s is %s, %d minutes ending at %s: %w", c.ID, c.Status, c.Minutes,
		c.EndsAt.Format(time.RFC3339Nano), pairing.ErrInvalidState)
}

func (s *Store) EndChatSession(_ context.Context, t pairing.SessionTransition) (pairing.ChatSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endSession(t)
}

func (s *Store) endSession(t pairing.SessionTransition) (pairing.ChatSession, error) {
	c, err := s.guardSession(t.ID, t.From, t.DueBy, t.EndsAt)
	if err != nil {
		return pairing.ChatSession{}, err
	}
	now := t.Now
	c.Status, c.EndReason, c.EndedAt, c.UpdatedAt = t.To, t.Reason, &now, now
	s.sessions[c.ID] = c
	return c, nil
}

func (s *Store) Reroute(_ context.Context, r pairing.RerouteParams) (pairing.ChatSession, pairing.Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pairings[r.Pairing.ID]; ok {
		return pairing.ChatSession{}, pairing.Pairing{}, fmt.Errorf("pairing %s exists: %w", r.Pairing.ID, pairing.ErrConflict)
	}
	if c, ok := s.sessions[r.SessionID]; ok && c.Minutes != r.Minutes {
		return pairing.ChatSession{}, pairing.Pairing{}, sessionStateError(c)
	}
	c, err := s.endSession(pairing.SessionTransition{
		ID: r.SessionID, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Reason: r.Reason,
		EndsAt: &r.EndsAt, Now: r.Now,
	})
	if err != nil {
		return pairing.ChatSession{}, pairing.Pairing{}, err
	}
	s.pairings[r.Pairing.ID] = r.Pairing
	return c, r.Pairing, nil
}

// ExtendChatSession grows an active chat session that ends after at by minutes (its
// ends_at, its minutes; updated_at becomes at) and returns it with ok=true, as the
// Postgres extension store does in the transaction that marks an extension paid. Any other
// session, or none, is left alone with ok=false: a session past its ends_at is over even
// before its expiry ends it, and an extension paid for it is refunded. It is what
// extensiontest.Store.ExtendSession needs, so that an extension and a reroute of the same
// session are serialised by this Store's lock as Postgres serialises them on the row.
func (s *Store) ExtendChatSession(_ context.Context, id uuid.UUID, minutes int, at time.Time) (pairing.ChatSession, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.sessions[id]
	if !ok || c.Status != pairing.SessionActive || c.EndsAt == nil || !c.EndsAt.After(at) {
		return pairing.ChatSession{}, false, nil
	}
	ends := c.EndsAt.Add(time.Duration(minutes) * time.Minute)
	c.EndsAt, c.Minutes, c.UpdatedAt = &ends, c.Minutes+minutes, at
	s.sessions[id] = c
	return c, true, nil
}

func (s *Store) ListFailures(_ context.Context, f pairing.FailureFilter) ([]pairing.Failure, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []pairing.Failure
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
	slices.SortFunc(all, func(a, b pairing.Failure) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), compareIDs(b.ID, a.ID))
	})
	page, size := max(f.Page, 1), f.PageSize
	if size <= 0 {
		size = pairing.DefaultFailurePageSize
	}
	start := min((page-1)*size, len(all))
	end := min(start+size, len(all))
	return slices.Clone(all[start:end]), len(all), nil
}

func (s *Store) GetFailure(_ context.Context, id uuid.UUID) (pairing.Failure, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[id]
	if !ok {
		return pairing.Failure{}, notFound("failure", id)
	}
	return f, nil
}

func (s *Store) SetFailureRefunded(_ context.Context, id uuid.UUID) (pairing.Failure, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[id]
	if !ok {
		return pairing.Failure{}, notFound("failure", id)
	}
	if f.RefundStatus != pairing.RefundFailed {
		return pairing.Failure{}, fmt.Errorf("failure %s is %s (%s): %w", id, f.Status, f.RefundStatus, pairing.ErrInvalidState)
	}
	f.RefundStatus = pairing.RefundRefunded
	s.failures[id] = f
	return f, nil
}

func (s *Store) ResolveFailure(_ context.Context, id uuid.UUID, by, note string, at time.Time) (pairing.Failure, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[id]
	if !ok {
		return pairing.Failure{}, notFound("failure", id)
	}
	if f.Status != pairing.FailureOpen {
		return pairing.Failure{}, fmt.Errorf("failure %s is %s (%s): %w", id, f.Status, f.RefundStatus, pairing.ErrInvalidState)
	}
	f.Status, f.ResolvedBy, f.ResolvedAt, f.Note = pairing.FailureResolved, by, &at, note
	s.failures[id] = f
	return f, nil
}
