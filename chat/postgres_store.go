package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/pairing"
)

// PostgresStore is the Store over chat_messages and chat_threads (and chat_sessions, read
// in the same statements).
type PostgresStore struct {
	db DB
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a Store over db: a *pgxpool.Pool, or a pgx.Tx whose commit or
// rollback decides the store's writes. The schema comes from curhat.Migrate.
func NewPostgresStore(db DB) *PostgresStore { return &PostgresStore{db: db} }

// WithTx returns a copy of p whose every statement runs in tx, the caller's transaction.
func (p *PostgresStore) WithTx(tx pgx.Tx) *PostgresStore { return &PostgresStore{db: tx} }

// idempotencyIndex is the unique index of (chat_session_id, sender, client_msg_id).
const idempotencyIndex = "chat_messages_client_msg_uidx"

// partySQL are the columns of one party: its id in chat_sessions, its read mark and its
// last activity in chat_threads.
type partySQL struct{ id, read, active string }

var parties = map[pairing.Party]partySQL{
	pairing.PartyClient: {"client_id", "client_read_seq", "client_active_at"},
	pairing.PartyMitra:  {"mitra_id", "mitra_read_seq", "mitra_active_at"},
}

// sessionColumns are what every statement reads of the session (Session), as s.
const sessionColumns = "s.client_id, s.mitra_id, s.status, s.started_at, s.ends_at, s.ended_at"

// The statements of each party, built once.
var (
	sendSQL     = perParty(sendTemplate)
	historySQL  = perParty(historyTemplate)
	markReadSQL = perParty(markReadTemplate)
	activitySQL = perParty(activityTemplate)
)

func perParty(template string) map[pairing.Party]string {
	out := map[pairing.Party]string{}
	for party, c := range parties {
		out[party] = strings.NewReplacer("{party}", string(party), "{id}", c.id, "{read}", c.read, "{active}", c.active,
			"{session}", sessionColumns).Replace(template)
	}
	return out
}

// sendTemplate checks the session and the sender, looks for the sender's message with this
// client_msg_id, and otherwise takes the next seq from the session's thread (the row lock
// of its upsert orders concurrent senders) and inserts the message — one statement, one
// round trip. A send that races another of the same client_msg_id fails on the unique
// index, which undoes its upsert too (no seq is lost); Send then runs it again and finds
// the other's message. $1 session, $2 sender id, $3 client_msg_id, $4 message id, $5 text,
// $6 created_at, $7 flags.
const sendTemplate = `
WITH s AS (
    SELECT {session} FROM chat_sessions s WHERE s.id = $1 AND s.{id} = $2
),
prior AS (
    SELECT m.id, m.seq, m.client_msg_id, m.text, m.flags, m.created_at FROM chat_messages m
     WHERE m.chat_session_id = $1 AND m.sender = '{party}' AND m.client_msg_id = $3 AND EXISTS (SELECT FROM s)
),
open AS (
    SELECT FROM s WHERE s.status = 'active' AND s.ends_at > $6::timestamptz AND NOT EXISTS (SELECT FROM prior)
),
bump AS (
    INSERT INTO chat_threads AS t (chat_session_id, last_seq, {active})
    SELECT $1, 1, $6::timestamptz FROM open
    ON CONFLICT (chat_session_id) DO UPDATE
       SET last_seq = t.last_seq + 1, {active} = GREATEST(t.{active}, EXCLUDED.{active})
    RETURNING t.last_seq
),
ins AS (
    INSERT INTO chat_messages (id, chat_session_id, seq, sender, client_msg_id, text, flags, created_at)
    SELECT $4, $1, bump.last_seq, '{party}', $3, $5, $7::text[], $6::timestamptz FROM bump
    RETURNING id, seq, client_msg_id, text, flags, created_at
),
m AS (
    SELECT true AS stored, * FROM ins UNION ALL SELECT false, * FROM prior
)
SELECT {session}, m.stored, m.id, m.seq, m.client_msg_id, m.text, m.flags, m.created_at
  FROM s LEFT JOIN m ON true`

func (p *PostgresStore) Send(ctx context.Context, m Message, senderID uuid.UUID) (SendResult, error) {
	q, ok := sendSQL[m.Sender]
	if !ok {
		return SendResult{}, fmt.Errorf("send: %w", validPartyName("sender", m.Sender))
	}
	flags := make([]string, len(m.Flags))
	for i, f := range m.Flags {
		flags[i] = string(f)
	}
	var res SendResult
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		res, err = p.send(ctx, q, m, senderID, flags)
		if name, dup := pgutil.IsUniqueViolation(err); !dup || name != idempotencyIndex {
			break
		}
	}
	if err != nil {
		return SendResult{}, pgutil.Translate(err)
	}
	return res, nil
}

