package pairing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// endedWith is a chat session of a new client with mitra (online), ended by the client
// now: the mitra accepts the client's paid blast.
func (e *env) endedWith(t *testing.T, mitra uuid.UUID) pairing.ChatSession {
	t.Helper()
	ctx := context.Background()
	pr, _ := e.paidBlast(t, 10)
	s, err := e.p.Accept(ctx, mitra, pr.ID)
	require.NoError(t, err)
	s, err = e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: s.ClientID})
	require.NoError(t, err)
	return s
}

func (e *env) rate(t *testing.T, s pairing.ChatSession, stars int, comment string) pairing.Rating {
	t.Helper()
	r, err := e.p.Rate(context.Background(), pairing.RateParams{ClientID: s.ClientID, ChatSessionID: s.ID, Stars: stars, Comment: comment})
	require.NoError(t, err)
	return r
}

func TestRate_TheClientRatesItsEndedSessionOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		s := e.matched(t, 10)
		params := pairing.RateParams{ClientID: s.ClientID, ChatSessionID: s.ID, Stars: 5}

		_, err := e.p.Rate(ctx, params)
		require.ErrorIs(t, err, pairing.ErrInvalidState, "the session is active")
		require.ErrorIs(t, err, pairing.ErrSessionNotEnded)
		e.clock.Advance(4 * time.Minute)
		_, err = e.p.EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyMitra, CallerID: s.MitraID})
		require.NoError(t, err)

		other := params
		other.ClientID = e.fx.client(t)
		_, err = e.p.Rate(ctx, other)
		require.ErrorIs(t, err, pairing.ErrNotFound, "another client's session")
		for _, tc := range []struct {
			field  string
			change func(p *pairing.RateParams)
		}{
			{"stars", func(p *pairing.RateParams) { p.Stars = 0 }},
			{"stars", func(p *pairing.RateParams) { p.Stars = 6 }},
			{"comment", func(p *pairing.RateParams) { p.Comment = strings.Repeat("a", pairing.MaxRatingCommentLength+1) }},
			{"comment", func(p *pairing.RateParams) { p.Comment = "\xff" }},
			{"chat_session_id", func(p *pairing.RateParams) { p.ChatSessionID = uuid.Nil }},
		} {
			bad := params
			tc.change(&bad)
			_, err = e.p.Rate(ctx, bad)
			check.Invalid(t, err, tc.field)
		}

		params.Comment = "  " + strings.Repeat("ü", pairing.MaxRatingCommentLength) + "\n"
		r, err := e.p.Rate(ctx, params)
		require.NoError(t, err)
		require.NotEqual(t, uuid.Nil, r.ID)
		require.Equal(t, pairing.Rating{ID: r.ID, ChatSessionID: s.ID, ClientID: s.ClientID, MitraID: s.MitraID, Stars: 5,
			Comment: new(strings.Repeat("ü", pairing.MaxRatingCommentLength)), CreatedAt: e.clock.Now()}, r, "trimmed, at most the bound")
		params.Stars, params.Comment = 1, ""
		_, err = e.p.Rate(ctx, params)
		require.ErrorIs(t, err, pairing.ErrAlreadyRated)

		bare := e.rate(t, e.endedWith(t, e.onlineMitra(t)), 3, " \t ")
		require.Nil(t, bare.Comment, "a blank comment is none")
	})
}

func TestRate_TheWindowClosesSevenDaysAfterTheEnd(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m := e.onlineMitra(t)
		onTime, late := e.endedWith(t, m), e.endedWith(t, m)

		e.clock.Advance(pairing.RatingWindow)
		e.rate(t, onTime, 4, "")
		e.clock.Advance(time.Second)
		_, err := e.p.Rate(context.Background(), pairing.RateParams{ClientID: late.ClientID, ChatSessionID: late.ID, Stars: 4})
		require.ErrorIs(t, err, pairing.ErrInvalidState)
		require.ErrorIs(t, err, pairing.ErrRatingWindowClosed)
	})
}

