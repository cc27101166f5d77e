package main

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pairing"
)

// Ratings (SPEC §26): the client rates each ended chat session once, within 7 days of its
// end; a mitra's rating is the Bayesian average (C × m + Σ stars) / (C + n), m = 4.0 and
// C = 10, which the SDK keeps as a running total per mitra (pairing's Ratings).
//
//   - POST /api/client/chat-sessions/{id}/rating {stars: 1..5, comment?} → 201 the rating.
//     Rated already: 409 ALREADY_RATED. Not ended, or ended more than 7 days ago: 409
//     INVALID_STATE. Another client's session: 404. Stars or comment out of bounds: 400
//     VALIDATION_FAILED on the field.
//   - GET /api/internal/mitras/{id}/ratings?page=&page_size= → {items, page, page_size,
//     total, rating, ratings_count}, newest first; a hidden comment is null with
//     comment_hidden true.
//   - POST /api/internal/ratings/{id}/hide → 200 the rating, its comment hidden (support):
//     audited rating.hide_comment. Hiding a hidden comment changes nothing (200 again); a
//     rating without a comment is 409 INVALID_STATE. The stars still count.
//
// The mitra's rating and its count are also in GET /api/internal/mitras (per row, one
// read for the page) and GET /api/internal/mitras/{id}/stats.

func (s *Server) ratingRoutes() {
	s.handle("POST", "/api/client/chat-sessions/{id}/rating", roleClient, s.rateSession)
	s.handle("GET", "/api/internal/mitras/{id}/ratings", roleViewer, s.listMitraRatings)
	s.handle("POST", "/api/internal/ratings/{id}/hide", roleSupport, s.hideRatingComment)
}

// ratingJSON is a rating as the API answers it.
type ratingJSON struct {
	ID            uuid.UUID `json:"id"`
	ChatSessionID uuid.UUID `json:"chat_session_id"`
	ClientID      uuid.UUID `json:"client_id"`
	MitraID       uuid.UUID `json:"mitra_id"`
	Stars         int       `json:"stars"`
	// Comment is null when the client wrote none, or operators hid it (CommentHidden).
	Comment         *string    `json:"comment"`
	CommentHidden   bool       `json:"comment_hidden"`
	CommentHiddenAt *time.Time `json:"comment_hidden_at"`
	CreatedAt       time.Time  `json:"created_at"`
}

func toRatingJSON(r pairing.Rating) ratingJSON {
	return ratingJSON{ID: r.ID, ChatSessionID: r.ChatSessionID, ClientID: r.ClientID, MitraID: r.MitraID, Stars: r.Stars,
		Comment: r.Comment, CommentHidden: r.CommentHidden(), CommentHiddenAt: utcPtr(r.CommentHiddenAt), CreatedAt: r.CreatedAt.UTC()}
}

// rateSession is POST /api/client/chat-sessions/{id}/rating {stars, comment?}.
func (s *Server) rateSession(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Stars   *int    `json:"stars"`
		Comment *string `json:"comment"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Stars == nil {
		return curhat.Invalid("stars", "is required: 1 to 5")
	}
	p := pairing.RateParams{ClientID: c.ID, ChatSessionID: id, Stars: *body.Stars}
	if body.Comment != nil {
		if err := validText("comment", *body.Comment); err != nil {
			return err
		}
		p.Comment = *body.Comment
	}
	rating, err := s.app.client.RateSession(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toRatingJSON(rating))
	return nil
}

// listMitraRatings is GET /api/internal/mitras/{id}/ratings?page=&page_size=.
func (s *Server) listMitraRatings(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	page, size, err := pageQuery(r, pairing.DefaultFailurePageSize, pairing.MaxFailurePageSize)
	if err != nil {
		return err
	}
	items, total, err := s.app.client.MitraRatings(r.Context(), pairing.RatingQuery{MitraID: id, Page: page, PageSize: size})
	if err != nil {
		return err
	}
	sums, err := s.app.client.RatingSummaries(r.Context(), []uuid.UUID{id})
	if err != nil {
		return err
	}
	out := make([]ratingJSON, len(items))
	for i, it := range items {
		out[i] = toRatingJSON(it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": page, "page_size": size, "total": total,
		"rating": sums[id].Average, "ratings_count": sums[id].Count})
	return nil
}

// hideRatingComment is POST /api/internal/ratings/{id}/hide: audited rating.hide_comment,
// with whether the comment was hidden before and after (never its words).
func (s *Server) hideRatingComment(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rating, changed, err := s.app.client.HideRatingComment(r.Context(), id, c.ID)
	if err != nil {
		return err
	}
	out := toRatingJSON(rating)
	s.audit(r, c, "rating.hide_comment", "rating", id.String(),
		map[string]any{"comment_hidden": !changed}, map[string]any{"comment_hidden": true, "mitra_id": rating.MitraID, "stars": rating.Stars})
	writeJSON(w, http.StatusOK, out)
	return nil
}
