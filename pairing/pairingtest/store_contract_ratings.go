package pairingtest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// sessionWith accepts a new blast of a new client for mitra at at: an active session of
// ten minutes, started at at.
func (c contract) sessionWith(t *testing.T, mitra uuid.UUID, at time.Time) pairing.ChatSession {
	t.Helper()
	p, err := c.Store.CreatePairing(check.Context(t), pairing.Pairing{
		ID: uuid.New(), ClientID: c.Client(t), Type: pairing.TypeBlast, Status: pairing.StatusSearching, Minutes: 10,
		ExpiresAt: ptr(at.Add(time.Minute)), CreatedAt: at, UpdatedAt: at,
	})
	check.NoError(t, err)
	_, err = c.Store.InsertOffers(check.Context(t), p.ID, []uuid.UUID{mitra}, at)
	check.NoError(t, err)
	res, err := c.accept(t, mitra, p, at)
	check.NoError(t, err)
	return res.Session
}

// endedWith is a session of a new client with mitra, started at at and ended by its
// client ten minutes later.
func (c contract) endedWith(t *testing.T, mitra uuid.UUID, at time.Time) pairing.ChatSession {
	t.Helper()
	s := c.sessionWith(t, mitra, at)
	ended, err := c.Store.EndChatSession(check.Context(t), pairing.SessionTransition{ID: s.ID,
		From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded, Reason: pairing.EndClientEnded,
		Now: at.Add(10 * time.Minute)})
	check.NoError(t, err)
	return ended
}

// rating is the new rating of s by its client at at.
func rating(s pairing.ChatSession, stars int, comment string, at time.Time) pairing.NewRating {
	nr := pairing.NewRating{ID: uuid.New(), ClientID: s.ClientID, ChatSessionID: s.ID, Stars: stars, Now: at}
	if comment != "" {
		nr.Comment = &comment
	}
	return nr
}

// rate inserts the rating of s by its client at at.
func (c contract) rate(t *testing.T, s pairing.ChatSession, stars int, comment string, at time.Time) pairing.Rating {
	t.Helper()
	r, err := c.Store.InsertRating(check.Context(t), rating(s, stars, comment, at))
	check.NoError(t, err)
	return r
}

func (c contract) summary(t *testing.T, mitra uuid.UUID) pairing.RatingSummary {
	t.Helper()
	sums, err := c.Store.RatingSummaries(check.Context(t), []uuid.UUID{mitra})
	check.NoError(t, err)
	return sums[mitra]
}

