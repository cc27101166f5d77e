package pairing

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Policies are the operator-editable pairing policies, each off by default
// (the default blast: every available mitra at once, a failure and a refund when
// nobody takes it); *curhat.RuntimeConfig satisfies it.
//
// The queue (QueueEnabled). A paid blast that finds nobody available, or whose offers
// all lapse at its deadline, becomes queued instead of failing, in the order it was paid;
// so does a blast paid while others wait (nothing newer goes before them). Every free
// slot of an available mitra — its maximum of sessions less the sessions it holds and
// the offers of queued pairings it holds — is offered the head of the queue, one queued
// pairing per slot and one slot per queued pairing at a time: an offer of a queued
// pairing is the pairing's only live offer, to one mitra, with a deadline of its own
// (pairing_targeted_timeout_seconds, the one-to-one countdown, or the pairing's queue
// deadline if sooner). When that offer is declined or lapses the pairing keeps its place
// and goes to the next free slot (never again to a mitra that declined it; a mitra whose
// offer lapsed may be offered it again), and the slot takes the next queued pairing. The
// queue is Postgres's: an offer is made in one transaction serialised per mitra that
// skips pairings another instance is offering, so a queued pairing is offered by one
// instance at a time. QueueMaxWait after its payment a queued blast fails (queue_timeout)
// and is refunded; a start (or a fallback to a blast) while QueueMaxLength blasts wait is
// ErrQueueFull, before anything is charged — a reroute is never refused, its minutes are
// paid already. Turning the queue off stops new blasts from queueing; those queued keep
// being offered.
//
// Ring offers (OfferPolicy "ring"). A blast is offered to the RingSize available mitras
// idle longest (since their last session ended or they came online, whichever is later;
// Store.IdleOrder), and every RingInterval until its deadline the next RingSize join;
// earlier offers stay live and the first accept wins. A "Curhat lagi" fallback puts the
// requested mitra in the first ring.
//
// Missed offers (MissedOffersBeforeAway > 0). An offer that ends because its deadline
// passed with neither accept nor decline is a miss (one dismissed because another mitra
// accepted or the client cancelled is not). That many misses in a row take the mitra
// offline (Away, reason missed_offers) and tell it (EventMitraAway); an accept, a decline
// or going online (MitraOnline) starts the count again.
type Policies interface {
	QueueEnabled(ctx context.Context) bool
	QueueMaxWait(ctx context.Context) time.Duration
	QueueMaxLength(ctx context.Context) int
	// OfferPolicy is OfferPolicyBlast or OfferPolicyRing.
	OfferPolicy(ctx context.Context) string
	RingSize(ctx context.Context) int
	RingInterval(ctx context.Context) time.Duration
	// MissedOffersBeforeAway is 0 when the policy is off.
	MissedOffersBeforeAway(ctx context.Context) int
}

// The values of Policies.OfferPolicy.
const (
	OfferPolicyBlast = core.OfferPolicyBlast
	OfferPolicyRing  = core.OfferPolicyRing
)

// AwayMissedOffers is the reason a mitra is taken offline after missed offers (the
// value availability.AwayMissedOffers).
const AwayMissedOffers = "missed_offers"

// Away takes a mitra offline for a reason of the system's until it goes online again,
// and reports whether it did (false: the mitra was offline already); *availability.Mirror
// satisfies it (SetAway).
type Away interface {
	SetAway(ctx context.Context, mitraID uuid.UUID, reason string) (changed bool, err error)
}

// DefaultPolicies serves the defaults: every policy off.
type DefaultPolicies struct{}

func (DefaultPolicies) QueueEnabled(context.Context) bool { return core.DefaultPairingQueueEnabled }
func (DefaultPolicies) QueueMaxWait(context.Context) time.Duration {
	return core.DefaultPairingQueueMaxWait
}
func (DefaultPolicies) QueueMaxLength(context.Context) int { return core.DefaultPairingQueueMaxLength }
func (DefaultPolicies) OfferPolicy(context.Context) string { return core.DefaultPairingOfferPolicy }
func (DefaultPolicies) RingSize(context.Context) int       { return core.DefaultPairingRingSize }
func (DefaultPolicies) RingInterval(context.Context) time.Duration {
	return core.DefaultPairingRingInterval
}
func (DefaultPolicies) MissedOffersBeforeAway(context.Context) int {
	return core.DefaultMitraMissedOffersBeforeAway
}

// QueueOutcome says how a pairing left the queue (Hooks.QueueLeft).
type QueueOutcome string

const (
	QueueMatched   QueueOutcome = "matched"
	QueueTimedOut  QueueOutcome = "timeout"
	QueueCancelled QueueOutcome = "cancelled"
)

// Hooks report what the pairing policies did to a metrics system. Every field is
// optional: a nil one is not called. They run synchronously on the pairing path: keep them
// cheap.
type Hooks struct {
	// QueueLeft: a pairing left the queue after waiting waited since it was paid.
	QueueLeft func(outcome QueueOutcome, waited time.Duration)
	// MatchedAtRing: a blast offered ring by ring matched while its latest ring was ring
	// (0 for the first); one that went through the queue first is not counted.
	MatchedAtRing func(ring int)
	// MitraAway: a mitra was taken offline (reason: AwayMissedOffers).
	MitraAway func(reason string)
}
