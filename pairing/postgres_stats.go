package pairing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// The statistics of the Postgres store, each part of a window reached through an index
// of its event's time where there is one, so that a short window costs what happened in
// it and not the whole history (migration 0011):
//
//   - the pairings open at some point of the window, i.e. closed after From
//     (pairings_closed_idx) or still open (pairings_open_idx): one scan of them counts
//     those paid in the window and those that reached their final status in it, and the
//     times from payment to match;
//   - the offers of the window (offersSQL): pairing_offers has no index of its own
//     times, because the blast and the accept write one row per mitra offered and an
//     index more would cost them on every row. An offer is made and decided only while
//     its pairing is open, at the latest by the statement that closes it (no live offer
//     outlives its pairing), so the offers of the window are among those of the pairings
//     open in it, looked up by the primary key. When those pairings are a tenth of all of
//     them or more (a day of a young deployment), reading every offer costs less;
//   - payments paid, refunds succeeded, sessions ended: an index of each time;
//   - a mitra's sessions: chat_sessions_mitra_ends_idx (a session served in the window
//     ends after From).
//
// Each statement runs as an unnamed statement (QueryExecModeExec): planned for the
// window it is given, never with a generic plan, whose guess of a window's size would
// pick index lookups for a day that holds every row.

// openStatusList is OpenStatuses as SQL literals: a partial index whose predicate lists
// them is usable only when the query names them, not through a parameter.
var openStatusList = "'" + strings.Join(openStatusStrings(), "', '") + "'"

// livePairings selects the pairings (alias p) open at some point of the window ($1, $2].
var livePairings = "(p.closed_at > $1 OR p.status IN (" + openStatusList + ")) AND p.created_at <= $2"

// pgPairingStatsSQL reads, in one scan of the pairings open in the window, what they
// count, how many they are and how many pairings there are in all (the planner's
// estimate; -1 before the table was first analyzed), then the waiting blasts and the
// chat sessions. The times from payment to match are microseconds (bigint): their sort
// stays in memory where one of intervals spilled to disk at 70,000 matches.
var pgPairingStatsSQL = `
SELECT
	count(*) FILTER (WHERE p.paid_at > $1 AND p.paid_at <= $2),
	count(*) FILTER (WHERE p.closed_at <= $2 AND p.status = 'matched'),
	count(*) FILTER (WHERE p.closed_at <= $2 AND p.status = 'cancelled' AND p.failure_reason = 'client_cancelled'),
	count(*) FILTER (WHERE p.closed_at <= $2 AND p.status = 'failed'),
	count(a.us), COALESCE(sum(a.us), 0)::bigint, percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY a.us),
	count(*),
	(SELECT reltuples::bigint FROM pg_class WHERE oid = 'pairings'::regclass),
	(SELECT count(*) FROM pairings WHERE status IN ('searching', 'queued')),
	(SELECT min(COALESCE(paid_at, created_at)) FROM pairings WHERE status IN ('searching', 'queued')),
	(SELECT count(*) FROM chat_sessions WHERE status = 'active'),
	(SELECT count(*) FROM chat_sessions WHERE status = 'ended' AND ended_at > $1 AND ended_at <= $2
		AND end_reason IN ('expired', 'client_ended', 'mitra_ended'))
FROM pairings p CROSS JOIN LATERAL (SELECT CASE WHEN p.closed_at <= $2 AND p.status = 'matched' AND p.paid_at IS NOT NULL
	THEN (date_part('epoch', p.closed_at - p.paid_at) * 1000000)::bigint END AS us) a
WHERE ` + livePairings

// offerCountsSQL are the four counts of the offers (alias o) of a window.
const offerCountsSQL = `
	count(*) FILTER (WHERE o.created_at > $1 AND o.created_at <= $2) AS sent,
	count(*) FILTER (WHERE o.status = 'accepted' AND o.updated_at > $1 AND o.updated_at <= $2) AS accepted,
	count(*) FILTER (WHERE o.status = 'declined' AND o.updated_at > $1 AND o.updated_at <= $2) AS declined,
	count(*) FILTER (WHERE o.status = 'expired' AND o.updated_at > $1 AND o.updated_at <= $2) AS lapsed`

// offersSQL counts the offers of a window that where (a condition on o) keeps: reading
// every offer (offerScanAll), or looking up those of each pairing open in the window by
// the primary key (offerScanLive: a nested loop the planner would not pick by itself, its
// costs assuming the index pages on disk).
func offersSQL(of offerScan, where string) string {
	if of == offerScanAll {
		return `SELECT ` + offerCountsSQL + ` FROM pairing_offers o WHERE ` + where
	}
	return `SELECT COALESCE(sum(x.sent), 0)::bigint, COALESCE(sum(x.accepted), 0)::bigint,
	COALESCE(sum(x.declined), 0)::bigint, COALESCE(sum(x.lapsed), 0)::bigint
FROM pairings p CROSS JOIN LATERAL (SELECT ` + offerCountsSQL + `
	FROM pairing_offers o WHERE o.pairing_id = p.id AND ` + where + `) x
WHERE ` + livePairings
}