func (p *PostgresStore) send(ctx context.Context, q string, m Message, senderID uuid.UUID, flags []string) (SendResult, error) {
	var (
		sess   Session
		stored *bool
		got    scannedMessage
	)
	err := p.db.QueryRow(ctx, q, m.ChatSessionID, senderID, m.ClientMsgID, m.ID, m.Text, m.CreatedAt, flags).Scan(
		append(sess.scanTargets(), &stored, &got.id, &got.seq, &got.clientMsgID, &got.text, &got.flags, &got.createdAt)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return SendResult{Outcome: NotParty}, nil
	}
	if err != nil {
		return SendResult{}, err
	}
	sess.normalize()
	switch {
	case stored == nil:
		return SendResult{Outcome: NotOpen, Session: sess}, nil
	case *stored:
		return SendResult{Outcome: Stored, Message: got.message(m.ChatSessionID, m.Sender), Session: sess}, nil
	}
	return SendResult{Outcome: Replayed, Message: got.message(m.ChatSessionID, m.Sender), Session: sess}, nil
}

// historyTemplate reads the session (for its reader), its thread and a page of its
// messages: one row per message, or one row without a message. $1 session, $2 reader id,
// $3 after_seq, $4 limit.
const historyTemplate = `
WITH s AS (
    SELECT {session} FROM chat_sessions s WHERE s.id = $1 AND s.{id} = $2
)
SELECT {session}, coalesce(t.last_seq, 0), coalesce(t.client_read_seq, 0), coalesce(t.mitra_read_seq, 0),
       t.client_active_at, t.mitra_active_at,
       m.id, m.seq, m.sender, m.client_msg_id, m.text, m.flags, m.created_at
  FROM s
  LEFT JOIN chat_threads t ON t.chat_session_id = $1
  LEFT JOIN LATERAL (
      SELECT id, seq, sender, client_msg_id, text, flags, created_at FROM chat_messages
       WHERE chat_session_id = $1 AND seq > $3 ORDER BY seq LIMIT $4
  ) m ON true
 ORDER BY m.seq`

func (p *PostgresStore) History(ctx context.Context, q HistoryQuery) (HistoryResult, error) {
	stmt, ok := historySQL[q.Reader]
	if !ok {
		return HistoryResult{}, fmt.Errorf("history: %w", validPartyName("reader", q.Reader))
	}
	rows, err := p.db.Query(ctx, stmt, q.SessionID, q.ReaderID, q.AfterSeq, q.Limit)
	if err != nil {
		return HistoryResult{}, pgutil.Translate(err)
	}
	defer rows.Close()
	out := HistoryResult{Messages: []Message{}}
	for rows.Next() {
		var (
			sess   Session
			t      Thread
			got    scannedMessage
			sender *string
		)
		if err := rows.Scan(append(sess.scanTargets(), &t.LastSeq, &t.ClientReadSeq, &t.MitraReadSeq, &t.ClientActiveAt,
			&t.MitraActiveAt, &got.id, &got.seq, &sender, &got.clientMsgID, &got.text, &got.flags, &got.createdAt)...); err != nil {
			return HistoryResult{}, pgutil.Translate(err)
		}
		sess.normalize()
		t.ClientActiveAt, t.MitraActiveAt = pgutil.UTCPtr(t.ClientActiveAt), pgutil.UTCPtr(t.MitraActiveAt)
		out.Session, out.Thread = sess, t
		if got.id != nil {
			out.Messages = append(out.Messages, got.message(q.SessionID, pairing.Party(pgutil.Deref(sender))))
		}
	}
	if err := rows.Err(); err != nil {
		return HistoryResult{}, pgutil.Translate(err)
	}
	return out, nil
}

// markReadTemplate moves the reader's mark, guarded on the session (the reader's, started,
// active or ended after $4), on the mark being lower and never past the last message; the
// UPDATE re-checks its guard on the row's latest version, so concurrent calls never move
// it back. $1 session, $2 reader id, $3 seq, $4 ended after.
const markReadTemplate = `
WITH s AS (
    SELECT {session} FROM chat_sessions s WHERE s.id = $1 AND s.{id} = $2
),
u AS (
    UPDATE chat_threads t SET {read} = LEAST($3::bigint, t.last_seq)
      FROM s
     WHERE t.chat_session_id = $1 AND s.started_at IS NOT NULL
       AND (s.status = 'active' OR s.ended_at > $4::timestamptz)
       AND LEAST($3::bigint, t.last_seq) > t.{read}
    RETURNING t.{read}
)
SELECT {session}, (SELECT {read} FROM u), (SELECT {read} FROM chat_threads WHERE chat_session_id = $1)
  FROM s`

