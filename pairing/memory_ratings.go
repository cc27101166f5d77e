package pairing

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/memdb"
)

// The ratings of the in-memory MemoryStore (RatingStore): the tables chat_ratings, keyed
// by chat session (the unique key Postgres guards the insert with), and
// mitra_rating_totals.

// ratingChecks refuses what the columns' checks of chat_ratings refuse.
func ratingChecks(nr NewRating) error {
	if nr.Stars < 1 || nr.Stars > 5 {
		return checkViolation("chat_ratings_stars_check")
	}
	if nr.Comment != nil {
		if n := utf8.RuneCountInString(*nr.Comment); n < 1 || n > MaxRatingCommentLength {
			return checkViolation("chat_ratings_comment_check")
		}
	}
	return nil
}

func (s *MemoryStore) InsertRating(_ context.Context, nr NewRating) (Rating, error) {
	defer s.db.Begin().End()
	c, ok := s.sessions[nr.ChatSessionID]
	if !ok || c.ClientID != nr.ClientID {
		return Rating{}, fmt.Errorf("chat session %s of client %s: %w", nr.ChatSessionID, nr.ClientID, ErrNotFound)
	}
	if _, rated := s.ratings[c.ID]; rated {
		return Rating{}, fmt.Errorf("chat session %s: %w", c.ID, ErrAlreadyRated)
	}
	if err := ratingRefused(c.ID, c.Status, c.EndedAt, nr.Now); err != nil {
		return Rating{}, err
	}
	if err := ratingChecks(nr); err != nil {
		return Rating{}, err
	}
	for _, r := range s.ratings {
		if r.ID == nr.ID {
			return Rating{}, fmt.Errorf("rating %s exists: %w", nr.ID, ErrConflict)
		}
	}
	r := Rating{ID: nr.ID, ChatSessionID: c.ID, ClientID: c.ClientID, MitraID: c.MitraID, Stars: nr.Stars,
		CreatedAt: nr.Now.UTC().Truncate(time.Microsecond)}
	if nr.Comment != nil {
		r.Comment = new(*nr.Comment)
	}
	s.ratings[c.ID] = r
	t := s.totals[c.MitraID]
	s.totals[c.MitraID] = RatingSummary{Count: t.Count + 1, StarsSum: t.StarsSum + int64(r.Stars)}
	return r.detached(), nil
}

func (s *MemoryStore) ListRatings(_ context.Context, q RatingQuery) ([]Rating, int, error) {
	tx := s.db.Begin()
	defer tx.End()
	if _, ok := memoryMitra(tx, q.MitraID); !ok {
		return nil, 0, notFound("mitra", q.MitraID)
	}
	var of []Rating
	for _, r := range s.ratings {
		if r.MitraID == q.MitraID {
			of = append(of, r.detached())
		}
	}
	slices.SortFunc(of, func(a, b Rating) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), compareIDs(b.ID, a.ID))
	})
	return memdb.Page(of, q.Page, q.PageSize, DefaultFailurePageSize), s.totals[q.MitraID].Count, nil
}

func (s *MemoryStore) HideRatingComment(_ context.Context, id uuid.UUID, by *uuid.UUID, at time.Time) (Rating, bool, error) {
	defer s.db.Begin().End()
	for k, r := range s.ratings {
		if r.ID != id {
			continue
		}
		switch {
		case r.CommentHidden():
			return r.detached(), false, nil
		case r.Comment == nil:
			return Rating{}, false, fmt.Errorf("rating %s has no comment to hide: %w", id, ErrInvalidState)
		}
		r.CommentHiddenAt = new(at.UTC().Truncate(time.Microsecond))
		if by != nil {
			r.HiddenBy = new(*by)
		}
		s.ratings[k] = r
		return r.detached(), true, nil
	}
	return Rating{}, false, fmt.Errorf("rating %s: %w", id, ErrNotFound)
}

func (s *MemoryStore) RatingSummaries(_ context.Context, mitraIDs []uuid.UUID) (map[uuid.UUID]RatingSummary, error) {
	defer s.db.Begin().End()
	out := make(map[uuid.UUID]RatingSummary, len(mitraIDs))
	for _, id := range mitraIDs {
		t := s.totals[id]
		out[id] = SummaryOf(t.Count, t.StarsSum)
	}
	return out, nil
}

// eraseRatingComments clears the comments of the client's ratings (inside the transaction
// of its erasure), as the Postgres store does.
func (s *MemoryStore) eraseRatingComments(clientID uuid.UUID) {
	for k, r := range s.ratings {
		if r.ClientID == clientID && r.Comment != nil {
			r.Comment = nil
			s.ratings[k] = r
		}
	}
}

// detached is r with pointers of its own: a caller changing what they point to does not
// change the table.
func (r Rating) detached() Rating {
	if r.Comment != nil {
		r.Comment = new(*r.Comment)
	}
	if r.CommentHiddenAt != nil {
		r.CommentHiddenAt = new(*r.CommentHiddenAt)
	}
	if r.HiddenBy != nil {
		r.HiddenBy = new(*r.HiddenBy)
	}
	return r
}
