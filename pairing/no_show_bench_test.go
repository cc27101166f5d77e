package pairing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
)

// BenchmarkNoShow_SilentSessions is the read of one no-show sweep pass in Postgres: the
// active sessions started before the cutoff whose mitra showed nothing, among n active
// sessions of which all but 1% have their mitra's activity recorded (and as many ended
// ones).
//
//	go test -run '^$' -bench NoShow ./pairing/
func BenchmarkNoShow_SilentSessions(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("active=%d", n), func(b *testing.B) {
			db := testenv.Postgres(b)
			ctx := context.Background()
			start := time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)
			_, err := db.Pool.Exec(ctx, `
				WITH c AS (INSERT INTO clients (display_name) SELECT 'c' || g FROM generate_series(1, $1) g RETURNING id),
				m AS (INSERT INTO mitras (display_name) SELECT 'm' || g FROM generate_series(1, $1) g RETURNING id),
				pairs AS (SELECT c.id AS client_id, m.id AS mitra_id, row_number() OVER () AS i
				            FROM (SELECT id, row_number() OVER () AS r FROM c) c JOIN (SELECT id, row_number() OVER () AS r FROM m) m USING (r)),
				p AS (INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
				      SELECT client_id, 'blast', 'matched', 30, mitra_id FROM pairs RETURNING id, client_id, matched_mitra_id)
				INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, started_at, ends_at, ended_at, end_reason, pairing_id)
				SELECT p.client_id, p.matched_mitra_id, CASE WHEN s.active THEN 'active' ELSE 'ended' END, 30, $2::timestamptz,
				       $2::timestamptz + interval '30 minutes', CASE WHEN NOT s.active THEN $2::timestamptz END,
				       CASE WHEN NOT s.active THEN 'expired' END, p.id
				  FROM p, LATERAL (SELECT get_byte(uuid_send(p.id), 0) < 128 AS active) s`, 2*n, start)
			require.NoError(b, err)
			_, err = db.Pool.Exec(ctx, `INSERT INTO chat_threads (chat_session_id, mitra_active_at)
				SELECT id, $1::timestamptz + interval '5 seconds' FROM chat_sessions WHERE random() < 0.99`, start)
			require.NoError(b, err)
			_, err = db.Pool.Exec(ctx, `ANALYZE chat_sessions; ANALYZE chat_threads`)
			require.NoError(b, err)
			store := pairing.NewPostgresStore(db.Pool)
			found := 0
			for b.Loop() {
				ss, err := store.SilentSessions(ctx, start.Add(time.Minute), pairing.DefaultSweepBatch)
				require.NoError(b, err)
				found = len(ss)
			}
			b.ReportMetric(float64(found), "silent")
		})
	}
}
