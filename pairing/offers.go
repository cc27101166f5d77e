package pairing

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// ListOffers returns the mitra's live offers: still waiting, deadline not passed.
func (p *Pairer) ListOffers(ctx context.Context, mitraID uuid.UUID) ([]Offer, error) {
	offers, err := p.store.ListOffers(ctx, mitraID, p.now())
	if err != nil {
		return nil, fmt.Errorf("list offers of mitra %s: %w", mitraID, err)
	}
	return offers, nil
}

// Accept claims a pairing for the mitra. Of any number of concurrent accepts (of one
// pairing, or of several pairings by one mitra) exactly one wins per free slot; the
// others get ErrAlreadyMatched, ErrExpired, ErrAtCapacity, ErrDeactivated or ErrNotFound
// (no offer for this mitra) — see AcceptParams for the order of the checks. Accepting a
// pairing already matched to this mitra returns its session again.
//
// A blast's chat session is active at once (ends_at = now + minutes); a targeted one waits
// in pending_payment, holding the mitra's capacity, for the chat_start payment created
// here. The other offers are dismissed and their mitras told.
func (p *Pairer) Accept(ctx context.Context, mitraID, pairingID uuid.UUID) (ChatSession, error) {
	a, err := p.AcceptOffer(ctx, mitraID, pairingID)
	return a.Session, err
}

// AcceptedOffer is what AcceptOffer returns.
type AcceptedOffer struct {
	// Session is the chat session the accept started (or the one it started before, when
	// the pairing was already matched to this mitra).
	Session ChatSession
	// ClientDisplayName is the display name of the session's client, read by the accept
	// itself: what the mitra's app shows at once, with no lookup of its own.
	ClientDisplayName string
}

// AcceptOffer is Accept, with the display name of the client the mitra accepted.
func (p *Pairer) AcceptOffer(ctx context.Context, mitraID, pairingID uuid.UUID) (AcceptedOffer, error) {
	res, err := p.claim(ctx, mitraID, pairingID)
	if err != nil {
		return AcceptedOffer{}, fmt.Errorf("accept pairing %s: %w", pairingID, err)
	}
	if res.Replayed {
		return AcceptedOffer{Session: res.Session, ClientDisplayName: res.ClientDisplayName}, nil
	}
	pr, s := res.Pairing, res.Session
	p.stopWaiting(pr.ID)
	p.capacityChanged(ctx, mitraID, false)
	p.notifyDismissed(ctx, pr.ID, res.Dismissed, DismissMatched)
	p.matchedPolicies(ctx, pr, res)
	if s.Status == SessionPendingPayment {
		// Tells both parties, the client with the payment.
		s, err = p.chargeTargeted(ctx, pr, s)
		return AcceptedOffer{Session: s, ClientDisplayName: res.ClientDisplayName}, err
	}
	p.notifyMatched(ctx, pr, s, nil)
	p.sessionStarted(ctx, s)
	return AcceptedOffer{Session: s, ClientDisplayName: res.ClientDisplayName}, nil
}

// claim is the Store's accept, one at a time per pairing on this instance (acceptGates):
// when many mitras accept one offer at once, the first claims it and the others, whose
// offers that claim dismissed, are answered ErrAlreadyMatched from memory — what the
// Store would answer once the winner's locks were released — instead of each waiting for
// a connection and the pairing's row lock. Accepts on other instances still meet in the
// Store.
func (p *Pairer) claim(ctx context.Context, mitraID, pairingID uuid.UUID) (AcceptResult, error) {
	g := p.gates.enter(pairingID)
	defer p.gates.leave(pairingID, g)
	select {
	case g.turn <- struct{}{}:
		defer func() { <-g.turn }()
	case <-ctx.Done():
		return AcceptResult{}, ctx.Err() // gave up waiting for the accept ahead of it
	}
	if _, lost := g.dismissed[mitraID]; lost {
		return AcceptResult{}, ErrAlreadyMatched
	}
	pr, err := p.store.GetPairing(ctx, pairingID)
	if err != nil {
		return AcceptResult{}, err
	}
	var from *uuid.UUID
	if pr.Prepaid {
		if from, err = p.rerouteOrigin(ctx, pr); err != nil {
			return AcceptResult{}, err
		}
	}
	res, err := p.store.AcceptOffer(ctx, AcceptParams{
		MitraID: mitraID, PairingID: pairingID, SessionID: uuid.New(), ReroutedFromID: from,
		DefaultMaxSessions: p.settings.MitraMaxConcurrentSessions(ctx), Now: p.now(),
	})
	if err == nil && !res.Replayed && g.waiting() {
		g.dismissed = make(map[uuid.UUID]struct{}, len(res.Dismissed))
		for _, m := range res.Dismissed {
			g.dismissed[m] = struct{}{}
		}
	}
	return res, err
}