// runRatingContract is the part of RunStoreContract that pins pairing.RatingStore.
func runRatingContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("ARatingIsOnceByTheClientOfAnEndedSessionWithinTheWindow", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		m := c.Mitra(t, 0)
		s := c.sessionWith(t, m, t0)

		_, err := c.Store.InsertRating(ctx, rating(s, 5, "", t0.Add(time.Minute)))
		check.ErrorIs(t, err, pairing.ErrSessionNotEnded, "an active session")
		check.ErrorIs(t, err, pairing.ErrInvalidState)
		end := t0.Add(10 * time.Minute)
		_, err = c.Store.EndChatSession(ctx, pairing.SessionTransition{ID: s.ID, From: []pairing.SessionStatus{pairing.SessionActive},
			To: pairing.SessionEnded, Reason: pairing.EndExpired, Now: end})
		check.NoError(t, err)

		other := rating(s, 5, "", end)
		other.ClientID = c.Client(t)
		_, err = c.Store.InsertRating(ctx, other)
		check.ErrorIs(t, err, pairing.ErrNotFound, "another client's session")
		unknown := rating(s, 5, "", end)
		unknown.ChatSessionID = uuid.New()
		_, err = c.Store.InsertRating(ctx, unknown)
		check.ErrorIs(t, err, pairing.ErrNotFound, "no such session")
		_, err = c.Store.InsertRating(ctx, rating(s, 5, "", end.Add(pairing.RatingWindow+time.Microsecond)))
		check.ErrorIs(t, err, pairing.ErrRatingWindowClosed, "just after the window")
		check.ErrorIs(t, err, pairing.ErrInvalidState)
		for _, stars := range []int{0, 6, -1} {
			_, err = c.Store.InsertRating(ctx, rating(s, stars, "", end))
			check.Invalid(t, err, "chat_ratings_stars_check", "%d stars", stars)
		}
		_, err = c.Store.InsertRating(ctx, rating(s, 4, strings.Repeat("é", pairing.MaxRatingCommentLength+1), end))
		check.Invalid(t, err, "chat_ratings_comment_check", "a comment too long")
		check.Equal(t, pairing.SummaryOf(0, 0), c.summary(t, m), "nothing refused was counted")

		at := end.Add(pairing.RatingWindow) // the window's last instant
		long := strings.Repeat("é", pairing.MaxRatingCommentLength)
		nr := rating(s, 4, long, at)
		got, err := c.Store.InsertRating(ctx, nr)
		check.NoError(t, err)
		check.Equal(t, pairing.Rating{ID: nr.ID, ChatSessionID: s.ID, ClientID: s.ClientID, MitraID: m, Stars: 4,
			Comment: &long, CreatedAt: at}, got)
		_, err = c.Store.InsertRating(ctx, rating(s, 1, "", at))
		check.ErrorIs(t, err, pairing.ErrAlreadyRated, "a second rating")
		_, err = c.Store.InsertRating(ctx, rating(s, 1, "", at.Add(time.Hour)))
		check.ErrorIs(t, err, pairing.ErrAlreadyRated, "a second rating, late: rated already says more")
		check.Equal(t, pairing.SummaryOf(1, 4), c.summary(t, m))
		list, total, err := c.Store.ListRatings(ctx, pairing.RatingQuery{MitraID: m, Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, []pairing.Rating{got}, list)
	})

	t.Run("ConcurrentRatingsOfOneSessionKeepExactlyOne", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		m := c.Mitra(t, 0)
		s := c.endedWith(t, m, t0)
		const n = 8
		ratings := make([]pairing.NewRating, n)
		for i := range ratings {
			ratings[i] = rating(s, 1+i%5, "", t0.Add(time.Hour))
		}
		errs := check.Concurrently(n, func(i int) error {
			_, err := c.Store.InsertRating(check.Context(t), ratings[i])
			return err
		})
		won := check.OneSucceeds(t, errs, pairing.ErrAlreadyRated, "concurrent ratings of one session")
		check.Equal(t, pairing.SummaryOf(1, int64(ratings[won].Stars)), c.summary(t, m), "the winner's stars, once")
		list, total, err := c.Store.ListRatings(check.Context(t), pairing.RatingQuery{MitraID: m, Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, []uuid.UUID{ratings[won].ID}, idsOf(list, func(r pairing.Rating) uuid.UUID { return r.ID }))
	})

	t.Run("SummariesAreTheBayesianAveragesOfTheRunningTotalsInOneRead", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		rated, other, unrated, unknown := c.Mitra(t, 0), c.Mitra(t, 0), c.Mitra(t, 0), uuid.New()
		for i, stars := range []int{5, 5, 3} {
			c.rate(t, c.endedWith(t, rated, t0.Add(time.Duration(i)*time.Hour)), stars, "", t0.Add(24*time.Hour))
		}
		c.rate(t, c.endedWith(t, other, t0), 1, "", t0.Add(time.Hour))

		sums, err := c.Store.RatingSummaries(ctx, []uuid.UUID{rated, other, unrated, unknown})
		check.NoError(t, err)
		check.Equal(t, map[uuid.UUID]pairing.RatingSummary{
			rated:   {Count: 3, StarsSum: 13, Average: (10*4.0 + 13) / 13},
			other:   {Count: 1, StarsSum: 1, Average: (10*4.0 + 1) / 11},
			unrated: {Count: 0, StarsSum: 0, Average: 4.0},
			unknown: {Count: 0, StarsSum: 0, Average: 4.0},
		}, sums)
		none, err := c.Store.RatingSummaries(ctx, nil)
		check.NoError(t, err)
		check.Len(t, none, 0)
	})

	t.Run("ListRatingsPagesAMitrasRatingsNewestFirstWithTheirTotal", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		m, quiet := c.Mitra(t, 0), c.Mitra(t, 0)
		var made []pairing.Rating
		for i := range 3 {
			s := c.endedWith(t, m, t0.Add(time.Duration(i)*time.Hour))
			made = append(made, c.rate(t, s, 3+i, "", t0.Add(time.Duration(24+i)*time.Hour)))
		}
		c.rate(t, c.endedWith(t, quiet, t0), 2, "", t0.Add(time.Hour)) // another mitra's

		page1, total, err := c.Store.ListRatings(ctx, pairing.RatingQuery{MitraID: m, Page: 1, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, 3, total)
		check.Equal(t, []pairing.Rating{made[2], made[1]}, page1, "newest first")
		page2, total, err := c.Store.ListRatings(ctx, pairing.RatingQuery{MitraID: m, Page: 2, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, 3, total)
		check.Equal(t, []pairing.Rating{made[0]}, page2)
		past, total, err := c.Store.ListRatings(ctx, pairing.RatingQuery{MitraID: m, Page: 3, PageSize: 2})
		check.NoError(t, err)
		check.Equal(t, 3, total, "a page past the end still counts them")
		check.Len(t, past, 0)

		unrated := c.Mitra(t, 0)
		empty, total, err := c.Store.ListRatings(ctx, pairing.RatingQuery{MitraID: unrated, Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 0, total)
		check.Len(t, empty, 0)
		_, _, err = c.Store.ListRatings(ctx, pairing.RatingQuery{MitraID: uuid.New(), Page: 1, PageSize: 20})
		check.ErrorIs(t, err, pairing.ErrNotFound, "an unknown mitra")
	})

	t.Run("HidingACommentIsIdempotentAndKeepsTheStars", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		m := c.Mitra(t, 0)
		r := c.rate(t, c.endedWith(t, m, t0), 2, "hubungi aku di 0812", t0.Add(time.Hour))
		bare := c.rate(t, c.endedWith(t, m, t0.Add(time.Hour)), 5, "", t0.Add(2*time.Hour))
		op := uuid.New()

		at := t0.Add(3 * time.Hour)
		hidden, changed, err := c.Store.HideRatingComment(ctx, r.ID, &op, at)
		check.NoError(t, err)
		check.True(t, changed)
		want := r
		want.CommentHiddenAt, want.HiddenBy = &at, &op
		check.Equal(t, want, hidden, "the store keeps the words; the stars stay")
		again, changed, err := c.Store.HideRatingComment(ctx, r.ID, nil, at.Add(time.Hour))
		check.NoError(t, err)
		check.False(t, changed, "hidden already")
		check.Equal(t, want, again, "the first hiding stands")
		check.Equal(t, pairing.SummaryOf(2, 7), c.summary(t, m), "a hidden comment's stars still count")
		list, _, err := c.Store.ListRatings(ctx, pairing.RatingQuery{MitraID: m, Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, []pairing.Rating{bare, want}, list)

		_, _, err = c.Store.HideRatingComment(ctx, bare.ID, &op, at)
		check.ErrorIs(t, err, pairing.ErrInvalidState, "no comment to hide")
		_, _, err = c.Store.HideRatingComment(ctx, uuid.New(), &op, at)
		check.ErrorIs(t, err, pairing.ErrNotFound)

		other := c.rate(t, c.endedWith(t, m, t0.Add(2*time.Hour)), 3, "kurang sabar", t0.Add(3*time.Hour))
		byNobody, changed, err := c.Store.HideRatingComment(ctx, other.ID, nil, at)
		check.NoError(t, err)
		check.True(t, changed)
		check.Nil(t, byNobody.HiddenBy, "no operator recorded")
	})

	t.Run("ErasingAClientClearsItsRatingCommentsAndKeepsTheirStars", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		ctx := check.Context(t)
		m := c.Mitra(t, 0)
		s := c.endedWith(t, m, t0)
		r := c.rate(t, s, 5, "makasih kak Ayu", t0.Add(time.Hour))
		kept := c.rate(t, c.endedWith(t, m, t0.Add(time.Hour)), 1, "another client's words", t0.Add(2*time.Hour))

		_, err := c.Store.EraseClient(ctx, s.ClientID, t0.Add(3*time.Hour))
		check.NoError(t, err)
		list, total, err := c.Store.ListRatings(ctx, pairing.RatingQuery{MitraID: m, Page: 1, PageSize: 20})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		erased := r
		erased.Comment = nil
		check.Equal(t, []pairing.Rating{kept, erased}, list)
		check.Equal(t, pairing.SummaryOf(2, 6), c.summary(t, m))
	})
}
