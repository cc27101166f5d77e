package chat_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/testenv"
)

// BenchmarkRetention_DeleteABatch is one batch of the retention sweep in Postgres: the
// RetentionBatch oldest of 200,000 messages (100 sessions of 2,000), none held (one open
// report holds another session). Each op deletes one batch; the table is refilled when it
// runs out.
//
//	go test -run '^$' -bench Retention -benchtime 50x ./chat/
func BenchmarkRetention_DeleteABatch(b *testing.B) {
	db := testenv.Postgres(b)
	f := pgFacts{db.Pool}
	ctx := b.Context()
	start := time.Now().Add(-1000 * time.Hour)
	var sessions []string
	for range 100 {
		s := f.startSession(b, start, 1440)
		sessions = append(sessions, s.ID.String())
	}
	held := f.startSession(b, start, 1440)
	_, err := db.Pool.Exec(ctx, `INSERT INTO safety_reports (id, chat_session_id, reporter, reporter_id, reported, reported_id, reason,
		status, due_at, created_at) VALUES (gen_random_uuid(), $1, 'client', $2, 'mitra', $3, 'spam', 'open', now(), now())`,
		held.ID, held.ClientID, held.MitraID)
	require.NoError(b, err)
	fill := func() {
		_, err := db.Pool.Exec(ctx, `
			INSERT INTO chat_threads (chat_session_id, last_seq) SELECT s::uuid, 0 FROM unnest($1::text[]) s
			ON CONFLICT (chat_session_id) DO NOTHING`, sessions)
		require.NoError(b, err)
		_, err = db.Pool.Exec(ctx, `
			WITH t AS (UPDATE chat_threads SET last_seq = last_seq + 2000 WHERE chat_session_id = ANY($1::uuid[])
			           RETURNING chat_session_id, last_seq - 2000 AS base)
			INSERT INTO chat_messages (id, chat_session_id, seq, sender, client_msg_id, text, created_at)
			SELECT gen_random_uuid(), t.chat_session_id, t.base + g, 'client', 'b-' || (t.base + g), 'halo, kak',
			       $2::timestamptz + g * interval '1 second'
			  FROM t, generate_series(1, 2000) g`, sessions, start)
		require.NoError(b, err)
		_, err = db.Pool.Exec(ctx, `ANALYZE chat_messages`)
		require.NoError(b, err)
	}
	fill()
	store := chat.NewPostgresStore(db.Pool)
	before := time.Now()
	for b.Loop() {
		n, err := store.DeleteMessagesBefore(ctx, before, chat.RetentionBatch)
		require.NoError(b, err)
		if n < chat.RetentionBatch {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
	}
}
