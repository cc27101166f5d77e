package main

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pairing"
)

// The operators' statistics (SPEC §24): GET /api/internal/stats?window= and
// GET /api/internal/mitras/{id}/stats?window=, computed by the SDK from the durable rows
// (curhat.Client.Stats), so every instance answers the same. The operators' event stream
// carries the 5-minute figures as the `stats` event (console_feed.go).

// statsWindows are the windows operators may ask for.
var statsWindows = map[string]time.Duration{"5m": 5 * time.Minute, "1h": time.Hour, "24h": 24 * time.Hour}

// streamStatsWindow is the window of the `stats` event.
const streamStatsWindow = "5m"

func (s *Server) statsRoutes() {
	s.handle("GET", "/api/internal/stats", roleViewer, s.getStats)
	s.handle("GET", "/api/internal/mitras/{id}/stats", roleViewer, s.getMitraStats)
}

// statsWindow reads ?window=: 5m, 1h or 24h.
func statsWindow(r *http.Request) (string, time.Duration, error) {
	name := r.URL.Query().Get("window")
	d, ok := statsWindows[name]
	if !ok {
		return "", 0, curhat.Invalid("window", "must be 5m, 1h or 24h")
	}
	return name, d, nil
}

// statsJSON is the answer of GET /api/internal/stats and the data of the `stats` event.
type statsJSON struct {
	Window string `json:"window"`
	// From (exclusive) and To (inclusive, when the figures were read) bound the window.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// PaidPairings counts the blasts paid in the window (prepaid reroutes included).
	PaidPairings int `json:"paid_pairings"`
	Matched      int `json:"matched"`
	Abandoned    int `json:"abandoned"`
	Failed       int `json:"failed"`
	// ASASeconds is the mean time from payment to match of the pairings matched in the
	// window; the percentiles are of the same times. Null when none matched.
	ASASeconds       *float64 `json:"asa_seconds"`
	AcceptP50Seconds *float64 `json:"accept_p50_seconds"`
	AcceptP90Seconds *float64 `json:"accept_p90_seconds"`
	OffersSent       int      `json:"offers_sent"`
	OffersAccepted   int      `json:"offers_accepted"`
	OffersDeclined   int      `json:"offers_declined"`
	OffersLapsed     int      `json:"offers_lapsed"`
	// WaitingNow counts the paid blasts looking for a mitra at To; LongestWaitingSeconds is
	// how long the first of them has waited since it was paid (0 when none waits).
	WaitingNow            int     `json:"waiting_now"`
	LongestWaitingSeconds float64 `json:"longest_waiting_seconds"`
	SessionsActive        int     `json:"sessions_active"`
	SessionsCompleted     int     `json:"sessions_completed"`
	GrossPaid             int64   `json:"gross_paid"`
	Refunded              int64   `json:"refunded"`
	Currency              string  `json:"currency"`
}

func toStatsJSON(window string, st curhat.Stats) statsJSON {
	p := st.Pairing
	out := statsJSON{
		Window: window, From: st.From.UTC(), To: st.To.UTC(),
		PaidPairings: p.PaidPairings, Matched: p.Matched, Abandoned: p.Abandoned, Failed: p.Failed,
		OffersSent: p.OffersSent, OffersAccepted: p.OffersAccepted, OffersDeclined: p.OffersDeclined,
		OffersLapsed: p.OffersLapsed, WaitingNow: p.Waiting.Count, LongestWaitingSeconds: p.Waiting.Longest.Seconds(),
		SessionsActive: p.SessionsActive, SessionsCompleted: p.SessionsCompleted,
		GrossPaid: st.Money.GrossPaid, Refunded: st.Money.Refunded, Currency: serverCurrency,
	}
	if mean, ok := p.Answer.MeanSeconds(); ok {
		out.ASASeconds = &mean
		out.AcceptP50Seconds, out.AcceptP90Seconds = new(p.Answer.P50.Seconds()), new(p.Answer.P90.Seconds())
	}
	return out
}

// stats reads the figures of a window (one read of the pairing tables and one of the
// payment tables, at once).
func (a *App) stats(ctx context.Context, window string) (statsJSON, error) {
	st, err := a.client.Stats(ctx, statsWindows[window])
	if err != nil {
		return statsJSON{}, err
	}
	return toStatsJSON(window, st), nil
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request, _ caller) error {
	window, _, err := statsWindow(r)
	if err != nil {
		return err
	}
	out, err := s.app.stats(r.Context(), window)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// mitraStatsJSON is the answer of GET /api/internal/mitras/{id}/stats.
type mitraStatsJSON struct {
	MitraID        uuid.UUID `json:"mitra_id"`
	Window         string    `json:"window"`
	OffersReceived int       `json:"offers_received"`
	Accepted       int       `json:"accepted"`
	Declined       int       `json:"declined"`
	Lapsed         int       `json:"lapsed"`
	// AcceptanceRate is accepted / (accepted + declined + lapsed) of the window; null
	// when the mitra decided no offer in it.
	AcceptanceRate *float64 `json:"acceptance_rate"`
	Sessions       int      `json:"sessions"`
	MinutesServed  float64  `json:"minutes_served"`
	// Rating is the mitra's rating over all its ratings, not the window's: the Bayesian
	// average (C × m + Σ stars) / (C + n), m = 4.0, C = 10 — 4.0 while it has none.
	Rating float64 `json:"rating"`
	// RatingsCount is how many ratings it has (n).
	RatingsCount int `json:"ratings_count"`
}

func toMitraStatsJSON(id uuid.UUID, window string, st pairing.MitraStats, rating pairing.RatingSummary) mitraStatsJSON {
	out := mitraStatsJSON{MitraID: id, Window: window, OffersReceived: st.OffersReceived, Accepted: st.Accepted,
		Declined: st.Declined, Lapsed: st.Lapsed, Sessions: st.Sessions, MinutesServed: st.Served.Minutes(),
		Rating: rating.Average, RatingsCount: rating.Count}
	if rate, ok := st.AcceptanceRate(); ok {
		out.AcceptanceRate = &rate
	}
	return out
}

func (s *Server) getMitraStats(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	window, d, err := statsWindow(r)
	if err != nil {
		return err
	}
	st, err := s.app.client.MitraStats(r.Context(), id, d)
	if err != nil {
		return err
	}
	ratings, err := s.app.client.RatingSummaries(r.Context(), []uuid.UUID{id})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMitraStatsJSON(id, window, st, ratings[id]))
	return nil
}

// waitingNow is the paid blasts waiting for a mitra and the longest wait, for the gauges
// (none before the client is built).
func (a *App) waitingNow(ctx context.Context) (pairing.Waiting, error) {
	if a.client == nil {
		return pairing.Waiting{}, nil
	}
	return a.client.Waiting(ctx)
}
