package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/pgutil"
)

// heldSQL are the CTEs of what open reports hold: the messages they name and their
// sessions (the open reports are few — the operators' 72-hour queue — and each subquery
// is hashed once per statement).
const heldSQL = `held AS (
    SELECT DISTINCT h.id FROM safety_reports r, unnest(r.message_ids) AS h(id) WHERE r.status = 'open'
),
held_sessions AS (
    SELECT DISTINCT chat_session_id FROM safety_reports WHERE status = 'open'
)`

// deleteBeforeSQL takes the oldest messages (chat_messages_created_idx), skipping those
// another sweep has locked, so that concurrent sweeps split the work. $1 before, $2 limit.
const deleteBeforeSQL = `WITH ` + heldSQL + `,
doomed AS (
    SELECT m.id FROM chat_messages m
     WHERE m.created_at < $1
       AND m.id NOT IN (SELECT id FROM held)
       AND m.chat_session_id NOT IN (SELECT chat_session_id FROM held_sessions)
     ORDER BY m.created_at
     LIMIT $2
     FOR UPDATE OF m SKIP LOCKED
)
DELETE FROM chat_messages WHERE id IN (SELECT id FROM doomed)`

// deleteClientSQL takes the messages of the client's sessions (chat_sessions_client_idx,
// then each session's chat_messages_seq_uidx). $1 client, $2 limit.
const deleteClientSQL = `WITH ` + heldSQL + `,
doomed AS (
    SELECT m.id FROM chat_sessions s JOIN chat_messages m ON m.chat_session_id = s.id
     WHERE s.client_id = $1
       AND m.id NOT IN (SELECT id FROM held)
       AND s.id NOT IN (SELECT chat_session_id FROM held_sessions)
     LIMIT $2
     FOR UPDATE OF m SKIP LOCKED
)
DELETE FROM chat_messages WHERE id IN (SELECT id FROM doomed)`

func (p *PostgresStore) DeleteMessagesBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := p.db.Exec(ctx, deleteBeforeSQL, before, limit)
	if err != nil {
		return 0, pgutil.Translate(err)
	}
	return int(tag.RowsAffected()), nil
}

func (p *PostgresStore) DeleteClientMessages(ctx context.Context, clientID uuid.UUID, limit int) (int, error) {
	tag, err := p.db.Exec(ctx, deleteClientSQL, clientID, limit)
	if err != nil {
		return 0, pgutil.Translate(err)
	}
	return int(tag.RowsAffected()), nil
}
