// Package sessionsql reads chat_sessions rows. The pairing store owns the table; the
// extension store grows a session in the transaction that marks its extension paid, and
// returns the row as the pairing store would.
package sessionsql

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
)

// Columns are the columns Scan reads, in order.
const Columns = "id, client_id, mitra_id, status, minutes, started_at, ends_at, ended_at, end_reason, pairing_id, " +
	"rerouted_from_id, created_at, updated_at"

// Row is one chat_sessions row. Its fields are pairing.ChatSession's, in order, so that
// pairing.ChatSession(row) converts it: S and R are pairing's SessionStatus and EndReason,
// which this package cannot name (pairing imports it). A field added to one and not the
// other fails that conversion at compile time.
type Row[S, R ~string] struct {
	ID             uuid.UUID
	ClientID       uuid.UUID
	MitraID        uuid.UUID
	Status         S
	Minutes        int
	StartedAt      *time.Time
	EndsAt         *time.Time
	EndedAt        *time.Time
	EndReason      R
	PairingID      uuid.UUID
	ReroutedFromID *uuid.UUID
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Scan reads one row of Columns, times in UTC.
func Scan[S, R ~string](row pgx.Row) (Row[S, R], error) {
	var s Row[S, R]
	var status string
	var reason *string
	if err := row.Scan(&s.ID, &s.ClientID, &s.MitraID, &status, &s.Minutes, &s.StartedAt, &s.EndsAt, &s.EndedAt, &reason,
		&s.PairingID, &s.ReroutedFromID, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return Row[S, R]{}, err
	}
	s.Status, s.EndReason = S(status), R(pgutil.Deref(reason))
	s.StartedAt, s.EndsAt, s.EndedAt = pgutil.UTCPtr(s.StartedAt), pgutil.UTCPtr(s.EndsAt), pgutil.UTCPtr(s.EndedAt)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, nil
}
