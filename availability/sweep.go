package availability

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// AutoOffline sets offline every online mitra whose heartbeat is older than the stale
// threshold. The sweeps package runs it on a cadence; it is safe in several instances at
// once. It is driven by Valkey, where the heartbeats live:
//
//  1. Read the stale mitras from Valkey. Any Valkey error aborts the run before anything
//     is written: a Valkey hiccup never turns into a mass offline from a Postgres scan.
//  2. Postgres first: set them offline, each only if still online with no fresher
//     heartbeat in Postgres (a ping that fell back to Postgres during an outage).
//  3. Valkey: remove them, each only if it did not ping since step 1 (checked in the
//     same script). One that did is "revived": Postgres is set back online, guarded by
//     the updated_at step 2 wrote, so a later write by someone else is never undone.
//  4. If a Valkey write of step 3 fails, the mitras whose outcome is unknown are set back
//     online in Postgres the same way and the run reports the error: it offlined nobody
//     it could not also offline in Valkey.
//
// Candidates that Postgres showed offline already, or fresh, are re-synced from Postgres
// (the mirror had drifted).
func (m *Mirror) AutoOffline(ctx context.Context) (AutoOfflineReport, error) {
	began := time.Now()
	rep, err := m.autoOffline(ctx)
	rep.Duration = time.Since(began)
	if err != nil {
		m.log.Warn("auto-offline run aborted", "err", err, "offlined", rep.Offlined)
		return rep, err
	}
	if rep.Offlined+rep.Revived+rep.Repaired > 0 {
		m.log.Info("auto-offline run", "candidates", rep.Candidates, "offlined", rep.Offlined,
			"revived", rep.Revived, "repaired", rep.Repaired, "duration", rep.Duration)
	}
	return rep, nil
}

func (m *Mirror) autoOffline(ctx context.Context) (AutoOfflineReport, error) {
	var rep AutoOfflineReport
	staleBefore := m.freshAfter()
	if m.cache == nil {
		// Postgres only: heartbeats are written there directly, so it is the live truth.
		res, err := m.store.OfflineStale(ctx, nil, staleBefore)
		if err != nil {
			return rep, fmt.Errorf("auto-offline: %w", err)
		}
		rep.Candidates = len(res.Offlined) + len(res.Fresh)
		rep.Offlined = len(res.Offlined)
		return rep, nil
	}

	pctx, cancel := m.valkeyCtx(ctx)
	p, err := m.cache.Probe(pctx)
	cancel()
	switch {
	case err != nil:
		return rep, fmt.Errorf("auto-offline aborted, nobody offlined: probe valkey: %w", err)
	case !p.Seeded:
		m.notSeeded("auto_offline")
		return rep, fmt.Errorf("auto-offline aborted, nobody offlined: %w", ErrNotSeeded)
	case p.RecoveredAt != nil && staleBefore.Before(*p.RecoveredAt):
		// Valkey lost its pings not long ago and was rebuilt from Postgres, which lags them
		// by up to one heartbeat mirror interval: a heartbeat older than the recovery says
		// nothing yet. Once a full threshold has passed, every mitra still pinging has
		// pinged since, and the others are stale for sure.
		return rep, nil
	}
	bctx, cancel := m.bulkCtx(ctx)
	ids, err := m.cache.StaleOnline(bctx, staleBefore)
	cancel()
	if err != nil {
		return rep, fmt.Errorf("auto-offline aborted, nobody offlined: read stale heartbeats: %w", err)
	}
	rep.Candidates = len(ids)
	if len(ids) == 0 {
		return rep, nil
	}

	res, err := m.store.OfflineStale(ctx, ids, staleBefore)
	if err != nil {
		return rep, fmt.Errorf("auto-offline: %w", err)
	}

	var runErr error
	if len(res.Offlined) > 0 {
		offIDs := make([]uuid.UUID, len(res.Offlined))
		for i, o := range res.Offlined {
			offIDs[i] = o.ID
		}
		bctx, cancel := m.bulkCtx(context.WithoutCancel(ctx))
		revived, failed, verr := m.cache.Offline(bctx, OfflineParams{IDs: offIDs, StaleBefore: staleBefore, At: m.now()})
		cancel()
		undo := map[uuid.UUID]bool{}
		for _, id := range revived {
			undo[id] = true
		}
		for _, id := range failed {
			undo[id] = true
		}
		var rows []OfflinedMitra
		for _, o := range res.Offlined {
			if undo[o.ID] {
				rows = append(rows, o)
			}
		}
		restored := 0
		if len(rows) > 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
			back, err := m.store.RestoreOnline(rctx, rows)
			cancel()
			if err != nil {
				// Postgres says offline, Valkey online: the mitra's next ping is accepted and
				// the next reseed sets it offline in Valkey too (it can then go online again).
				m.log.Error("auto-offline: set revived mitras back online in postgres", "err", err, "count", len(rows))
				m.requestReseed()
			}
			restored = len(back)
		}
		rep.Revived = len(revived)
		rep.Offlined = len(res.Offlined) - restored
		if verr != nil {
			m.writeFailed("auto_offline", verr)
			runErr = fmt.Errorf("auto-offline aborted: remove %d stale mitras from valkey: %w", len(failed), verr)
		}
	}

	if repair := append(res.Offline, res.Fresh...); len(repair) > 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
		if _, err := m.sync(rctx, "auto_offline_repair", repair...); err != nil {
			m.log.Warn("auto-offline: re-sync drifted mitras", "err", err)
		}
		cancel()
		rep.Repaired = len(repair)
	}
	return rep, runErr
}

// MirrorHeartbeats copies the heartbeats Valkey holds into mitras.last_heartbeat_at, in one
// UNNEST statement, never moving a timestamp back (so it is idempotent across instances).
// A Valkey error aborts the run with nothing written.
func (m *Mirror) MirrorHeartbeats(ctx context.Context) (HeartbeatMirrorReport, error) {
	began := time.Now()
	var rep HeartbeatMirrorReport
	if m.cache == nil {
		return rep, nil // heartbeats are written to Postgres directly
	}
	bctx, cancel := m.bulkCtx(ctx)
	hbs, err := m.cache.Heartbeats(bctx)
	cancel()
	if err != nil {
		rep.Duration = time.Since(began)
		return rep, fmt.Errorf("heartbeat mirror aborted: read heartbeats from valkey: %w", err)
	}
	rep.Read = len(hbs)
	n, err := m.store.MirrorHeartbeats(ctx, hbs)
	rep.Updated = n
	rep.Duration = time.Since(began)
	if err != nil {
		return rep, fmt.Errorf("heartbeat mirror: %w", err)
	}
	return rep, nil
}
