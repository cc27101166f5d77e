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

// Benchmarks of the queue's reads and of offering its head, at 1k, 10k and 100k queued
// pairings (100k is skipped under -short). They run only with -bench:
//
//	go test -run '^$' -bench Queue -benchtime 2s ./pairing/
//
// position/valkey is a ZRANK on the ValkeyQueueIndex, position/postgres the Store's count
// of the pairings ahead (the fallback); offer_head is one OfferQueued transaction that
// offers the head of the queue to a mitra's free slot, then that offer's lapse
// (ExpireLapsedOffers of its pairing), so that the next iteration offers the head again.
// No timing is asserted.

func BenchmarkQueue(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("queued=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("100k queued pairings: not under -short")
			}
			benchQueue(b, n)
		})
	}
}

func benchQueue(b *testing.B, n int) {
	ctx := context.Background()
	db := testenv.Postgres(b)
	vk := testenv.NewValkey(b)
	store := pairing.NewPostgresStore(db.Pool)
	// One statement: n queued blasts of one client, paid a millisecond apart.
	_, err := db.Pool.Exec(ctx, `WITH c AS (INSERT INTO clients (display_name) VALUES ('bench') RETURNING id)
		INSERT INTO pairings (client_id, type, status, minutes, paid_at, queued_at, expires_at)
		SELECT c.id, 'blast', 'queued', 30, $2::timestamptz + g * interval '1 millisecond', $2, $2::timestamptz + interval '1 day'
		FROM c, generate_series(1, $1) AS g`, n, t0)
	require.NoError(b, err)
	var mitra uuid.UUID
	require.NoError(b, db.Pool.QueryRow(ctx, `INSERT INTO mitras (display_name, is_online) VALUES ('bench', true) RETURNING id`).Scan(&mitra))
	_, err = db.Pool.Exec(ctx, `ANALYZE pairings`)
	require.NoError(b, err)
	index := pairing.NewValkeyQueueIndex(vk.Client, pairing.ValkeyQueueConfig{Names: vk.Names()})
	require.NoError(b, store.SnapshotQueue(ctx, func(es []pairing.QueueEntry) error { return index.Replace(ctx, es) }))
	queue, err := store.ListQueue(ctx, 0)
	require.NoError(b, err)
	require.Len(b, queue, n)
	middle := queue[n/2].ID

	b.Run("position/valkey", func(b *testing.B) {
		for b.Loop() {
			pos, err := index.Position(ctx, middle)
			if err != nil || pos != n/2+1 {
				b.Fatalf("position %d, %v", pos, err)
			}
		}
	})
	b.Run("position/postgres", func(b *testing.B) {
		for b.Loop() {
			pos, err := store.QueuePosition(ctx, middle)
			if err != nil || pos != n/2+1 {
				b.Fatalf("position %d, %v", pos, err)
			}
		}
	})
	b.Run("length/valkey", func(b *testing.B) {
		for b.Loop() {
			if _, err := index.Length(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("offer_head/postgres", func(b *testing.B) {
		at := t0.Add(time.Hour)
		for b.Loop() {
			res, err := store.OfferQueued(ctx, pairing.OfferQueuedParams{MitraID: mitra, DefaultMaxSessions: 1, OfferTTL: time.Second, Now: at})
			if err != nil || len(res.Offered) != 1 || res.Offered[0].Pairing.ID != queue[0].ID {
				b.Fatalf("offered %v, %v", res.Offered, err)
			}
			at = at.Add(time.Second)
			if _, err := store.ExpireLapsedOffers(ctx, pairing.LapsedOffersParams{PairingID: &queue[0].ID, Now: at}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
