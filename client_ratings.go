package curhat

import (
	"context"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// Ratings of chat sessions (SPEC §26; pairing's Ratings): a client rates each ended chat
// session once, within pairing.RatingWindow of its end, and a mitra's rating is the
// Bayesian average of its ratings, (C × m + Σ stars) / (C + n) with m = 4.0 and C = 10.

// RateSession records the client's rating of one of its chat sessions
// (pairing.Pairer.Rate): 1..5 stars and an optional comment of at most
// pairing.MaxRatingCommentLength characters. A second rating of the session is
// ErrAlreadyRated; a session that has not ended, or ended more than
// pairing.RatingWindow ago, ErrInvalidState; another client's session ErrNotFound; bad
// stars or comment a *ValidationError.
func (c *Client) RateSession(ctx context.Context, params pairing.RateParams) (pairing.Rating, error) {
	return c.pairer.Rate(ctx, params)
}

// MitraRatings returns one page of a mitra's ratings, newest first, and how many it has
// (pairing.Pairer.MitraRatings); a comment operators hid is left out. ErrNotFound for an
// unknown mitra.
func (c *Client) MitraRatings(ctx context.Context, q pairing.RatingQuery) ([]pairing.Rating, int, error) {
	return c.pairer.MitraRatings(ctx, q)
}

// HideRatingComment hides a rating's comment on behalf of the operator operatorID
// (uuid.Nil: none recorded) and reports whether it changed anything
// (pairing.Pairer.HideRatingComment): hiding twice changes nothing, the stars still count.
func (c *Client) HideRatingComment(ctx context.Context, ratingID, operatorID uuid.UUID) (pairing.Rating, bool, error) {
	return c.pairer.HideRatingComment(ctx, ratingID, operatorID)
}

// RatingSummaries returns each mitra's ratings count, stars and Bayesian average in one
// read (pairing.Pairer.RatingSummaries); a mitra without ratings is rated 4.0.
func (c *Client) RatingSummaries(ctx context.Context, mitraIDs []uuid.UUID) (map[uuid.UUID]pairing.RatingSummary, error) {
	return c.pairer.RatingSummaries(ctx, mitraIDs)
}
