package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Routing quality (SPEC §26): which mitras a blast is offered to first, and in which order.

// RoutingSettings are the routing settings the Pairer asks its Settings, when they have
// them; *curhat.RuntimeConfig does. Settings without them route with
// DefaultRoutingSteps and DefaultRankWeights.
type RoutingSettings interface {
	// RoutingSteps is pairing_routing_steps: valid (ValidateRoutingSteps).
	RoutingSteps(ctx context.Context) []RoutingStep
	// RankWeights is pairing_rank_weights.
	RankWeights(ctx context.Context) RankWeights
}

// WrapupSettings is what the Pairer asks its Settings, when they have it, of the pause
// after a session (mitra_wrapup_seconds); *curhat.RuntimeConfig has it. Without it there
// is no pause.
type WrapupSettings interface {
	MitraWrapup(ctx context.Context) time.Duration
}

// RoutingState is where a blast is in its routing (PairingTransition.Routing).
type RoutingState struct {
	Steps      []RoutingStep
	Step       int
	NextStepAt *time.Time
}

// StepParams widens a searching blast from routing step From to step To (AdvanceStep).
type StepParams struct {
	ID       uuid.UUID
	From, To int
	// NextStepAt is when step To widens in its turn (nil: To is the last step).
	NextStepAt *time.Time
	Now        time.Time
}

// OfferAnswers counts how a mitra decided the offers it was made: accepted, declined, or
// let lapse. Offers dismissed (another mitra won, the client cancelled) are not counted.
type OfferAnswers struct {
	Accepted, Declined, Lapsed int
}

// AcceptanceRate is Accepted over the offers decided; 1 for a mitra that decided none (a
// new mitra is not ranked below those that let offers lapse).
func (a OfferAnswers) AcceptanceRate() float64 {
	decided := a.Accepted + a.Declined + a.Lapsed
	if decided == 0 {
		return 1
	}
	return float64(a.Accepted) / float64(decided)
}

// RoutingStore keeps what routing needs; part of Store.
type RoutingStore interface {
	// AdvanceStep records that a searching blast widened from routing step p.From to
	// p.To, widening next at p.NextStepAt. A blast no longer searching, or not at step
	// p.From (another instance widened it), is ErrInvalidState.
	AdvanceStep(ctx context.Context, p StepParams) (Pairing, error)
	// OfferAnswers returns how each of mitraIDs decided its offers (a mitra with none is
	// left out), in one read.
	OfferAnswers(ctx context.Context, mitraIDs []uuid.UUID) (map[uuid.UUID]OfferAnswers, error)
}

// Routing (SPEC §26). A blast whose client gave preferences is offered first to the
// available mitras fitting the first step of pairing_routing_steps (copied onto the
// pairing when it starts searching), then, as each step's seconds run out, to those of
// the next, down to the last step, any. A step that finds nobody is passed at once (its
// skip recorded like a widening), so that no_mitra_available means nobody at any. Each
// widening is claimed in the Store (AdvanceStep, guarded on the step it leaves), so one
// instance makes it; it is driven by an in-process timer (stepTick) backed by
// SweepTimeouts and restored by Start. A blast without preferences starts at the last
// step. The blast policy offers a widened step at once; the ring policy's next ring draws
// from it. A mitra that becomes available joins a searching blast only when it fits the
// blast's step. Labels are read through Deps.Labels from memory, never from the Store per
// offer.

// Labels filters mitras by a client's preferences at a routing step, without a Store
// read per call; *availability.Mirror satisfies it (MatchingMitras).
type Labels interface {
	// MatchingMitras returns the first limit (0: all) mitras of ids, in their order, whose
	// labels fit p at match; MatchAny returns ids.
	MatchingMitras(ctx context.Context, p Preferences, match RouteMatch, ids []uuid.UUID, limit int) ([]uuid.UUID, error)
}

func (p *Pairer) routingSteps(ctx context.Context) []RoutingStep {
	if rs, ok := p.settings.(RoutingSettings); ok {
		if steps := rs.RoutingSteps(ctx); len(steps) > 0 {
			return steps
		}
	}
	return DefaultRoutingSteps()
}