// pgWaitingSQL counts the paid blasts waiting (pairings_open_idx) and finds the oldest.
const pgWaitingSQL = `SELECT count(*), min(COALESCE(paid_at, created_at))
	FROM pairings WHERE status IN ('searching', 'queued')`

// pgMitraStatsSQL reads whether the mitra exists, its sessions, and how many pairings are
// open in the window and in all (as pgPairingStatsSQL).
var pgMitraStatsSQL = `
SELECT EXISTS (SELECT 1 FROM mitras WHERE id = $3), s.sessions, (extract(epoch FROM s.served) * 1000000)::bigint,
	(SELECT count(*) FROM pairings p WHERE ` + livePairings + `),
	(SELECT reltuples::bigint FROM pg_class WHERE oid = 'pairings'::regclass)
FROM (SELECT
		count(*) FILTER (WHERE started_at > $1 AND started_at <= $2) AS sessions,
		COALESCE(sum(GREATEST(LEAST(COALESCE(ended_at, $2), ends_at, $2) - GREATEST(started_at, $1), interval '0')),
			interval '0') AS served
	FROM chat_sessions WHERE mitra_id = $3 AND ends_at > $1 AND started_at <= $2) s`

// offerScan is how the offers of a window are found.
type offerScan int

const (
	// offerScanAuto reads every offer when the pairings open in the window are a tenth of
	// all pairings or more (a lookup by key costs about ten rows read in sequence), else
	// looks up the offers of each of them.
	offerScanAuto offerScan = iota
	offerScanAll
	offerScanLive
)

// choose resolves offerScanAuto from live pairings of the window among all (-1: not
// known yet).
func (of offerScan) choose(live, all int64) offerScan {
	if of != offerScanAuto {
		return of
	}
	if all >= 0 && live*10 >= all {
		return offerScanAll
	}
	return offerScanLive
}

var _ StatsStore = (*PostgresStore)(nil)

func (s *PostgresStore) Stats(ctx context.Context, w StatsWindow) (Stats, error) {
	return s.stats(ctx, w, offerScanAuto)
}

func (s *PostgresStore) stats(ctx context.Context, w StatsWindow, of offerScan) (Stats, error) {
	var st Stats
	var answerTotal, live, all int64
	var pct []int64
	var oldest *time.Time
	err := s.db.QueryRow(ctx, pgPairingStatsSQL, pgx.QueryExecModeExec, w.From, w.To).Scan(
		&st.PaidPairings, &st.Matched, &st.Abandoned, &st.Failed, &st.Answer.Count, &answerTotal, &pct,
		&live, &all, &st.Waiting.Count, &oldest, &st.SessionsActive, &st.SessionsCompleted)
	if err != nil {
		return Stats{}, pgutil.Translate(err)
	}
	st.Answer.Total = micros(answerTotal)
	if len(pct) == 2 {
		st.Answer.P50, st.Answer.P90 = micros(pct[0]), micros(pct[1])
	}
	st.Waiting.Longest = waitedSince(oldest, w.To)
	err = s.db.QueryRow(ctx, offersSQL(of.choose(live, all), "true"), pgx.QueryExecModeExec, w.From, w.To).Scan(
		&st.OffersSent, &st.OffersAccepted, &st.OffersDeclined, &st.OffersLapsed)
	if err != nil {
		return Stats{}, pgutil.Translate(err)
	}
	return st, nil
}

func (s *PostgresStore) MitraStats(ctx context.Context, mitraID uuid.UUID, w StatsWindow) (MitraStats, error) {
	return s.mitraStats(ctx, mitraID, w, offerScanAuto)
}

func (s *PostgresStore) mitraStats(ctx context.Context, mitraID uuid.UUID, w StatsWindow, of offerScan) (MitraStats, error) {
	var st MitraStats
	var exists bool
	var served, live, all int64
	err := s.db.QueryRow(ctx, pgMitraStatsSQL, pgx.QueryExecModeExec, w.From, w.To, mitraID).Scan(
		&exists, &st.Sessions, &served, &live, &all)
	if err != nil {
		return MitraStats{}, pgutil.Translate(err)
	}
	if !exists {
		return MitraStats{}, fmt.Errorf("mitra %s: %w", mitraID, ErrNotFound)
	}
	st.Served = micros(served)
	err = s.db.QueryRow(ctx, offersSQL(of.choose(live, all), "o.mitra_id = $3"), pgx.QueryExecModeExec, w.From, w.To, mitraID).Scan(
		&st.OffersReceived, &st.Accepted, &st.Declined, &st.Lapsed)
	if err != nil {
		return MitraStats{}, pgutil.Translate(err)
	}
	return st, nil
}

func (s *PostgresStore) Waiting(ctx context.Context, now time.Time) (Waiting, error) {
	var w Waiting
	var oldest *time.Time
	if err := s.db.QueryRow(ctx, pgWaitingSQL).Scan(&w.Count, &oldest); err != nil {
		return Waiting{}, pgutil.Translate(err)
	}
	w.Longest = waitedSince(oldest, now)
	return w, nil
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// waitedSince is how long since oldest at now (0 without one, or for one in the future).
func waitedSince(oldest *time.Time, now time.Time) time.Duration {
	if oldest == nil {
		return 0
	}
	return max(now.Sub(*oldest), 0)
}
