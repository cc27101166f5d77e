package pairing

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// Missed offers (Policies.MissedOffersBeforeAway): offers that end at their deadline
// without an answer, counted per mitra in the Store (so across instances), take a mitra
// offline after that many in a row. An answer (an accept, a decline) starts the count
// again in the Store's own write of it (AcceptOffer, DeclineOffer).

// offersMissed counts a miss for each mitra whose offer lapsed (a mitra twice, twice) and
// takes offline those that reached the policy's count with it.
func (p *Pairer) offersMissed(ctx context.Context, mitras []uuid.UUID) {
	limit := p.policies.MissedOffersBeforeAway(ctx)
	if limit <= 0 || len(mitras) == 0 {
		return
	}
	counts, err := p.store.RecordMissedOffers(ctx, mitras, p.now())
	if err != nil {
		p.log.WarnContext(ctx, "count missed offers", "mitras", len(mitras), "err", err)
		return
	}
	added := map[uuid.UUID]int{}
	for _, m := range mitras {
		added[m]++
	}
	for _, c := range counts {
		if c.Missed >= limit && c.Missed-added[c.MitraID] < limit {
			p.sendAway(ctx, c.MitraID, c.Missed)
		}
	}
}

// sendAway takes a mitra offline after missed offers and tells it.
func (p *Pairer) sendAway(ctx context.Context, mitraID uuid.UUID, missed int) {
	if p.away == nil {
		p.log.WarnContext(ctx, "a mitra missed too many offers but nothing can take it offline (Deps.Away)", "mitra_id", mitraID)
		return
	}
	changed, err := p.away.SetAway(ctx, mitraID, AwayMissedOffers)
	if err != nil {
		p.log.WarnContext(ctx, "take a mitra offline after missed offers", "mitra_id", mitraID, "err", err)
		return
	}
	if !changed {
		return // offline already: nothing to tell
	}
	p.log.InfoContext(ctx, "mitra taken offline after missed offers", "mitra_id", mitraID, "missed", missed)
	if h := p.cfg.Hooks.MitraAway; h != nil {
		h(AwayMissedOffers)
	}
	p.notify(ctx, Event{
		MitraID: ptr(mitraID),
		Payload: MitraAwayEvent{Reason: AwayMissedOffers, MissedOffers: missed},
	})
}

// MitraOnline is told that a mitra went online (availability's SetOnline; the client's
// SetMitraOnline calls it): its count of missed offers starts again, and when it came
// online from offline (cameOnline) it is idle from now in the ring order. Then it is
// offered what waits (MitraAvailable).
func (p *Pairer) MitraOnline(ctx context.Context, mitraID uuid.UUID, cameOnline bool) error {
	now := p.now()
	if err := p.store.ResetMissedOffers(ctx, mitraID, now); err != nil {
		return fmt.Errorf("mitra %s online: %w", mitraID, err)
	}
	if cameOnline {
		if err := p.store.MarkIdle(ctx, mitraID, now); err != nil {
			return fmt.Errorf("mitra %s online: %w", mitraID, err)
		}
	}
	return p.MitraAvailable(ctx, mitraID)
}
