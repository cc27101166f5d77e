package pairing

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Ranking (SPEC §26): which mitras a ring offers first, and which free mitra gets the
// head of the queue (the queue itself stays first in, first out). Each candidate scores
//
//	score = w.Rating × rating/5 + w.Accept × acceptance_rate + w.Idle × idle_rank
//
// where rating is the mitra's Bayesian average (RatingSummary.Average), acceptance_rate
// its OfferAnswers.AcceptanceRate, and idle_rank its place in the longest-idle order
// scaled to [0, 1] (1: idle longest, 0: idle shortest; 1 when alone). Higher scores go
// first; equal scores keep the longest-idle order. The default weights {0, 0, 1} are
// exactly the longest-idle order, read as before in one Store call.

// Ranked is one candidate's score and its parts (RankMitras).
type Ranked struct {
	MitraID        uuid.UUID
	Score          float64
	Rating         float64
	AcceptanceRate float64
	IdleRank       float64
}

// rankOrder returns up to n of ids (0: all) in ranking order.
func (p *Pairer) rankOrder(ctx context.Context, ids []uuid.UUID, n int) ([]uuid.UUID, error) {
	w := p.rankWeights(ctx)
	if w.IdleOnly() {
		return p.store.IdleOrder(ctx, ids, n)
	}
	ranked, err := p.rank(ctx, w, ids)
	if err != nil {
		return nil, err
	}
	out := make([]uuid.UUID, 0, len(ranked))
	for _, r := range ranked {
		out = append(out, r.MitraID)
	}
	return limit(out, n), nil
}

// RankMitras scores ids with the current pairing_rank_weights and returns them best
// first, with each score's parts (for operators and tests).
func (p *Pairer) RankMitras(ctx context.Context, ids []uuid.UUID) ([]Ranked, error) {
	return p.rank(ctx, p.rankWeights(ctx), ids)
}

func (p *Pairer) rank(ctx context.Context, w RankWeights, ids []uuid.UUID) ([]Ranked, error) {
	order, err := p.store.IdleOrder(ctx, ids, 0)
	if err != nil || len(order) == 0 {
		return nil, err
	}
	var ratings map[uuid.UUID]RatingSummary
	if w.Rating > 0 {
		if ratings, err = p.store.RatingSummaries(ctx, order); err != nil {
			return nil, fmt.Errorf("rank mitras: %w", err)
		}
	}
	var answers map[uuid.UUID]OfferAnswers
	if w.Accept > 0 {
		if answers, err = p.store.OfferAnswers(ctx, order); err != nil {
			return nil, fmt.Errorf("rank mitras: %w", err)
		}
	}
	out := make([]Ranked, len(order))
	for i, id := range order {
		r := Ranked{MitraID: id, IdleRank: 1, AcceptanceRate: answers[id].AcceptanceRate()}
		if len(order) > 1 {
			r.IdleRank = 1 - float64(i)/float64(len(order)-1)
		}
		r.Rating = SummaryOf(0, 0).Average // no ratings: the prior
		if s, ok := ratings[id]; ok {
			r.Rating = s.Average
		}
		r.Score = w.Rating*r.Rating/5 + w.Accept*r.AcceptanceRate + w.Idle*r.IdleRank
		out[i] = r
	}
	slices.SortStableFunc(out, func(a, b Ranked) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return out, nil
}