func (p *Pairer) rankWeights(ctx context.Context) RankWeights {
	if rs, ok := p.settings.(RoutingSettings); ok {
		return rs.RankWeights(ctx)
	}
	return DefaultRankWeights
}

// anyStep is the routing step of a blast offered to everyone: the last one.
func (p *Pairer) anyStep(ctx context.Context) int { return len(p.routingSteps(ctx)) - 1 }

// startRouting is the routing of a blast that starts searching at now.
func (p *Pairer) startRouting(ctx context.Context, pr Pairing, now time.Time) *RoutingState {
	steps := p.routingSteps(ctx)
	if pr.Preferences == nil || pr.Preferences.Empty() {
		return &RoutingState{Step: len(steps) - 1}
	}
	return &RoutingState{Steps: steps, Step: 0, NextStepAt: stepEnds(steps, 0, now)}
}

// stepEnds is when step i, entered at now, widens (nil: it is the last).
func stepEnds(steps []RoutingStep, i int, now time.Time) *time.Time {
	if i >= len(steps)-1 {
		return nil
	}
	return ptr(now.Add(time.Duration(steps[i].Seconds) * time.Second))
}

// StepMatch is what the blast's current routing step asks of a mitra (MatchAny without
// preferences).
func (pr Pairing) StepMatch() RouteMatch {
	if pr.Preferences == nil || pr.RoutingStep < 0 || pr.RoutingStep >= len(pr.RoutingSteps) {
		return MatchAny
	}
	return pr.RoutingSteps[pr.RoutingStep].Match
}

// matching narrows ids to the first limit (0: all) mitras fitting the blast's preferences
// at match.
func (p *Pairer) matching(ctx context.Context, pr Pairing, match RouteMatch, ids []uuid.UUID, limit int) ([]uuid.UUID, error) {
	if match == MatchAny || pr.Preferences == nil || len(ids) == 0 {
		return ids, nil
	}
	if p.labels == nil {
		return nil, nil // no labels anywhere: nobody fits a step narrower than any
	}
	return p.labels.MatchingMitras(ctx, *pr.Preferences, match, ids, limit)
}

// errStepMoved: another instance widened the blast meanwhile; it offers the new step.
var errStepMoved = errors.New("the routing step moved meanwhile")

// routed narrows the available ids to the first limit (0: all) of those fitting the
// blast's routing step: the fan-out cap stops the filtering early. A step with nobody is
// passed at once, step by step down to any (recorded with AdvanceStep, the widening timer
// re-armed). It returns the blast as it is now, and errStepMoved when another instance
// moved the step first.
func (p *Pairer) routed(ctx context.Context, pr Pairing, ids []uuid.UUID, limit int) (Pairing, []uuid.UUID, error) {
	if pr.StepMatch() == MatchAny {
		return pr, ids, nil
	}
	step := pr.RoutingStep
	var fit []uuid.UUID
	for {
		var err error
		if fit, err = p.matching(ctx, pr, pr.RoutingSteps[step].Match, ids, limit); err != nil {
			return pr, nil, fmt.Errorf("routing step %d: %w", step, err)
		}
		if len(fit) > 0 || step == len(pr.RoutingSteps)-1 {
			break
		}
		step++
	}
	if step == pr.RoutingStep {
		return pr, fit, nil
	}
	now := p.now()
	adv, err := p.store.AdvanceStep(ctx, StepParams{
		ID: pr.ID, From: pr.RoutingStep, To: step, NextStepAt: stepEnds(pr.RoutingSteps, step, now), Now: now,
	})
	if isState(err) {
		return pr, nil, errStepMoved
	}
	if err != nil {
		return pr, nil, fmt.Errorf("pass routing step %d: %w", pr.RoutingStep, err)
	}
	p.armStep(adv)
	return adv, fit, nil
}

func (p *Pairer) armStep(pr Pairing) {
	if pr.NextStepAt == nil || pr.Status != StatusSearching {
		p.unschedule(timerKey{stepTick, pr.ID})
		return
	}
	id := pr.ID
	p.schedule(timerKey{stepTick, id}, *pr.NextStepAt, func(ctx context.Context) {
		if err := p.widen(ctx, id); err != nil {
			p.log.ErrorContext(ctx, "widen a blast's routing; the timeouts sweep will retry", "pairing_id", id, "err", err)
		}
	})
}

