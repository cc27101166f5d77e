package pairing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Statistics of pairing for operators (SPEC §24), computed from the durable rows so that
// every instance answers the same, each event counted by when it happened: a window
// (From, To] counts what happened after From and at or before To; what is counted "now"
// (waiting pairings, active sessions) is as of To.

// StatsWindow bounds the events a statistic counts: after From, at or before To. To is
// also the "now" of the figures that are a state rather than a count (waiting pairings,
// active sessions).
type StatsWindow struct {
	From, To time.Time
}

// validate reports a window that does not go forward.
func (w StatsWindow) validate() error {
	if !w.From.Before(w.To) {
		return &core.ValidationError{Field: "window", Reason: "must end after it starts"}
	}
	return nil
}

// Stats are the pairing figures of a window.
type Stats struct {
	// PaidPairings counts the blasts paid in the window (Pairing.PaidAt): paid by the
	// client, or started prepaid by a reroute. Targeted pairings are paid after their
	// match and are not counted here.
	PaidPairings int
	// Matched counts the pairings that matched in the window (ClosedAt), blast or
	// targeted.
	Matched int
	// Abandoned counts the pairings the client cancelled before a match
	// (ReasonClientCancelled), at any step, cancelled in the window.
	Abandoned int
	// Failed counts the pairings that ended without a mitra (StatusFailed) in the window.
	Failed int
	// Answer is the time from payment to match of the pairings matched in the window that
	// were paid first (the blasts): its mean is the average speed of answer (ASA).
	Answer Durations
	// OffersSent counts the offers made in the window; OffersAccepted, OffersDeclined and
	// OffersLapsed those accepted, declined and lapsed (their deadline passed unanswered)
	// in the window. An offer dismissed (another mitra won, the client cancelled) is
	// none of the three.
	OffersSent, OffersAccepted, OffersDeclined, OffersLapsed int
	// Waiting is the paid blasts still looking for a mitra at To.
	Waiting Waiting
	// SessionsActive counts the chat sessions running at To.
	SessionsActive int
	// SessionsCompleted counts the chat sessions that ended in the window as expired,
	// client_ended or mitra_ended.
	SessionsCompleted int
}

// Durations summarise a set of durations: how many, their sum, and two percentiles by
// nearest rank (the smallest duration that at least half, or nine in ten, of them do not
// exceed). P50 and P90 are 0 when Count is 0.
type Durations struct {
	Count    int
	Total    time.Duration
	P50, P90 time.Duration
}

// Mean is Total / Count; false when Count is 0.
func (d Durations) Mean() (time.Duration, bool) {
	if d.Count == 0 {
		return 0, false
	}
	return d.Total / time.Duration(d.Count), true
}

// MeanSeconds is the mean in seconds (Total / Count, computed in float64 from
// microseconds, as every store does it); false when Count is 0.
func (d Durations) MeanSeconds() (float64, bool) {
	if d.Count == 0 {
		return 0, false
	}
	return float64(d.Total.Microseconds()) / float64(d.Count) / 1e6, true
}

// durationsOf summarises ds (sorted in place), as the stores' SQL does: percentile_disc.
func durationsOf(ds []time.Duration) Durations {
	out := Durations{Count: len(ds)}
	if len(ds) == 0 {
		return out
	}
	slices.Sort(ds)
	for _, d := range ds {
		out.Total += d
	}
	out.P50, out.P90 = nearestRank(ds, 0.5), nearestRank(ds, 0.9)
	return out
}

// nearestRank is the smallest element of sorted such that a fraction p of the elements
// are at most it: Postgres' percentile_disc, to the float arithmetic (row ceil(p·n)).
func nearestRank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Waiting is the paid blasts looking for a mitra at one instant (searching or queued).
type Waiting struct {
	// Count is how many wait.
	Count int
	// Longest is how long the one waiting longest has waited since it was paid (0 when
	// none waits).
	Longest time.Duration
}

