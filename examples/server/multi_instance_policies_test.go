package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The queue across instances: positions agree whichever instance answers, each queued
// pairing is held by one offer at a time whichever instances offer it, and the max wait
// fails and refunds each queued blast once while every instance's sweep races for it.
func TestMultiInstance_QueuedBlastsArePlacedOfferedAndTimedOutOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster})
		ctx := context.Background()
		f.tiers()
		f.must(0, 200, "PUT", "/api/internal/config/pairing_queue_enabled", f.op(), map[string]any{"value": true})
		for i, node := range f.nodes {
			fleetEventually(t, 3*time.Second, fmt.Sprintf("instance %d has the queue on", i), func() bool {
				return node.app.runtime.QueueEnabled(ctx)
			})
		}

		const n = 3
		pids, payIDs, toks := make([]string, n), make([]uuid.UUID, n), make([]string, n)
		for k := range n {
			_, toks[k] = f.newClient(k, fmt.Sprint("client ", k))
			var pay string
			pids[k], pay = f.paidBlast(k, toks[k])
			payIDs[k] = uuid.MustParse(pay)
		}
		for k := range n {
			for i := range f.nodes {
				p := fleetObj(f.must(i, 200, "GET", "/api/client/pairings/"+pids[k], toks[k], nil), "pairing")
				require.Equal(t, "queued", p["status"])
				require.EqualValues(t, k+1, p["queue_position"], "pairing %d on instance %d", k, i)
			}
		}

		// Two mitras come online at once through different instances, while every sweep
		// dispatches the queue too: the first two queued pairings are held, once each.
		var wg sync.WaitGroup
		for k := range 2 {
			_, tok := f.newMitra(k, fmt.Sprint("mitra ", k))
			f.pinger(tok)
			wg.Go(func() {
				r, err := f.node(k).call(ctx, "POST", "/api/mitra/status/online", tok, nil)
				require.NoError(t, err)
				require.Equal(t, 200, r.Status)
			})
		}
		wg.Wait()
		fleetEventually(t, 10*time.Second, "the two slots hold the head of the queue", func() bool {
			return f.scalar(`SELECT count(DISTINCT pairing_id) FROM pairing_offers WHERE status = 'offered' AND pairing_id = ANY($1)`, pids[:2]) == 2
		})
		require.Zero(t, f.scalar(`SELECT count(*) FROM (SELECT pairing_id FROM pairing_offers WHERE status = 'offered'
			AND expires_at > now() GROUP BY pairing_id HAVING count(*) > 1) AS twice`), "one live offer per queued pairing")
		require.Zero(t, f.scalar(`SELECT count(*) FROM pairing_offers WHERE status = 'offered' AND pairing_id = $1`, pids[2]),
			"no third slot")

		// Their max wait runs out: every instance's timers and sweeps race for them.
		_, err := f.db.Exec(ctx, `UPDATE pairings SET expires_at = now() - interval '1 second' WHERE id = ANY($1)`, pids)
		require.NoError(t, err)
		fleetEventually(t, 15*time.Second, "the queued blasts failed and refunded", func() bool {
			return f.scalar(`SELECT count(*) FROM pairings WHERE id = ANY($1) AND status = 'failed' AND failure_reason = 'queue_timeout'`, pids) == n &&
				f.scalar(`SELECT count(*) FROM payment_sessions WHERE id = ANY($1) AND status = 'refunded'`, payIDs) == n
		})
		// Several more sweep cycles on every instance (100 ms apart): nothing happens twice.
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			for k := range n {
				require.Equal(t, 1, f.scalar(`SELECT count(*) FROM pairing_failures WHERE pairing_id = $1`, pids[k]), "one failure row")
				require.Equal(t, 1, f.refundsFor(payIDs[k]), "refunded exactly once over all instances")
			}
		}
		for i := range f.nodes {
			_, err := f.node(i).app.pairer.QueueStatus(ctx, uuid.MustParse(pids[0]))
			require.Error(t, err, "no longer queued, on instance %d", i)
		}
		requireFleetSettled(t, f)
	})
}
