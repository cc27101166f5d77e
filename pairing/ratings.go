package pairing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Ratings (SPEC §26): the client of a chat session rates it once, 1 to 5 stars with an
// optional comment, after the session ended and at most RatingWindow after its end. A
// mitra's rating is the Bayesian average of its ratings,
//
//	(C × m + Σ stars) / (C + n),  m = RatingPrior (4.0), C = RatingPriorWeight (10),
//
// so that a mitra with few ratings sits near the prior and one rating of 1 or 5 cannot
// throw it to an extreme; a mitra with none is rated 4.0. The store keeps a running total
// per mitra, written in the transaction of each rating, so that a rating is one
// primary-key read however many ratings the mitra has (RatingStore.RatingSummaries reads
// any number of mitras in one statement, for the ranking).
//
// Operators list a mitra's ratings and may hide a comment (abusive words, contact
// details): the comment is no longer shown, to anyone, but the rating stays and its stars
// still count — hiding moderates the words, not the client's score.

// RatingWindow is how long after its end a chat session may be rated.
const RatingWindow = 7 * 24 * time.Hour

// MaxRatingCommentLength bounds a rating's comment, in characters.
const MaxRatingCommentLength = 1000

// Rating is one client's rating of one chat session with its mitra.
type Rating struct {
	ID            uuid.UUID
	ChatSessionID uuid.UUID
	ClientID      uuid.UUID
	MitraID       uuid.UUID
	// Stars is 1..5.
	Stars int
	// Comment is the client's words; nil when it wrote none. The Pairer answers nil too
	// for a comment operators hid (CommentHiddenAt set), or that the client's erasure
	// cleared.
	Comment *string
	// CommentHiddenAt is when an operator hid the comment; nil while it is shown.
	CommentHiddenAt *time.Time
	// HiddenBy is the operator who hid it (nil: not hidden, or hidden by an operator
	// without an id).
	HiddenBy  *uuid.UUID
	CreatedAt time.Time
}

// CommentHidden reports whether operators hid the rating's comment.
func (r Rating) CommentHidden() bool { return r.CommentHiddenAt != nil }

// shown is r as the Pairer answers it: a hidden comment's text left out.
func (r Rating) shown() Rating {
	if r.CommentHidden() {
		r.Comment = nil
	}
	return r
}

// RatingSummary is a mitra's ratings: how many, the stars they add up to, and its rating,
// the Bayesian average BayesianRating(Count, StarsSum) — RatingPrior for a mitra
// with none.
type RatingSummary struct {
	Count    int
	StarsSum int64
	Average  float64
}

// SummaryOf is the summary of count ratings adding up to starsSum stars.
func SummaryOf(count int, starsSum int64) RatingSummary {
	return RatingSummary{Count: count, StarsSum: starsSum, Average: BayesianRating(count, starsSum)}
}

// RateParams is a client's rating of one of its chat sessions.
type RateParams struct {
	ClientID      uuid.UUID
	ChatSessionID uuid.UUID
	// Stars is 1..5.
	Stars int
	// Comment is optional (empty or blank: none), at most MaxRatingCommentLength
	// characters once trimmed.
	Comment string
}

// NewRating is the row RatingStore.InsertRating writes.
type NewRating struct {
	ID            uuid.UUID
	ClientID      uuid.UUID
	ChatSessionID uuid.UUID
	Stars         int
	Comment       *string
	// Now is the rating's CreatedAt, and the time the window is checked at.
	Now time.Time
}

// RatingQuery pages the ratings of one mitra, newest first.
type RatingQuery struct {
	MitraID uuid.UUID
	// Page starts at 1 (0 means 1); PageSize defaults to 20 and is at most 100.
	Page, PageSize int
}

// RatingStore keeps the ratings of chat sessions and each mitra's running total; part of
// Store.
type RatingStore interface {
	// InsertRating writes r and adds its stars to the mitra's total, in one transaction
	// that first reads the session and checks, in this order: the session exists and is
	// r.ClientID's (else ErrNotFound); it has no rating yet (else ErrAlreadyRated); it
	// ended (else ErrInvalidState); r.Now is at most RatingWindow after its ended_at (else
	// ErrInvalidState). Of concurrent ratings of one session exactly one is written: the
	// others are ErrAlreadyRated. Stars outside 1..5 or a comment longer than
	// MaxRatingCommentLength (or empty) are a *ValidationError naming the check
	// (chat_ratings_stars_check, chat_ratings_comment_check).
	InsertRating(ctx context.Context, r NewRating) (Rating, error)
	// ListRatings returns one page of the mitra's ratings, newest first (created_at, then
	// id), with hidden comments as stored, and how many ratings it has in all, read at one
	// instant. An unknown mitra is ErrNotFound. q is normalised already.
	ListRatings(ctx context.Context, q RatingQuery) ([]Rating, int, error)
	// HideRatingComment hides the rating's comment at at, by the operator by (nil: none
	// recorded), and reports whether it changed anything: a comment hidden already stays
	// as it was (the first hiding's time and operator). A rating without a comment is
	// ErrInvalidState, an unknown one ErrNotFound. The stars still count.
	HideRatingComment(ctx context.Context, id uuid.UUID, by *uuid.UUID, at time.Time) (Rating, bool, error)
	// RatingSummaries returns the summary of every mitra of mitraIDs, in one statement
	// whatever their number: a mitra without ratings (or unknown) has SummaryOf(0, 0).
	RatingSummaries(ctx context.Context, mitraIDs []uuid.UUID) (map[uuid.UUID]RatingSummary, error)
}