func TestRate_DoubleSubmitsAtOnceKeepOneRating(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m := e.onlineMitra(t)
		s := e.endedWith(t, m)
		errs := check.Concurrently(6, func(i int) error {
			_, err := e.p.Rate(context.Background(), pairing.RateParams{ClientID: s.ClientID, ChatSessionID: s.ID, Stars: 1 + i%5})
			return err
		})
		won := check.OneSucceeds(t, errs, pairing.ErrAlreadyRated)
		sums, err := e.p.RatingSummaries(context.Background(), []uuid.UUID{m})
		require.NoError(t, err)
		require.Equal(t, pairing.SummaryOf(1, int64(1+won%5)), sums[m])
	})
}

func TestRatingSummaries_AreTheExactBayesianAverage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		m, unrated := e.onlineMitra(t), e.fx.mitra(t, 0)
		for _, stars := range []int{5, 5, 3} {
			e.rate(t, e.endedWith(t, m), stars, "")
		}
		sums, err := e.p.RatingSummaries(context.Background(), []uuid.UUID{m, unrated})
		require.NoError(t, err)
		require.Equal(t, pairing.RatingSummary{Count: 3, StarsSum: 13, Average: (40.0 + 13) / 13}, sums[m])
		require.InDelta(t, 4.0769230769, sums[m].Average, 1e-9)
		require.Equal(t, pairing.RatingSummary{Count: 0, StarsSum: 0, Average: pairing.RatingPrior}, sums[unrated], "the prior")
	})
}

func TestMitraRatings_ListsNewestFirstWithoutHiddenComments(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		m := e.onlineMitra(t)
		first := e.rate(t, e.endedWith(t, m), 1, "wa aku 0812-3456-7890")
		e.clock.Advance(time.Minute)
		second := e.rate(t, e.endedWith(t, m), 5, "makasih kak")

		e.clock.Advance(time.Minute)
		op := uuid.New()
		hidden, changed, err := e.p.HideRatingComment(ctx, first.ID, op)
		require.NoError(t, err)
		require.True(t, changed)
		require.Nil(t, hidden.Comment, "the hidden words are not answered")
		require.Equal(t, e.clock.Now(), *hidden.CommentHiddenAt)
		require.Equal(t, op, *hidden.HiddenBy)
		again, changed, err := e.p.HideRatingComment(ctx, first.ID, uuid.New())
		require.NoError(t, err)
		require.False(t, changed, "hiding twice changes nothing")
		require.Equal(t, hidden, again)
		_, _, err = e.p.HideRatingComment(ctx, uuid.New(), op)
		require.ErrorIs(t, err, pairing.ErrNotFound)

		items, total, err := e.p.MitraRatings(ctx, pairing.RatingQuery{MitraID: m})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.Equal(t, []pairing.Rating{second, hidden}, items, "newest first, the hidden comment left out")
		require.True(t, items[1].CommentHidden())
		page2, total, err := e.p.MitraRatings(ctx, pairing.RatingQuery{MitraID: m, Page: 2, PageSize: 1})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.Equal(t, []pairing.Rating{hidden}, page2)
		sums, err := e.p.RatingSummaries(ctx, []uuid.UUID{m})
		require.NoError(t, err)
		require.Equal(t, pairing.SummaryOf(2, 6), sums[m], "the hidden comment's stars count")

		_, _, err = e.p.MitraRatings(ctx, pairing.RatingQuery{MitraID: m, PageSize: 101})
		check.Invalid(t, err, "page_size")
		_, _, err = e.p.MitraRatings(ctx, pairing.RatingQuery{MitraID: m, Page: -1})
		check.Invalid(t, err, "page")
		_, _, err = e.p.MitraRatings(ctx, pairing.RatingQuery{MitraID: uuid.New()})
		require.ErrorIs(t, err, pairing.ErrNotFound)
	})
}
