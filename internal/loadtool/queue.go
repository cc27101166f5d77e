package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/pairing"
)

// queueSize is how many paid blasts wait in the queue scenario.
const queueSize = 10_000

// queueScenario: with 10k paid blasts queued, a position from the Valkey index beside the
// Postgres count, the queue's length, and offering the head of the queue to a free mitra
// (then that offer's lapse, so that the next call offers the head again), through
// pairing's Postgres store and Valkey index directly, one caller at a time.
func (t *tool) queueScenario(ctx context.Context) error {
	fmt.Printf("# queue\n\n")
	fmt.Printf("%d paid blasts queued (pairing policies: the waiting queue), pairing's Postgres store and Valkey index called directly, one caller, %s each.\n\n", queueSize, t.o.duration)
	fmt.Println("| operation | p50 / p99 | calls/s |")
	fmt.Println("|---|---|---|")
	rows, err := t.queueRun(ctx)
	for _, r := range rows {
		fmt.Println(r)
	}
	if err != nil {
		fmt.Printf("| skipped: %v | | |\n", oneLine(err))
	}
	fmt.Println()
	return nil
}

func (t *tool) queueRun(ctx context.Context) ([]string, error) {
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, 1, 0, 0, 0)
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		return nil, err
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := d.pool.Exec(ctx, `WITH c AS (INSERT INTO clients (display_name) VALUES ('loadtool queue') RETURNING id)
		INSERT INTO pairings (client_id, type, status, minutes, paid_at, queued_at, expires_at)
		SELECT c.id, 'blast', 'queued', 30, $2::timestamptz + g * interval '1 millisecond', $2, $2::timestamptz + interval '1 day'
		FROM c, generate_series(1, $1) AS g`, queueSize, t0); err != nil {
		return nil, fmt.Errorf("queue the blasts: %w", err)
	}
	var mitra uuid.UUID
	if err := d.pool.QueryRow(ctx, `SELECT id FROM mitras LIMIT 1`).Scan(&mitra); err != nil {
		return nil, err
	}
	if _, err := d.pool.Exec(ctx, `ANALYZE pairings`); err != nil {
		return nil, err
	}
	store := pairing.NewPostgresStore(d.pool)
	index := pairing.NewValkeyQueueIndex(t.valkey, pairing.ValkeyQueueConfig{Names: valkeyutil.NewNames(d.prefix, false)})
	if err := store.SnapshotQueue(ctx, func(es []pairing.QueueEntry) error { return index.Replace(ctx, es) }); err != nil {
		return nil, fmt.Errorf("build the queue index: %w", err)
	}
	queue, err := store.ListQueue(ctx, 0)
	if err != nil {
		return nil, err
	}
	if len(queue) != queueSize {
		return nil, fmt.Errorf("%d queued, want %d", len(queue), queueSize)
	}
	middle := queue[queueSize/2].ID
	at := t0.Add(time.Hour)
	cases := []struct {
		name string
		op   func(ctx context.Context) error
	}{
		{"position of the middle blast, Valkey index (`ZRANK`)", func(ctx context.Context) error {
			pos, err := index.Position(ctx, middle)
			if err == nil && pos != queueSize/2+1 {
				err = fmt.Errorf("position %d, want %d", pos, queueSize/2+1)
			}
			return err
		}},
		{"position of the middle blast, Postgres count", func(ctx context.Context) error {
			pos, err := store.QueuePosition(ctx, middle)
			if err == nil && pos != queueSize/2+1 {
				err = fmt.Errorf("position %d, want %d", pos, queueSize/2+1)
			}
			return err
		}},
		{"queue length, Valkey index (`ZCARD`)", func(ctx context.Context) error {
			_, err := index.Length(ctx)
			return err
		}},
		{"offer the head to a free mitra + its lapse, Postgres", func(ctx context.Context) error {
			res, err := store.OfferQueued(ctx, pairing.OfferQueuedParams{MitraID: mitra, DefaultMaxSessions: 1, OfferTTL: time.Second, Now: at})
			if err != nil {
				return err
			}
			if len(res.Offered) != 1 || res.Offered[0].Pairing.ID != queue[0].ID {
				return fmt.Errorf("offered %d pairings, not the head", len(res.Offered))
			}
			at = at.Add(time.Second)
			_, err = store.ExpireLapsedOffers(ctx, pairing.LapsedOffersParams{PairingID: &queue[0].ID, Now: at})
			return err
		}},
	}
	var rows []string
	for _, c := range cases {
		if err := c.op(ctx); err != nil { // warm, and check
			return rows, fmt.Errorf("%s: %w", c.name, err)
		}
		r := runLoad(ctx, 1, t.o.duration, func(ctx context.Context, _, _ int) error { return c.op(ctx) })
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		if r.errs > 0 {
			return rows, fmt.Errorf("%s: %d calls failed, first: %w", c.name, r.errs, r.firstErr)
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s |", c.name, lat(r), rate(r)))
	}
	return rows, nil
}
