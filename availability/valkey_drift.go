package availability

// The dump of ValkeyCache behind Mirror.Drift: every key, read in small commands.

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/valkey-io/valkey-go"
)

// members reads a whole set with SSCAN (never one long SMEMBERS).
func (v *ValkeyCache) members(ctx context.Context, key string) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	var cursor uint64
	for {
		e, err := v.do(ctx, v.c.B().Sscan().Key(key).Cursor(cursor).Count(int64(v.cfg.ChunkSize)).Build()).AsScanEntry()
		if err != nil {
			return nil, translate(err)
		}
		for _, id := range parseIDs(e.Elements) {
			out[id] = true
		}
		if cursor = e.Cursor; cursor == 0 {
			return out, nil
		}
	}
}

func (v *ValkeyCache) Dump(ctx context.Context, ids []uuid.UUID) (Dump, error) {
	d := Dump{Index: map[uuid.UUID]int64{}, Available: map[uuid.UUID]int64{}, Heartbeats: map[uuid.UUID]time.Time{},
		Capacity: map[uuid.UUID]int{}, Devices: map[uuid.UUID][]DeviceLease{}}
	n, err := v.do(ctx, v.c.B().Exists().Key(v.keys.marker).Build()).AsInt64()
	if err != nil {
		return Dump{}, translate(err)
	}
	d.Seeded = n == 1
	if d.Online, err = v.members(ctx, v.keys.online); err != nil {
		return Dump{}, err
	}
	if d.Deactivated, err = v.members(ctx, v.keys.deactivated); err != nil {
		return Dump{}, err
	}
	if d.AtCapacity, err = v.members(ctx, v.keys.atCapacity); err != nil {
		return Dump{}, err
	}
	for key, into := range map[string]map[uuid.UUID]int64{v.keys.index: d.Index, v.keys.available: d.Available} {
		size, err := v.do(ctx, v.c.B().Zcard().Key(key).Build()).AsInt64()
		if err != nil {
			return Dump{}, translate(err)
		}
		zs, err := v.indexRange(ctx, key, size)
		if err != nil {
			return Dump{}, err
		}
		for _, z := range zs {
			if id, err := uuid.Parse(z.Member); err == nil {
				into[id] = int64(z.Score)
			}
		}
	}
	all := map[uuid.UUID]bool{}
	for _, id := range ids {
		all[id] = true
	}
	for id := range d.Online {
		all[id] = true
	}
	for id := range d.Index {
		all[id] = true
	}
	list := make([]uuid.UUID, 0, len(all))
	for id := range all {
		list = append(list, id)
	}
	for start := 0; start < len(list); start += v.cfg.ChunkSize {
		group := list[start:min(start+v.cfg.ChunkSize, len(list))]
		cmds := make(valkey.Commands, 0, 4*len(group))
		for _, id := range group {
			s := id.String()
			cmds = append(cmds, v.c.B().Get().Key(v.n.Heartbeat(s)).Build(), v.c.B().Get().Key(v.n.Capacity(s)).Build(),
				v.c.B().Hgetall().Key(v.n.Devices(s)).Build(), v.c.B().Hget().Key(v.keys.unnamed).Field(s).Build())
		}
		res := v.doMulti(ctx, cmds...)
		for i, id := range group {
			if raw, err := res[4*i].ToString(); err == nil {
				at, _ := ParseHeartbeat(raw)
				d.Heartbeats[id] = at
			} else if !valkey.IsValkeyNil(err) {
				return Dump{}, translate(err)
			}
			if c, err := res[4*i+1].AsInt64(); err == nil {
				d.Capacity[id] = int(c)
			} else if !valkey.IsValkeyNil(err) {
				return Dump{}, translate(err)
			}
			m, err := res[4*i+2].AsStrMap()
			if err != nil {
				return Dump{}, translate(err)
			}
			unnamed, err := res[4*i+3].ToString()
			if err != nil && !valkey.IsValkeyNil(err) {
				return Dump{}, translate(err)
			}
			if leases := parseLeases(m, unnamed); len(leases) > 0 {
				d.Devices[id] = leases
			}
		}
	}
	return d, nil
}
