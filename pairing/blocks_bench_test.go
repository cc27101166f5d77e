package pairing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
)

// Benchmarks of the Postgres statements a block adds a check to, on the path of a blast to
// 50 mitras, for a client blocked with none or 10 of them (5 by the client, 5 by the
// mitra), among 10,000 blocks of other pairs. They run only with -bench:
//
//	go test -run '^$' -bench BlastStatements -benchtime 2000x ./pairing/
//
// exclusions is the read of the mitras a blast leaves out: OfferedMitras before blocks,
// ExcludedMitras (the offered ones and the blocked ones in one statement) now.
// insert_offers is InsertOffers of the 50 (a blocked one left out in the statement), on a
// fresh searching pairing each time; accept is AcceptOffer of one of them (the block read
// in the statement that reads the offer). No timing is asserted; each is one statement
// (or one transaction) as before: a block adds no round trip.
func BenchmarkBlastStatements(b *testing.B) {
	ctx := context.Background()
	db := testenv.Postgres(b)
	store := pairing.NewPostgresStore(db.Pool)
	mitras := make([]uuid.UUID, 50)
	for i := range mitras {
		mitras[i] = uuid.New()
		_, err := db.Pool.Exec(ctx, "INSERT INTO mitras (id, display_name, is_online, max_concurrent_sessions) VALUES ($1, 'mitra', true, 100)", mitras[i])
		require.NoError(b, err)
	}
	// Other pairs' blocks: the index holds them too.
	_, err := db.Pool.Exec(ctx, `WITH c AS (INSERT INTO clients (display_name) SELECT 'other' FROM generate_series(1, 1000) RETURNING id)
		INSERT INTO pairing_blocks (client_id, mitra_id, blocked_by, created_at)
		SELECT c.id, m, 'client', now() FROM c, unnest($1::uuid[]) WITH ORDINALITY AS u(m, n) WHERE n <= 10`, mitras)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, "ANALYZE")
	require.NoError(b, err)

	for _, blocks := range []int{0, 10} {
		client := uuid.New()
		_, err := db.Pool.Exec(ctx, "INSERT INTO clients (id, display_name) VALUES ($1, 'Dewi')", client)
		require.NoError(b, err)
		for i, m := range mitras[:blocks] {
			by := "client"
			if i%2 == 1 {
				by = "mitra"
			}
			_, err := db.Pool.Exec(ctx, "INSERT INTO pairing_blocks (client_id, mitra_id, blocked_by, created_at) VALUES ($1, $2, $3, now())", client, m, by)
			require.NoError(b, err)
		}
		// searching inserts a searching blast of the client (the last one ends first:
		// one open pairing per client).
		var last uuid.UUID
		searching := func(b *testing.B) uuid.UUID {
			if last != uuid.Nil {
				_, err := db.Pool.Exec(ctx, "UPDATE pairings SET status = 'cancelled' WHERE id = $1 AND status = 'searching'", last)
				require.NoError(b, err)
			}
			p, err := store.CreatePairing(ctx, pairing.Pairing{ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast,
				Status: pairing.StatusSearching, Minutes: 30, ExpiresAt: ptr(t0.Add(time.Hour)), CreatedAt: t0, UpdatedAt: t0})
			require.NoError(b, err)
			last = p.ID
			return p.ID
		}
		p := searching(b)
		// What the earlier runs inserted is in the planner's statistics.
		_, err = db.Pool.Exec(ctx, "ANALYZE")
		require.NoError(b, err)
		b.Run(fmt.Sprintf("exclusions/offered/blocks=%d", blocks), func(b *testing.B) {
			for b.Loop() {
				if _, err := store.OfferedMitras(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("exclusions/excluded/blocks=%d", blocks), func(b *testing.B) {
			for b.Loop() {
				ids, err := store.ExcludedMitras(ctx, p, client)
				if err != nil || len(ids) != blocks {
					b.Fatalf("%d excluded, %v", len(ids), err)
				}
			}
		})
		b.Run(fmt.Sprintf("insert_offers/blocks=%d", blocks), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := searching(b)
				b.StartTimer()
				got, err := store.InsertOffers(ctx, p, mitras, t0)
				if err != nil || len(got) != len(mitras)-blocks {
					b.Fatalf("%d offered, %v", len(got), err)
				}
			}
		})
		b.Run(fmt.Sprintf("accept/blocks=%d", blocks), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := searching(b)
				m := mitras[blocks+i%(len(mitras)-blocks)]
				_, err := store.InsertOffers(ctx, p, []uuid.UUID{m}, t0)
				require.NoError(b, err)
				b.StartTimer()
				if _, err := store.AcceptOffer(ctx, pairing.AcceptParams{MitraID: m, PairingID: p, SessionID: uuid.New(),
					DefaultMaxSessions: 1, Now: t0}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_, err = db.Pool.Exec(ctx, "UPDATE chat_sessions SET status = 'ended', end_reason = 'expired', ended_at = $2 WHERE pairing_id = $1", p, t0)
				require.NoError(b, err)
				last = uuid.Nil // matched: no longer open
				b.StartTimer()
			}
		})
	}
}
