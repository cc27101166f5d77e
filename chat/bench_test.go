package chat_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
)

// BenchmarkService_Send is one message through the SDK: the rate limit, the store's one
// statement, the notifier (dropping it), over Postgres + Valkey and in memory, round robin
// over 200 running sessions (so that no sender meets its limit). pg-stmt/op counts the
// Postgres statements. In memory a sender would meet its limit within the run: the memory
// run spreads over 5000 sessions.
//
//	go test -run '^$' -bench Send -benchmem ./chat/
func BenchmarkService_Send(b *testing.B) {
	for _, backend := range []string{"memory", "postgres+valkey"} {
		b.Run(backend, func(b *testing.B) {
			sessions := 200
			var (
				store   chat.Store
				f       facts
				limiter chat.RateLimiter
				counter = &pgutil.QueryCounter{}
			)
			if backend == "memory" {
				s, _, mf := openMemory()
				store, f, sessions = s, mf, 5000
			} else {
				db := testenv.PostgresWith(b, testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = counter }})
				vk := testenv.NewValkey(b)
				store, f = chat.NewPostgresStore(db.Pool), pgFacts{db.Pool}
				limiter = chat.NewValkeyRateLimiter(vk.Client, chat.ValkeyRateLimiterConfig{Names: vk.Names()})
			}
			svc, err := chat.NewService(store, chat.Deps{Limiter: limiter, Settings: newRate(600)}, nil)
			require.NoError(b, err)
			now := time.Now()
			ss := make([]pairing.ChatSession, sessions)
			for i := range ss {
				ss[i] = f.startSession(b, now, 1440)
			}
			send := func(i int) {
				s := ss[i%sessions]
				if _, err := svc.Send(b.Context(), chat.SendParams{ChatSessionID: s.ID, Sender: pairing.PartyClient, SenderID: s.ClientID,
					ClientMsgID: "b-" + strconv.Itoa(i), Text: "halo, kak — boleh cerita sebentar?"}); err != nil {
					b.Fatal(err)
				}
			}
			send(sessions) // warm: prepared statements, the script loaded
			before := counter.Count()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				send(i)
				i++
			}
			b.ReportMetric(float64(counter.Count()-before)/float64(b.N), "pg-stmt/op")
		})
	}
}