// ratingComment trims a rating's comment and checks its length; nil when there is none.
func ratingComment(s string) (*string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, nil
	case !utf8.ValidString(s):
		return nil, core.Invalid("comment", "must be valid UTF-8")
	case utf8.RuneCountInString(s) > MaxRatingCommentLength:
		return nil, core.Invalid("comment", "must be at most %d characters, not %d", MaxRatingCommentLength, utf8.RuneCountInString(s))
	}
	return &s, nil
}

// validStars checks a rating's stars.
func validStars(stars int) error {
	if stars < 1 || stars > 5 {
		return core.Invalid("stars", "must be 1 to 5, not %d", stars)
	}
	return nil
}

// Rate records the client's rating of one of its chat sessions and returns it. Only the
// session's client may rate it (anyone else: ErrNotFound, as if the session did not
// exist), once (a second rating: ErrAlreadyRated, also when two arrive at once), after it
// ended (an active or pending session, or one cancelled before it started:
// ErrInvalidState) and at most RatingWindow after its end (later: ErrInvalidState). Stars
// outside 1..5 or a comment longer than MaxRatingCommentLength are a *ValidationError.
func (p *Pairer) Rate(ctx context.Context, params RateParams) (Rating, error) {
	comment, commentErr := ratingComment(params.Comment)
	if err := errors.Join(requireID("client_id", params.ClientID), requireID("chat_session_id", params.ChatSessionID),
		validStars(params.Stars), commentErr); err != nil {
		return Rating{}, err
	}
	r, err := p.store.InsertRating(ctx, NewRating{ID: uuid.New(), ClientID: params.ClientID, ChatSessionID: params.ChatSessionID,
		Stars: params.Stars, Comment: comment, Now: p.now()})
	if err != nil {
		return Rating{}, fmt.Errorf("rate chat session %s: %w", params.ChatSessionID, err)
	}
	return r.shown(), nil
}

// MitraRatings returns one page of the mitra's ratings, newest first, and how many it has
// in all. A comment operators hid is left out (Comment nil, CommentHiddenAt set). An
// unknown mitra is ErrNotFound; a page below 1 or a page size above 100 a
// *ValidationError.
func (p *Pairer) MitraRatings(ctx context.Context, q RatingQuery) ([]Rating, int, error) {
	var err error
	q.Page, q.PageSize, err = core.NormalizePage(q.Page, q.PageSize)
	if err = errors.Join(requireID("mitra_id", q.MitraID), err); err != nil {
		return nil, 0, err
	}
	items, total, err := p.store.ListRatings(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("ratings of mitra %s: %w", q.MitraID, err)
	}
	for i := range items {
		items[i] = items[i].shown()
	}
	return items, total, nil
}

// HideRatingComment hides a rating's comment (see the package's Ratings), recording the
// operator by (uuid.Nil: none), and reports whether it changed anything: hiding a hidden
// comment again changes nothing and answers the rating as it is. The rating stays, and
// its stars still count. A rating without a comment is ErrInvalidState, an unknown one
// ErrNotFound. The rating is returned without its comment.
func (p *Pairer) HideRatingComment(ctx context.Context, ratingID, by uuid.UUID) (Rating, bool, error) {
	if err := requireID("rating_id", ratingID); err != nil {
		return Rating{}, false, err
	}
	var byID *uuid.UUID
	if by != uuid.Nil {
		byID = &by
	}
	r, changed, err := p.store.HideRatingComment(ctx, ratingID, byID, p.now())
	if err != nil {
		return Rating{}, false, fmt.Errorf("hide the comment of rating %s: %w", ratingID, err)
	}
	return r.shown(), changed, nil
}

// RatingSummaries returns the rating summary of each of the mitras (RatingStore.
// RatingSummaries): one read, whatever their number; a mitra without ratings has
// Average RatingPrior and Count 0.
func (p *Pairer) RatingSummaries(ctx context.Context, mitraIDs []uuid.UUID) (map[uuid.UUID]RatingSummary, error) {
	out, err := p.store.RatingSummaries(ctx, mitraIDs)
	if err != nil {
		return nil, fmt.Errorf("rating summaries: %w", err)
	}
	return out, nil
}

// ratingRefused is the error of a rating the session's state refuses at now (nil: it may
// be rated): ErrSessionNotEnded, ErrRatingWindowClosed.
func ratingRefused(sessionID uuid.UUID, status SessionStatus, endedAt *time.Time, now time.Time) error {
	switch {
	case status != SessionEnded || endedAt == nil:
		return fmt.Errorf("chat session %s is %s: %w", sessionID, status, ErrSessionNotEnded)
	case now.After(endedAt.Add(RatingWindow)):
		return fmt.Errorf("chat session %s ended at %s: %w", sessionID, endedAt.UTC().Format(time.RFC3339), ErrRatingWindowClosed)
	}
	return nil
}