func (p *PostgresStore) MarkRead(ctx context.Context, r ReadQuery) (ReadResult, error) {
	stmt, ok := markReadSQL[r.Reader]
	if !ok {
		return ReadResult{}, fmt.Errorf("mark read: %w", validPartyName("reader", r.Reader))
	}
	var (
		sess          Session
		moved, before *int64
	)
	err := p.db.QueryRow(ctx, stmt, r.SessionID, r.ReaderID, r.Seq, r.EndedAfter).Scan(append(sess.scanTargets(), &moved, &before)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ReadResult{}, nil
	}
	if err != nil {
		return ReadResult{}, pgutil.Translate(err)
	}
	sess.normalize()
	if moved != nil {
		return ReadResult{Session: sess, Seq: *moved, Moved: true}, nil
	}
	var seq int64
	if before != nil {
		seq = *before
	}
	return ReadResult{Session: sess, Seq: seq}, nil
}

// activityTemplate records a party's activity on an active session. $1 session, $2 at.
const activityTemplate = `
WITH s AS (
    SELECT {session} FROM chat_sessions s WHERE s.id = $1
),
up AS (
    INSERT INTO chat_threads AS t (chat_session_id, {active})
    SELECT $1, $2::timestamptz FROM s WHERE s.status = 'active' AND s.ends_at > $2::timestamptz
    ON CONFLICT (chat_session_id) DO UPDATE SET {active} = GREATEST(t.{active}, EXCLUDED.{active})
    RETURNING 1
)
SELECT {session}, EXISTS (SELECT FROM up) FROM s`

func (p *PostgresStore) ReportActivity(ctx context.Context, sessionID uuid.UUID, party pairing.Party, at time.Time) (ActivityResult, error) {
	stmt, ok := activitySQL[party]
	if !ok {
		return ActivityResult{}, fmt.Errorf("report activity: %w", validPartyName("party", party))
	}
	var (
		sess     Session
		recorded bool
	)
	err := p.db.QueryRow(ctx, stmt, sessionID, at).Scan(append(sess.scanTargets(), &recorded)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ActivityResult{}, nil
	}
	if err != nil {
		return ActivityResult{}, pgutil.Translate(err)
	}
	sess.normalize()
	return ActivityResult{Session: sess, Recorded: recorded}, nil
}

func (p *PostgresStore) Thread(ctx context.Context, sessionID uuid.UUID) (Thread, error) {
	var t Thread
	var last, client, mitra *int64
	err := p.db.QueryRow(ctx, `SELECT t.last_seq, t.client_read_seq, t.mitra_read_seq, t.client_active_at, t.mitra_active_at
		  FROM chat_sessions s LEFT JOIN chat_threads t ON t.chat_session_id = s.id WHERE s.id = $1`, sessionID).Scan(
		&last, &client, &mitra, &t.ClientActiveAt, &t.MitraActiveAt)
	if err != nil {
		return Thread{}, pgutil.Translate(err)
	}
	for _, f := range []struct {
		dst *int64
		v   *int64
	}{{&t.LastSeq, last}, {&t.ClientReadSeq, client}, {&t.MitraReadSeq, mitra}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	t.ClientActiveAt, t.MitraActiveAt = pgutil.UTCPtr(t.ClientActiveAt), pgutil.UTCPtr(t.MitraActiveAt)
	return t, nil
}

// scanTargets are the destinations of sessionColumns.
func (s *Session) scanTargets() []any {
	return []any{&s.ClientID, &s.MitraID, &s.Status, &s.StartedAt, &s.EndsAt, &s.EndedAt}
}

// normalize marks a scanned session found, its times in UTC.
func (s *Session) normalize() {
	s.Found = true
	s.StartedAt, s.EndsAt, s.EndedAt = pgutil.UTCPtr(s.StartedAt), pgutil.UTCPtr(s.EndsAt), pgutil.UTCPtr(s.EndedAt)
}

// scannedMessage is a message's columns, each NULL when a LEFT JOIN found none.
type scannedMessage struct {
	id          *uuid.UUID
	seq         *int64
	clientMsgID *string
	text        *string
	flags       []string
	createdAt   *time.Time
}

func (s scannedMessage) message(sessionID uuid.UUID, sender pairing.Party) Message {
	flags := make([]Flag, len(s.flags))
	for i, f := range s.flags {
		flags[i] = Flag(f)
	}
	m := Message{ChatSessionID: sessionID, Sender: sender, ClientMsgID: pgutil.Deref(s.clientMsgID), Text: pgutil.Deref(s.text),
		Flags: flags}
	if s.id != nil {
		m.ID = *s.id
	}
	if s.seq != nil {
		m.Seq = *s.seq
	}
	if s.createdAt != nil {
		m.CreatedAt = s.createdAt.UTC()
	}
	return m
}
