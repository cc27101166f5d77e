package availability

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Drift compares the Valkey mirror with what Postgres implies and lists every difference.
// It is an operations tool (and the oracle of the chaos tests): it reads everything, in
// small commands, and on a live system may report writes in flight.
func (m *Mirror) Drift(ctx context.Context) (DriftReport, error) {
	began := time.Now()
	if m.cache == nil {
		return DriftReport{Seeded: true}, nil
	}
	states, err := m.store.AllStates(ctx, m.endedAfter(ctx))
	if err != nil {
		return DriftReport{}, fmt.Errorf("drift: read mitras: %w", err)
	}
	ids := make([]uuid.UUID, len(states))
	for i, s := range states {
		ids[i] = s.ID
	}
	bctx, cancel := m.bulkCtx(ctx)
	d, err := m.cache.Dump(bctx, ids)
	cancel()
	if err != nil {
		return DriftReport{}, fmt.Errorf("drift: read valkey: %w", err)
	}
	rep := DriftReport{Seeded: d.Seeded, Mitras: len(states)}
	rep.Differences = compare(states, d, m.defaultMax(ctx))
	rep.Duration = time.Since(began)
	return rep, nil
}

func compare(states []MitraState, d Dump, defaultMax int) []Difference {
	var diffs []Difference
	add := func(id uuid.UUID, field, pg, vk string) {
		diffs = append(diffs, Difference{MitraID: id, Field: field, Postgres: pg, Valkey: vk})
	}
	b := strconv.FormatBool
	known := make(map[uuid.UUID]bool, len(states))
	for _, s := range states {
		id := s.ID
		known[id] = true
		online := s.IsActive && s.IsOnline
		if d.Online[id] != online {
			add(id, "online", b(online), b(d.Online[id]))
		}
		if d.Deactivated[id] != !s.IsActive {
			add(id, "deactivated", b(!s.IsActive), b(d.Deactivated[id]))
		}
		if c := d.Capacity[id]; c != s.OpenSessions {
			add(id, "capacity", strconv.Itoa(s.OpenSessions), strconv.Itoa(c))
		}
		if full := s.AtCapacity(defaultMax); d.AtCapacity[id] != full {
			add(id, "at_capacity", b(full), b(d.AtCapacity[id]))
		}
		hb, hasHB := d.Heartbeats[id]
		score, indexed := d.Index[id]
		switch {
		case online && !hasHB:
			add(id, "heartbeat", heartbeatArg(s.LastHeartbeatAt), "missing")
		case online && s.LastHeartbeatAt != nil && hb.Before(*s.LastHeartbeatAt):
			add(id, "heartbeat", FormatHeartbeat(*s.LastHeartbeatAt), FormatHeartbeat(hb)+" (older)")
		case !online && hasHB:
			add(id, "heartbeat", "none (offline)", FormatHeartbeat(hb))
		}
		switch {
		case online && hasHB && (!indexed || score != hb.UnixMilli()):
			add(id, "heartbeat_index", FormatHeartbeat(hb), indexString(score, indexed))
		case !online && indexed:
			add(id, "heartbeat_index", "none (offline)", indexString(score, indexed))
		}
		// Device leases exist for an online mitra only, and none is fresher than its
		// heartbeat (the heartbeat is the freshest lease, or fresher).
		for _, l := range d.Devices[id] {
			switch {
			case !online:
				add(id, "devices", "none (offline)", l.Device)
			case hasHB && l.Lease().After(hb):
				add(id, "devices", FormatHeartbeat(hb), l.Device+" "+FormatHeartbeat(l.Lease())+" (fresher than the heartbeat)")
			}
		}
		// The available index holds the indexed mitras that Valkey shows under capacity,
		// with the same score.
		avail, listed := d.Available[id]
		wantListed := indexed && !d.AtCapacity[id] && !d.Deactivated[id]
		if listed != wantListed || (listed && avail != score) {
			want := "none"
			if wantListed {
				want = indexString(score, true)
			}
			add(id, "available_index", want, indexString(avail, listed))
		}
	}
	unknown := func(field string, set map[uuid.UUID]bool) {
		for id := range set {
			if !known[id] {
				add(id, field, "no such mitra", "true")
			}
		}
	}
	unknown("online", d.Online)
	unknown("deactivated", d.Deactivated)
	unknown("at_capacity", d.AtCapacity)
	for id, score := range d.Index {
		if !known[id] {
			add(id, "heartbeat_index", "no such mitra", indexString(score, true))
		}
	}
	for id, score := range d.Available {
		if !known[id] {
			add(id, "available_index", "no such mitra", indexString(score, true))
		}
	}
	return diffs
}

func indexString(score int64, ok bool) string {
	if !ok {
		return "missing"
	}
	return FormatHeartbeat(time.UnixMilli(score))
}
