package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
)

// BenchmarkSendMessageRequest is POST /api/client/chat-sessions/{id}/messages through the
// whole handler over Postgres + Valkey, without the network: the token check (from
// memory), the body, the SDK's send (the rate limit in Valkey, one Postgres statement), the
// event's publish on the bus. Round robin over 200 running sessions of one client, so that
// no sender meets its limit (600 a minute each).
//
//	go test -run '^$' -bench SendMessage -benchmem ./examples/server/
func BenchmarkSendMessageRequest(b *testing.B) {
	const sessions = 200
	s := newBenchServer(b)
	app := s.srv.app
	ctx := context.Background()
	_, err := app.runtime.Set(ctx, "chat_message_rate_per_minute", []byte("600"), "bench")
	require.NoError(b, err)
	m, err := app.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "bench mitra", MaxConcurrentSessions: new(100)})
	require.NoError(b, err)
	c, err := app.registerClient(ctx, "bench chatter")
	require.NoError(b, err)
	tok, _, err := app.auth.issue(ctx, SubjectClient, c.ID, time.Hour)
	require.NoError(b, err)
	rows, err := app.pool.Query(ctx, `WITH p AS (INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
			SELECT $1, 'blast', 'matched', 1440, $2 FROM generate_series(1, $3) RETURNING id)
		INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, started_at, ends_at, pairing_id)
		SELECT $1, $2, 'active', 1440, now(), now() + interval '1 day', id FROM p RETURNING id`, c.ID, m.ID, sessions)
	require.NoError(b, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	require.NoError(b, err)

	w := &benchWriter{h: http.Header{}}
	serve := func(i int) {
		body := `{"text":"halo, kak — boleh cerita sebentar?","client_msg_id":"b-` + strconv.Itoa(i) + `"}`
		req := httptest.NewRequest("POST", "/api/client/chat-sessions/"+ids[i%sessions].String()+"/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		w.reset()
		s.srv.ServeHTTP(w, req)
		if w.code != http.StatusCreated {
			b.Fatalf("status %d", w.code)
		}
	}
	serve(sessions) // warm: token cached, statement prepared, script loaded
	before := s.queries.Count()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		serve(i)
		i++
	}
	b.ReportMetric(float64(s.queries.Count()-before)/float64(b.N), "pg-stmt/op")
}
