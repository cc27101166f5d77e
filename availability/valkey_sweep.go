package availability

// What the sweeps read and write in ValkeyCache: the stale mitras and their removal
// (auto-offline), and every heartbeat (the heartbeat mirror).

import (
	"cmp"
	"context"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/valkeyutil"
)

func (v *ValkeyCache) StaleOnline(ctx context.Context, staleBefore time.Time) ([]uuid.UUID, error) {
	cutoff := staleBefore.UnixMilli()
	res := v.doMulti(ctx,
		v.c.B().Exists().Key(v.keys.marker).Build(),
		v.c.B().Zcount().Key(v.keys.index).Min("-inf").Max("("+strconv.FormatInt(cutoff, 10)).Build())
	if err := v.seeded(res[0]); err != nil {
		return nil, err
	}
	n, err := res[1].AsInt64()
	if err != nil || n == 0 {
		return nil, translate(err)
	}
	// The stale members are the lowest ranks. A member that pings meanwhile leaves that
	// prefix (and may shift a stale one out of the ranks read: it waits for the next run).
	zs, err := v.indexRange(ctx, v.keys.index, n)
	if err != nil {
		return nil, err
	}
	out := make([]uuid.UUID, 0, len(zs))
	for _, z := range zs {
		if int64(z.Score) < cutoff {
			if id, err := uuid.Parse(z.Member); err == nil {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

func (v *ValkeyCache) Offline(ctx context.Context, p OfflineParams) (revived, failed []uuid.UUID, err error) {
	ids := p.IDs
	per := max(v.cfg.ChunkSize/8, 1) // a removal costs about eight commands
	now := ms(p.At)
	var calls []valkeyutil.Call
	var groups [][]uuid.UUID
	for start := 0; start < len(ids); start += per {
		group := ids[start:min(start+per, len(ids))]
		keys := []string{v.keys.online, v.keys.index, v.keys.journal, v.keys.available, v.keys.availableSeq, v.keys.availableChanges, v.keys.unnamed}
		args := []string{FormatHeartbeat(p.StaleBefore), now}
		for _, id := range group {
			s := id.String()
			keys = append(keys, v.n.Heartbeat(s), v.n.Devices(s))
			args = append(args, s)
		}
		calls = append(calls, valkeyutil.Call{Keys: keys, Args: args})
		groups = append(groups, group)
	}
	for start := 0; start < len(calls); start += scriptsPerRoundTrip {
		end := min(start+scriptsPerRoundTrip, len(calls))
		for i, r := range v.execMulti(ctx, v.off, calls[start:end]) {
			ss, e := r.AsStrSlice()
			if e != nil {
				failed = append(failed, groups[start+i]...)
				err = cmp.Or(err, translate(e))
				continue
			}
			revived = append(revived, parseIDs(ss)...)
		}
	}
	return revived, failed, err
}

func (v *ValkeyCache) Heartbeats(ctx context.Context) ([]HeartbeatAt, error) {
	res := v.doMulti(ctx,
		v.c.B().Exists().Key(v.keys.marker).Build(),
		v.c.B().Zcard().Key(v.keys.index).Build())
	if err := v.seeded(res[0]); err != nil {
		return nil, err
	}
	n, err := res[1].AsInt64()
	if err != nil || n == 0 {
		return nil, translate(err)
	}
	zs, err := v.indexRange(ctx, v.keys.index, n)
	if err != nil {
		return nil, err
	}
	out := make([]HeartbeatAt, 0, len(zs))
	for _, z := range zs {
		id, err := uuid.Parse(z.Member)
		if err != nil || z.Score <= 0 || z.Score > math.MaxInt64 {
			continue
		}
		out = append(out, HeartbeatAt{MitraID: id, At: time.UnixMilli(int64(z.Score)).UTC()})
	}
	return out, nil
}
