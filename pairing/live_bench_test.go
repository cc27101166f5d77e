package pairing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
)

// Benchmarks of the operators' live lists over a Postgres that has seen 100,000 pairings
// (cancelled long ago, each offered to two mitras) and 1,000 chats (ended), with 1,000
// pairings waiting and 200 chats running now. They run only with -bench:
//
//	go test -run '^$' -bench LiveLists -benchtime 2s ./pairing/
//
// waiting reads the first page of every waiting pairing (the console's default), waiting/
// one_status the first page of one status, active the first page of running chats. Each
// logs its plan once (-v): the waiting list reads pairings_open_idx, the partial index of
// the open pairings, and never the 100,000 others; names and offers are read for the
// page's rows only. No timing is asserted.
func BenchmarkLiveLists(b *testing.B) {
	ctx := context.Background()
	db := testenv.Postgres(b)
	store := pairing.NewPostgresStore(db.Pool)
	for _, stmt := range []string{
		`INSERT INTO clients (display_name) SELECT 'client ' || g FROM generate_series(1, 2000) AS g`,
		`INSERT INTO mitras (display_name, max_concurrent_sessions) SELECT 'mitra ' || g, 100 FROM generate_series(1, 200) AS g`,
		`WITH c AS (SELECT id, row_number() OVER () AS n FROM clients)
		INSERT INTO pairings (client_id, type, status, minutes, created_at, updated_at)
		SELECT c.id, 'blast', 'cancelled', 30, $1::timestamptz - g * interval '1 minute', $1
		FROM generate_series(1, 100000) AS g JOIN c ON c.n = 1 + g % 2000`,
		`WITH c AS (SELECT id, row_number() OVER () AS n FROM clients)
		INSERT INTO pairings (client_id, type, status, minutes, expires_at, created_at, updated_at)
		SELECT c.id, 'blast', (ARRAY['searching', 'queued', 'awaiting_payment'])[1 + g % 3], 30,
			$1::timestamptz + interval '1 hour', $1::timestamptz + g * interval '1 second', $1
		FROM generate_series(1, 1000) AS g JOIN c ON c.n = g`,
		`WITH m AS (SELECT id, row_number() OVER () AS n FROM mitras),
			p AS (SELECT id, client_id, row_number() OVER (ORDER BY created_at) AS n FROM pairings WHERE status = 'cancelled' LIMIT 1200)
		INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, started_at, ends_at, ended_at, end_reason, pairing_id)
		SELECT p.client_id, m.id, CASE WHEN p.n <= 200 THEN 'active' ELSE 'ended' END, 30, $1,
			$1::timestamptz + p.n * interval '1 second',
			CASE WHEN p.n <= 200 THEN NULL ELSE $1::timestamptz END, CASE WHEN p.n <= 200 THEN NULL ELSE 'expired' END, p.id
		FROM p JOIN m ON m.n = 1 + p.n % 200`,
		`WITH m AS (SELECT id, row_number() OVER () AS n FROM mitras),
			p AS (SELECT id, row_number() OVER () AS n FROM pairings)
		INSERT INTO pairing_offers (pairing_id, mitra_id, status)
		SELECT p.id, m.id, 'dismissed' FROM p JOIN m ON m.n IN (1 + p.n % 200, 1 + (p.n + 1) % 200)`,
		`ANALYZE`,
	} {
		var args []any
		if strings.Contains(stmt, "$1") {
			args = []any{t0}
		}
		_, err := db.Pool.Exec(ctx, stmt, args...)
		require.NoError(b, err)
	}

	plan := func(b *testing.B, query string, args ...any) {
		rows, err := db.Pool.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) "+query, args...)
		require.NoError(b, err)
		var lines []string
		for rows.Next() {
			var line string
			require.NoError(b, rows.Scan(&line))
			lines = append(lines, line)
		}
		require.NoError(b, rows.Err())
		b.Log("\n" + strings.Join(lines, "\n"))
	}
	for _, tc := range []struct {
		name string
		q    pairing.WaitingQuery
	}{
		{"waiting", pairing.WaitingQuery{Statuses: pairing.WaitingStatuses, Page: 1, PageSize: 20}},
		{"waiting/one_status", pairing.WaitingQuery{Statuses: []pairing.Status{pairing.StatusQueued}, Page: 1, PageSize: 20}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			plan(b, pairing.WaitingPairingsSQL, pairing.WaitingPairingsArgs(tc.q)...)
			for b.Loop() {
				items, total, err := store.ListWaitingPairings(ctx, tc.q)
				if err != nil || len(items) != 20 || total == 0 {
					b.Fatalf("%d items of %d, %v", len(items), total, err)
				}
			}
		})
	}
	b.Run("active", func(b *testing.B) {
		plan(b, pairing.ActiveSessionsSQL, 20, 0)
		for b.Loop() {
			items, total, err := store.ListActiveSessions(ctx, pairing.ActiveSessionQuery{Page: 1, PageSize: 20})
			if err != nil || len(items) != 20 || total != 200 {
				b.Fatalf("%d items of %d, %v", len(items), total, err)
			}
		}
	})
}