// widen moves a searching blast to its next routing step when it is due (timer or
// sweep) and, under the blast policy, offers it to the mitras that step adds.
func (p *Pairer) widen(ctx context.Context, id uuid.UUID) error {
	pr, err := p.store.GetPairing(ctx, id)
	if err != nil {
		return err
	}
	if pr.Status != StatusSearching || pr.NextStepAt == nil {
		return nil
	}
	now := p.now()
	if pr.NextStepAt.After(now) {
		p.armStep(pr) // fired early: wait for the real time
		return nil
	}
	next := pr.RoutingStep + 1
	adv, err := p.store.AdvanceStep(ctx, StepParams{
		ID: pr.ID, From: pr.RoutingStep, To: next, NextStepAt: stepEnds(pr.RoutingSteps, next, now), Now: now,
	})
	if isState(err) {
		return nil // another instance widened it, or it stopped searching
	}
	if err != nil {
		return fmt.Errorf("widen blast %s: %w", id, err)
	}
	p.armStep(adv)
	p.log.DebugContext(ctx, "blast routing widened", "pairing_id", id, "routing_step", next)
	if p.ringPolicy(ctx) || adv.Rings > 0 {
		return nil // the next ring draws from the wider step
	}
	return p.offerBlast(ctx, adv)
}

// offerBlast offers a searching blast (blast policy) to every available mitra fitting its
// routing step that was never offered it and is not blocked with its client (up to
// FanoutCap), and returns how many it offered.
func (p *Pairer) offerBlastTo(ctx context.Context, pr Pairing) (Pairing, int, error) {
	// Those offered it already, and those blocked with its client, in one read.
	exclude, err := p.store.ExcludedMitras(ctx, pr.ID, pr.ClientID)
	if err != nil {
		return pr, 0, fmt.Errorf("blast %s: %w", pr.ID, err)
	}
	limit := p.cfg.FanoutCap
	if pr.StepMatch() != MatchAny {
		limit = 0 // filtered below: the cap applies to those that fit
	}
	ids, err := p.avail.FindAvailable(ctx, limit, exclude)
	if err != nil {
		return pr, 0, fmt.Errorf("blast %s: find available mitras: %w", pr.ID, err)
	}
	if pr, ids, err = p.routed(ctx, pr, ids, p.cfg.FanoutCap); err != nil {
		return pr, 0, err
	}
	if c := p.cfg.FanoutCap; c > 0 && len(ids) > c {
		ids = ids[:c]
	}
	if len(ids) == 0 {
		return pr, 0, nil
	}
	offered, err := p.store.InsertOffers(ctx, pr.ID, ids, p.now())
	if err != nil {
		return pr, 0, fmt.Errorf("blast %s: offer: %w", pr.ID, err)
	}
	p.notifyOffers(ctx, pr, offered)
	return pr, len(offered), nil
}

// offerBlast is offerBlastTo for a blast that has offers already (a widening): finding
// nobody new leaves it waiting for its deadline.
func (p *Pairer) offerBlast(ctx context.Context, pr Pairing) error {
	_, _, err := p.offerBlastTo(ctx, pr)
	if errors.Is(err, errStepMoved) {
		return nil
	}
	return err
}

// fits reports whether the mitra fits the searching blast's routing step (a late join).
func (p *Pairer) fits(ctx context.Context, pr Pairing, mitraID uuid.UUID) (bool, error) {
	match := pr.StepMatch()
	if match == MatchAny {
		return true, nil
	}
	ids, err := p.matching(ctx, pr, match, []uuid.UUID{mitraID}, 0)
	return len(ids) == 1, err
}

// normalPreferences validates a StartBlast's preferences; none (or empty ones) is nil.
func normalPreferences(p *Preferences) (*Preferences, error) {
	if p == nil {
		return nil, nil
	}
	n := p.Normalize()
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if n.Empty() {
		return nil, nil
	}
	return &n, nil
}
