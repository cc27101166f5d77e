package pairing

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// qualified prefixes each of a comma-separated list of columns with a table alias.
func qualified(alias, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// waitingFrom is the waiting pairings (of the client $3, when not NULL): those in an open
// status among $1, and (when $2) the targeted ones whose accepted chat waits for its
// payment. The open statuses are spelled out as well as $1 so that the planner may read
// the partial index of the open pairings (pairings_open_idx) in a generic plan too: the
// pairings that ended, however many, are never read.
var waitingFrom = `(
		SELECT ` + qualified("p", pairingColumns) + `, p.status AS waiting FROM pairings p
		WHERE p.status IN ('awaiting_payment', 'searching', 'targeted_waiting', 'targeted_unavailable', 'queued')
			AND p.status = ANY($1)
		UNION ALL
		SELECT ` + qualified("p", pairingColumns) + `, 'awaiting_payment' FROM chat_sessions s JOIN pairings p ON p.id = s.pairing_id
		WHERE $2 AND s.status = 'pending_payment'
	) p
	WHERE ($3::uuid IS NULL OR p.client_id = $3)`

// waitingPairingsSQL is the page of ListWaitingPairings ($1..$3 as waitingFrom, $4
// LIMIT, $5 OFFSET) and the total (count(*) OVER ()). The client's name and the offers
// (counted on the primary key of pairing_offers) are read for the page's rows only.
var waitingPairingsSQL = `SELECT page.*, c.display_name, (SELECT count(*) FROM pairing_offers o WHERE o.pairing_id = page.id)
	FROM (
		SELECT ` + qualified("p", pairingColumns) + `, p.waiting, count(*) OVER ()
		FROM ` + waitingFrom + `
		ORDER BY p.created_at, p.id LIMIT $4 OFFSET $5
	) page JOIN clients c ON c.id = page.client_id
	ORDER BY page.created_at, page.id`

// waitingPairingsArgs are the arguments of waitingPairingsSQL for q.
func waitingPairingsArgs(q WaitingQuery) []any {
	page, size := max(q.Page, 1), q.PageSize
	if size <= 0 {
		size = DefaultFailurePageSize
	}
	return []any{statusStrings(q.Statuses), slices.Contains(q.Statuses, StatusAwaitingPayment), q.ClientID, size, (page - 1) * size}
}

// ListWaitingPairings reads the page and the total in one statement; a page past the end
// has no row to carry the total, so only then a second statement counts.
func (s *PostgresStore) ListWaitingPairings(ctx context.Context, q WaitingQuery) ([]WaitingPairing, int, error) {
	args := waitingPairingsArgs(q)
	rows, err := s.db.Query(ctx, waitingPairingsSQL, args...)
	if err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	out := []WaitingPairing{}
	total := 0
	for rows.Next() {
		var w WaitingPairing
		var waiting string
		var offers int64
		w.Pairing, err = scanPairing(scanTail{rows, []any{&waiting, &total, &w.ClientName, &offers}})
		if err != nil {
			rows.Close()
			return nil, 0, pgutil.Translate(err)
		}
		w.Waiting, w.Offers = Status(waiting), int(offers)
		out = append(out, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	if len(out) == 0 && q.Page > 1 {
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM `+waitingFrom, args[:3]...).Scan(&total); err != nil {
			return nil, 0, pgutil.Translate(err)
		}
	}
	return out, total, nil
}

// activeSessionsFrom is the active chat sessions with both parties' names, read through
// the partial index of active sessions by ends_at (chat_sessions_ends_idx).
const activeSessionsFrom = `chat_sessions s JOIN clients c ON c.id = s.client_id JOIN mitras m ON m.id = s.mitra_id
	WHERE s.status = 'active'`

// activeSessionsSQL is the page of ListActiveSessions ($1 LIMIT, $2 OFFSET) and the total.
var activeSessionsSQL = `SELECT ` + qualified("s", sessionColumns) + `, c.display_name, m.display_name, count(*) OVER ()
	FROM ` + activeSessionsFrom + ` ORDER BY s.ends_at, s.id LIMIT $1 OFFSET $2`

// ListActiveSessions reads the page and the total in one statement.
func (s *PostgresStore) ListActiveSessions(ctx context.Context, q ActiveSessionQuery) ([]ActiveSession, int, error) {
	page, size := max(q.Page, 1), q.PageSize
	if size <= 0 {
		size = DefaultFailurePageSize
	}
	rows, err := s.db.Query(ctx, activeSessionsSQL, size, (page-1)*size)
	if err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	out := []ActiveSession{}
	total := 0
	for rows.Next() {
		var a ActiveSession
		a.ChatSession, err = scanSession(scanTail{rows, []any{&a.ClientName, &a.MitraName, &total}})
		if err != nil {
			rows.Close()
			return nil, 0, pgutil.Translate(err)
		}
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	if len(out) == 0 && page > 1 {
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM `+activeSessionsFrom).Scan(&total); err != nil {
			return nil, 0, pgutil.Translate(err)
		}
	}
	return out, total, nil
}

// scanTail is a row whose leading columns a row scanner reads and whose trailing ones go
// to tail: the scanners of whole rows serve rows that carry a few more columns.
type scanTail struct {
	row  pgx.Row
	tail []any
}

func (s scanTail) Scan(dest ...any) error { return s.row.Scan(append(dest, s.tail...)...) }
