package pairing

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// PolicyStore is what the pairing policies keep durably; part of Store. Every
// method is atomic and safe on several instances at once.
//
// The queue is the pairings in StatusQueued, in the order they were paid: PaidAt, then
// id. A queued pairing is offered to one mitra at a time, each offer with a deadline of
// its own (OfferRef, Offer.Queued): a free slot of an available mitra holds at most one
// such offer.
type PolicyStore interface {
	// QueueLength counts the queued pairings.
	QueueLength(ctx context.Context) (int, error)
	// QueuePosition returns the 1-based place of a queued pairing in the queue:
	// ErrInvalidState when it is not queued, ErrNotFound when it does not exist.
	QueuePosition(ctx context.Context, pairingID uuid.UUID) (int, error)
	// ListQueue returns the queued pairings in queue order, at most limit (0: all).
	ListQueue(ctx context.Context, limit int) ([]Pairing, error)
	// OfferQueued offers the head of the queue to the free slots of one mitra; see
	// OfferQueuedParams.
	OfferQueued(ctx context.Context, p OfferQueuedParams) (OfferQueuedResult, error)
	// ExpireLapsedOffers marks expired the live offers whose own deadline is at or before
	// p.Now (the offers of queued pairings), of one pairing when p.PairingID is set, at
	// most p.Limit (0: all), and returns them: each exactly once across callers.
	ExpireLapsedOffers(ctx context.Context, p LapsedOffersParams) ([]OfferRef, error)
	// LockQueueEntries reads the queue state of the pairings among ids (unknown ones are
	// left out) and holds their transitions back until fn returns, so that what fn mirrors
	// elsewhere (a QueueIndex) lands in the order the transitions committed. fn must not
	// call the Store.
	LockQueueEntries(ctx context.Context, ids []uuid.UUID, fn func([]QueueEntry) error) error
	// SnapshotQueue reads every queued pairing, in queue order, and holds every
	// LockQueueEntries back until fn returns (the rebuild of a QueueIndex). fn must not
	// call the Store.
	SnapshotQueue(ctx context.Context, fn func([]QueueEntry) error) error

	// AdvanceRing records that a searching blast is offered its next ring: Rings goes from
	// p.From to p.From+1 and NextRingAt becomes p.NextRingAt. A blast no longer searching,
	// or whose Rings is not p.From (another instance advanced it), is ErrInvalidState.
	AdvanceRing(ctx context.Context, p RingParams) (Pairing, error)

	// RecordMissedOffers counts one missed offer for each id in mitraIDs (an id twice
	// counts twice) and returns each mitra's count of offers missed in a row.
	RecordMissedOffers(ctx context.Context, mitraIDs []uuid.UUID, now time.Time) ([]MissedOffers, error)
	// ResetMissedOffers sets the mitra's count of offers missed in a row to 0.
	ResetMissedOffers(ctx context.Context, mitraID uuid.UUID, now time.Time) error
	// MarkIdle records that the mitra is idle since at (a session of its ended, or it came
	// online); an earlier time never replaces a later one.
	MarkIdle(ctx context.Context, mitraID uuid.UUID, at time.Time) error
	// IdleOrder returns mitraIDs ordered by how long they have been idle, longest first:
	// those never marked idle first, then by the time MarkIdle recorded, ties by id. At
	// most limit (0: all).
	IdleOrder(ctx context.Context, mitraIDs []uuid.UUID, limit int) ([]uuid.UUID, error)

	// RecordQueueWait folds one wait (from payment to match, of a pairing that went
	// through the queue) into the shared estimate, e = 0.9·e + 0.1·wait (the first wait
	// is e), and returns the new estimate.
	RecordQueueWait(ctx context.Context, wait time.Duration, at time.Time) (time.Duration, error)
	// QueueWaitEstimate returns the shared estimate; ok is false until a wait was recorded.
	QueueWaitEstimate(ctx context.Context) (estimate time.Duration, ok bool, err error)
}

// OfferQueuedParams offers the head of the queue to one mitra. In one transaction
// serialised per mitra (as accepts are), the store counts the mitra's free slots: its
// maximum (or DefaultMaxSessions) less its active and pending_payment sessions and less
// the live offers of queued pairings it holds. It then offers that many queued pairings,
// in queue order, each of them one that
//   - is queued with its deadline after Now,
//   - no live offer holds (an offer whose own deadline passed holds nothing), and
//   - the mitra has not declined, accepted or still holds (an offer of it that lapsed or
//     was dismissed may be made again), and
//   - whose client is not blocked with the mitra (BlockStore): passed over, it keeps its
//     place for the others.
//
// Each offer's deadline is Now + OfferTTL, or the pairing's deadline when that is sooner.
// Concurrent calls (for other mitras, on other instances) never offer one queued pairing
// twice at once. An unknown mitra is ErrNotFound; a deactivated one gets nothing.
type OfferQueuedParams struct {
	MitraID            uuid.UUID
	DefaultMaxSessions int
	OfferTTL           time.Duration
	Now                time.Time
}

// OfferQueuedResult is what OfferQueued did.
type OfferQueuedResult struct {
	// Offered are the queued pairings offered to the mitra, in queue order.
	Offered []QueuedOffer
	// FreeSlots are the mitra's free slots left: not used by a session nor held by an
	// offer of a queued pairing.
	FreeSlots int
	// Waiting tells whether queued pairings that no live offer holds remain (a slot of
	// another mitra may take one).
	Waiting bool
}

// QueuedOffer is an offer of a queued pairing: the pairing, and the offer's own deadline.
type QueuedOffer struct {
	Pairing   Pairing
	ExpiresAt time.Time
}

// OfferRef names one offer.
type OfferRef struct {
	PairingID uuid.UUID
	MitraID   uuid.UUID
}

// LapsedOffersParams selects the offers ExpireLapsedOffers expires.
type LapsedOffersParams struct {
	// PairingID, when set, keeps the offers of one pairing.
	PairingID *uuid.UUID
	Now       time.Time
	// Limit bounds the offers expired (0: all).
	Limit int
}

// QueueEntry is a pairing's place in the queue, as a QueueIndex mirrors it.
type QueueEntry struct {
	ID uuid.UUID
	// Queued tells whether the pairing is in the queue; PaidAt orders it there.
	Queued bool
	PaidAt time.Time
}

// RingParams advances a searching blast to its next ring (AdvanceRing).
type RingParams struct {
	ID         uuid.UUID
	From       int
	NextRingAt *time.Time
	Now        time.Time
}

// MissedOffers is a mitra's count of offers missed in a row.
type MissedOffers struct {
	MitraID uuid.UUID
	Missed  int
}
