package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
)

// mitraRowJSON is one mitra of GET /api/internal/mitras.
type mitraRowJSON struct {
	ID          uuid.UUID `json:"id"`
	DisplayName string    `json:"display_name"`
	IsActive    bool      `json:"is_active"`
	// Online: online and not deactivated (Postgres), as the dashboard counts.
	Online bool `json:"online"`
	// Reachable: online with a fresh heartbeat, as the mirror says now.
	Reachable bool `json:"reachable"`
	// ActiveSessions counts the chat sessions holding a slot (active + pending_payment).
	ActiveSessions int `json:"active_sessions"`
	// MaxConcurrentSessions is the effective maximum: the mitra's own, or the default.
	MaxConcurrentSessions int `json:"max_concurrent_sessions"`
	// AwayReason is why the system took the mitra offline (missed_offers); null when it
	// did not, or the mitra went online since.
	AwayReason *string `json:"away_reason"`
	// DeviceCount is the devices holding a live lease.
	DeviceCount int       `json:"device_count"`
	CreatedAt   time.Time `json:"created_at"`
	// Rating is the mitra's Bayesian average rating (4.0 while it has none) and
	// RatingsCount how many ratings it has.
	Rating       float64 `json:"rating"`
	RatingsCount int     `json:"ratings_count"`
}

// listMitras is GET /api/internal/mitras?q=&is_active=&online=&page=&page_size=.
func (s *Server) listMitras(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	p := availability.ListMitrasParams{Query: q.Get("q"), Page: 1, PageSize: availability.DefaultListPageSize}
	for _, b := range []struct {
		name string
		dst  **bool
	}{{"is_active", &p.IsActive}, {"online", &p.Online}} {
		switch q.Get(b.name) {
		case "":
		case "true":
			*b.dst = new(true)
		case "false":
			*b.dst = new(false)
		default:
			return curhat.Invalid(b.name, "must be true or false")
		}
	}
	for _, n := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &p.Page, 1_000_000}, {"page_size", &p.PageSize, availability.MaxListPageSize}} {
		if v := q.Get(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 || i > n.max {
				return curhat.Invalid(n.name, "must be an integer in 1..%d", n.max)
			}
			*n.dst = i
		}
	}
	if err := validText("q", p.Query); err != nil {
		return err
	}
	list, err := s.app.mirror.ListMitras(r.Context(), p)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(list.Items))
	for i, m := range list.Items {
		ids[i] = m.ID
	}
	devices, err := s.app.mirror.DevicesOf(r.Context(), ids) // one Valkey round trip for the page
	if err != nil {
		return err
	}
	ratings, err := s.app.client.RatingSummaries(r.Context(), ids) // one read of the page's totals
	if err != nil {
		return err
	}
	items := make([]mitraRowJSON, 0, len(list.Items))
	for _, m := range list.Items {
		items = append(items, mitraRowJSON{ID: m.ID, DisplayName: m.DisplayName, IsActive: m.IsActive,
			Online: m.IsOnline && m.IsActive, Reachable: m.Reachable, ActiveSessions: m.OpenSessions,
			MaxConcurrentSessions: m.MaxSessions, AwayReason: strPtr(m.AwayReason),
			DeviceCount: len(devices[m.ID]), CreatedAt: m.CreatedAt.UTC(),
			Rating: ratings[m.ID].Average, RatingsCount: ratings[m.ID].Count})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "page": p.Page, "page_size": p.PageSize, "total": list.Total})
	return nil
}