// MitraStats are one mitra's figures of a window.
type MitraStats struct {
	// OffersReceived counts the offers made to the mitra in the window; Accepted, Declined
	// and Lapsed those it accepted, declined or let lapse in the window.
	OffersReceived, Accepted, Declined, Lapsed int
	// Sessions counts the mitra's chat sessions that started in the window.
	Sessions int
	// Served is the chat time the mitra served within the window: of each of its sessions,
	// the part of [started, ended) inside the window, where a session ends at the earliest
	// of its end, its ends_at and To.
	Served time.Duration
}

// AcceptanceRate is Accepted over the offers the mitra decided in the window (accepted,
// declined or lapsed); false when it decided none.
func (m MitraStats) AcceptanceRate() (float64, bool) {
	decided := m.Accepted + m.Declined + m.Lapsed
	if decided == 0 {
		return 0, false
	}
	return float64(m.Accepted) / float64(decided), true
}

// StatsStore reads the statistics from the durable rows. PostgresStore and MemoryStore
// implement it; the Pairer finds it on its Store.
type StatsStore interface {
	// Stats returns the figures of w.
	Stats(ctx context.Context, w StatsWindow) (Stats, error)
	// MitraStats returns a mitra's figures of w; ErrNotFound when the mitra does not
	// exist.
	MitraStats(ctx context.Context, mitraID uuid.UUID, w StatsWindow) (MitraStats, error)
	// Waiting returns the paid blasts waiting at now.
	Waiting(ctx context.Context, now time.Time) (Waiting, error)
}

// ErrNoStats is returned by the Pairer's statistics when its Store does not implement
// StatsStore (a host's own store, or a wrapper of one of ours).
var ErrNoStats = errors.New("pairing: the store does not implement StatsStore")

func (p *Pairer) statsStore() (StatsStore, error) {
	s, ok := p.store.(StatsStore)
	if !ok {
		return nil, ErrNoStats
	}
	return s, nil
}

// StatsWindowEnding returns the window of length d that ends now (the Pairer's clock,
// to the microsecond Postgres keeps); d must be positive.
func (p *Pairer) StatsWindowEnding(d time.Duration) (StatsWindow, error) {
	if d <= 0 {
		return StatsWindow{}, &core.ValidationError{Field: "window", Reason: "must be positive"}
	}
	now := p.now()
	return StatsWindow{From: now.Add(-d), To: now}, nil
}

// Stats returns the pairing figures of w (see Stats).
func (p *Pairer) Stats(ctx context.Context, w StatsWindow) (Stats, error) {
	s, err := p.statsStore()
	if err == nil {
		err = w.validate()
	}
	if err != nil {
		return Stats{}, fmt.Errorf("pairing stats: %w", err)
	}
	st, err := s.Stats(ctx, w)
	if err != nil {
		return Stats{}, fmt.Errorf("pairing stats: %w", err)
	}
	return st, nil
}

// MitraStats returns a mitra's figures of w (see MitraStats); ErrNotFound for an unknown
// mitra.
func (p *Pairer) MitraStats(ctx context.Context, mitraID uuid.UUID, w StatsWindow) (MitraStats, error) {
	s, err := p.statsStore()
	if err == nil {
		err = w.validate()
	}
	if err != nil {
		return MitraStats{}, fmt.Errorf("mitra %s stats: %w", mitraID, err)
	}
	st, err := s.MitraStats(ctx, mitraID, w)
	if err != nil {
		return MitraStats{}, fmt.Errorf("mitra %s stats: %w", mitraID, err)
	}
	return st, nil
}

// Waiting returns the paid blasts waiting for a mitra now: how many, and the longest
// wait. It is one indexed read of the open pairings, for gauges read at every scrape.
func (p *Pairer) Waiting(ctx context.Context) (Waiting, error) {
	s, err := p.statsStore()
	if err != nil {
		return Waiting{}, fmt.Errorf("waiting pairings: %w", err)
	}
	w, err := s.Waiting(ctx, p.now())
	if err != nil {
		return Waiting{}, fmt.Errorf("waiting pairings: %w", err)
	}
	return w, nil
}
