// Package sessionsql reads chat_sessions rows. The pairing store owns the table; the
// extension store grows a session in the transaction that marks its extension paid, and
// returns the row as the pairing store would.
package sessionsql

import (
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
)

// Columns are the columns Scan reads, in order.
const Columns = "id, client_id, mitra_id, status, minutes, started_at, ends_at, ended_at, end_reason, pairing_id, " +
	"rerouted_from_id, created_at, updated_at"

// Scan reads one row of Columns, times in UTC.
func Scan(row pgx.Row) (core.ChatSession, error) {
	var s core.ChatSession
	var status string
	var reason *string
	if err := row.Scan(&s.ID, &s.ClientID, &s.MitraID, &status, &s.Minutes, &s.StartedAt, &s.EndsAt, &s.EndedAt, &reason,
		&s.PairingID, &s.ReroutedFromID, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return core.ChatSession{}, err
	}
	s.Status, s.EndReason = core.SessionStatus(status), core.EndReason(pgutil.Deref(reason))
	s.StartedAt, s.EndsAt, s.EndedAt = pgutil.UTCPtr(s.StartedAt), pgutil.UTCPtr(s.EndsAt), pgutil.UTCPtr(s.EndedAt)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, nil
}