// acceptGates holds a gate per pairing with accepts in flight on this instance.
type acceptGates struct {
	mu    sync.Mutex
	gates map[uuid.UUID]*acceptGate
}

// acceptGate lets one accept of its pairing at a time reach the Store.
type acceptGate struct {
	// turn holds a token while an accept of the pairing is at the Store; the others wait
	// for it (or for their context).
	turn chan struct{}
	// refs counts the accepts holding the gate or waiting for it (acceptGates.mu).
	refs int
	// dismissed are the mitras whose offers the pairing's match dismissed: their accepts
	// lost (read and written with the turn held).
	dismissed map[uuid.UUID]struct{}
	others    *acceptGates
}

// waiting reports whether other accepts of the pairing wait for the gate (worth
// remembering the losers for).
func (g *acceptGate) waiting() bool {
	g.others.mu.Lock()
	defer g.others.mu.Unlock()
	return g.refs > 1
}

func (a *acceptGates) enter(id uuid.UUID) *acceptGate {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gates == nil {
		a.gates = map[uuid.UUID]*acceptGate{}
	}
	g := a.gates[id]
	if g == nil {
		g = &acceptGate{turn: make(chan struct{}, 1), others: a}
		a.gates[id] = g
	}
	g.refs++
	return g
}

func (a *acceptGates) leave(id uuid.UUID, g *acceptGate) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if g.refs--; g.refs == 0 {
		delete(a.gates, id)
	}
}

// matchedPolicies follows a match for the pairing policies: the ring it matched at (a
// blast matched from the queue matched at none), the queue it left, and the queued
// pairings the mitra let go (Released) offered elsewhere.
func (p *Pairer) matchedPolicies(ctx context.Context, pr Pairing, res AcceptResult) {
	if pr.Rings > 0 && pr.QueuedAt == nil {
		if h := p.cfg.Hooks.MatchedAtRing; h != nil {
			h(pr.Rings - 1)
		}
	}
	if pr.QueuedAt != nil {
		// A matched pairing with a queue time was matched from the queue: it never
		// leaves the queue any other way than by leaving its open states.
		p.leftQueue(ctx, pr, QueueMatched, nil)
	}
	if len(res.Released) == 0 {
		return
	}
	for _, r := range res.Released {
		p.unschedule(timerKey{queuedOfferDeadline, r.PairingID})
		p.notifyDismissed(ctx, r.PairingID, []uuid.UUID{r.MitraID}, DismissMatched)
	}
	if err := p.dispatchQueue(ctx, res.Session.MitraID); err != nil {
		p.log.WarnContext(ctx, "offer released queued pairings elsewhere; the timeouts sweep does it again", "err", err)
	}
}

// notifyMatched tells both parties that the pairing matched. With pay (a targeted chat,
// whose payment is created at the match) the client's event carries the payment to pay,
// so the app can open its checkout at once instead of polling for it; the mitra's does
// not.
func (p *Pairer) notifyMatched(ctx context.Context, pr Pairing, s ChatSession, pay *payment.Session) {
	matched := PairingMatchedEvent{PairingID: pr.ID, ChatSessionID: s.ID, MitraID: s.MitraID, Status: s.Status}
	if pay == nil {
		p.notify(ctx, Event{ClientID: ptr(s.ClientID), MitraID: ptr(s.MitraID), Payload: matched})
		return
	}
	client := matched
	client.Payment = NewPaymentToPay(*pay)
	p.notify(ctx, Event{ClientID: ptr(s.ClientID), Payload: client})
	p.notify(ctx, Event{MitraID: ptr(s.MitraID), Payload: matched})
}

func (p *Pairer) sessionStarted(ctx context.Context, s ChatSession) {
	p.armExpiry(s)
	p.notify(ctx, Event{
		ClientID: ptr(s.ClientID), MitraID: ptr(s.MitraID),
		Payload: SessionStartedEvent{ChatSessionID: s.ID, PairingID: s.PairingID, Minutes: s.Minutes, EndsAt: s.EndsAt},
	})
}

// Decline turns the mitra's live offer down. A declined "Curhat lagi" offer makes the
// pairing targeted_unavailable (failure row targeted_declined, nothing charged); a
// declined blast offer leaves the blast to the others. A declined offer of a queued
// pairing leaves the pairing in its place, offered to another free slot, and the mitra's
// slot takes the next queued pairing.
func (p *Pairer) Decline(ctx context.Context, mitraID, pairingID uuid.UUID) error {
	pr, err := p.store.DeclineOffer(ctx, mitraID, pairingID, p.now())
	if err != nil {
		return fmt.Errorf("decline pairing %s: %w", pairingID, err)
	}
	if pr.Status == StatusQueued {
		p.unschedule(timerKey{queuedOfferDeadline, pr.ID})
		if err := errors.Join(p.dispatchQueue(ctx, mitraID), p.MitraAvailable(ctx, mitraID)); err != nil {
			p.log.WarnContext(ctx, "offer the queue after a decline; the timeouts sweep does it again", "pairing_id", pr.ID, "err", err)
		}
		return nil
	}
	if pr.Type == TypeTargeted && pr.Status == StatusTargetedWaiting {
		if err := p.targetedUnavailable(ctx, pr, ReasonTargetedDeclined, nil); err != nil {
			return fmt.Errorf("decline pairing %s: %w", pairingID, err)
		}
	}
	return nil
}

// MitraAvailable offers a mitra that just became available (went online, or a session
// of its ended) what waits for it. With the queue on (Policies), each of its free slots is
// offered the head of the queue first; when every free slot holds a queued pairing,
// nothing newer is offered. Then the blasts still searching that it was never offered:
// oldest first, at most Config.LateJoinBatch, deadline not passed (a blast offered ring by
// ring is left to its rings). Nothing happens unless the mitra is reachable and under
// capacity. The Pairer calls it itself whenever it frees a slot; a host calls it after
// availability's SetOnline (or calls MitraOnline).
func (p *Pairer) MitraAvailable(ctx context.Context, mitraID uuid.UUID) error {
	reachable, err := p.avail.IsReachable(ctx, mitraID)
	if err != nil {
		return fmt.Errorf("mitra %s available: %w", mitraID, err)
	}
	if !reachable {
		return nil
	}
	if resting, err := p.inWrapup(ctx, mitraID); err != nil || resting {
		return err // offered nothing during its wrap-up (wrapup.go)
	}
	info, err := p.store.MitraInfo(ctx, mitraID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mitra %s available: %w", mitraID, err)
	}
	if !info.Active || info.OpenSessions >= p.maxSessions(ctx, info) {
		return nil
	}
	if p.policies.QueueEnabled(ctx) {
		res, err := p.offerQueued(ctx, mitraID)
		if err != nil {
			return fmt.Errorf("mitra %s available: %w", mitraID, err)
		}
		if res.FreeSlots == 0 {
			return nil // its free slots hold queued pairings: nothing newer goes first
		}
	}
	now := p.now()
	pending, err := p.store.PairingsToOffer(ctx, mitraID, now, p.cfg.LateJoinBatch)
	if err != nil {
		return fmt.Errorf("mitra %s available: %w", mitraID, err)
	}
	for _, pr := range pending {
		if ok, err := p.fits(ctx, pr, mitraID); err != nil || !ok {
			if err != nil {
				return fmt.Errorf("mitra %s available: routing of %s: %w", mitraID, pr.ID, err)
			}
			continue // not (yet) for this mitra: its routing step is narrower
		}
		offered, err := p.store.InsertOffers(ctx, pr.ID, []uuid.UUID{mitraID}, now)
		if err != nil {
			return fmt.Errorf("mitra %s available: offer %s: %w", mitraID, pr.ID, err)
		}
		if len(offered) > 0 {
			p.notifyOffer(ctx, pr, mitraID)
		}
	}
	return nil
}

func (p *Pairer) maxSessions(ctx context.Context, info MitraInfo) int {
	if info.MaxConcurrentSessions > 0 {
		return info.MaxConcurrentSessions
	}
	return p.settings.MitraMaxConcurrentSessions(ctx)
}
