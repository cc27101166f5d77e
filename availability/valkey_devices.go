package availability

// The device leases of ValkeyCache beyond the heartbeat: the leases of event streams
// (refreshed in one pipeline per pass), the end of a lease (a device signing off, or a
// stream's reconnect grace passing) and the read of a mitra's leases.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/valkeyutil"
)

func (v *ValkeyCache) Streams(ctx context.Context, p StreamsParams) ([]StreamResult, error) {
	if len(p.Writes) == 0 {
		return nil, nil
	}
	iso, at := FormatHeartbeat(p.At), string(appendMillis13(nil, p.At))
	limit := strconv.Itoa(maxDevices(p.MaxDevices))
	calls := make([]valkeyutil.Call, len(p.Writes))
	for i, w := range p.Writes {
		s := w.MitraID.String()
		open := "1"
		if w.Closed {
			open = "0"
		}
		calls[i] = valkeyutil.Call{
			Keys: []string{v.keys.marker, v.keys.deactivated, v.n.Heartbeat(s), v.keys.index, v.keys.available, v.n.Devices(s)},
			Args: []string{s, iso, at, w.Device, open, limit},
		}
	}
	out := make([]StreamResult, len(p.Writes))
	// ChunkSize writes per round trip: each is a few microseconds of server time.
	per := max(v.cfg.ChunkSize, 1)
	for start := 0; start < len(calls); start += per {
		end := min(start+per, len(calls))
		for i, r := range v.execMulti(ctx, v.strm, calls[start:end]) {
			arr, err := r.ToArray()
			if err != nil {
				return nil, translate(err)
			}
			if len(arr) == 0 {
				return nil, fmt.Errorf("stream script: empty reply")
			}
			state, err := arr[0].AsInt64()
			if err != nil {
				return nil, err
			}
			res := &out[start+i]
			res.Deactivated = state < 0
			if state == 1 && len(arr) == 2 {
				res.Online = true
				part, err := arr[1].ToString()
				if err != nil {
					return nil, err
				}
				if t, ok := parseMillis13(part, 0); ok && p.Writes[start+i].Closed {
					res.ClosedAt = t
				}
			}
		}
	}
	return out, nil
}

func (v *ValkeyCache) EndDevice(ctx context.Context, p EndDeviceParams) (DeviceEnd, error) {
	s := p.MitraID.String()
	part := ""
	if p.StreamClosedAt != nil {
		part = string(appendMillis13(nil, *p.StreamClosedAt)) + ":0"
	}
	arr, err := v.end.Exec(ctx, v.c,
		[]string{v.keys.marker, v.n.Heartbeat(s), v.keys.index, v.keys.available, v.n.Devices(s), v.keys.unnamed},
		[]string{s, p.Device, part, ms(p.FreshAfter), strconv.Itoa(maxDevices(p.MaxDevices))}).ToArray()
	if err != nil {
		return DeviceEnd{}, translate(err)
	}
	if len(arr) == 0 {
		return DeviceEnd{}, fmt.Errorf("end device script: empty reply")
	}
	state, err := arr[0].AsInt64()
	if err != nil {
		return DeviceEnd{}, err
	}
	switch state {
	case 0:
		return DeviceEnd{}, nil
	case 2:
		return DeviceEnd{Online: true, Reconnected: true}, nil
	case -1:
		return DeviceEnd{Online: true, Last: true}, nil
	}
	if len(arr) != 2 {
		return DeviceEnd{}, fmt.Errorf("end device script: unexpected reply of %d elements", len(arr))
	}
	hb, err := arr[1].AsInt64()
	if err != nil {
		return DeviceEnd{}, err
	}
	return DeviceEnd{Online: true, Heartbeat: time.UnixMilli(hb).UTC()}, nil
}

func (v *ValkeyCache) Devices(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]DeviceLease, error) {
	cmds := make(valkey.Commands, 0, 1+2*len(ids))
	cmds = append(cmds, v.c.B().Exists().Key(v.keys.marker).Build())
	for _, id := range ids {
		s := id.String()
		cmds = append(cmds, v.c.B().Hgetall().Key(v.n.Devices(s)).Build(), v.c.B().Hget().Key(v.keys.unnamed).Field(s).Build())
	}
	res := v.doMulti(ctx, cmds...)
	if err := v.seeded(res[0]); err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID][]DeviceLease, len(ids))
	for i, id := range ids {
		m, err := res[1+2*i].AsStrMap()
		if err != nil {
			return nil, translate(err)
		}
		unnamed, err := res[2+2*i].ToString()
		if err != nil && !valkey.IsValkeyNil(err) {
			return nil, translate(err)
		}
		if leases := parseLeases(m, unnamed); len(leases) > 0 {
			out[id] = leases
		}
	}
	return out, nil
}

// parseLeases reads the fields of a mitra:devices:<id> hash (see luaDevices; the layout
// before, both parts in the device's field, read too) and the mitra's unnamed lease
// (unix ms, "" for none). Unreadable values are skipped.
func parseLeases(m map[string]string, unnamed string) []DeviceLease {
	out := make([]DeviceLease, 0, len(m)+1)
	for field, raw := range m {
		device, isStream := strings.CutSuffix(field, ":s")
		if isStream {
			if _, ok := m[device]; ok {
				continue // read with the device's heartbeat field
			}
			raw = ""
		}
		l := DeviceLease{Device: device}
		ok := true
		if raw != "" {
			l.Heartbeat, ok = parseMillis13(raw, 0)
		}
		part, has := m[device+":s"]
		if !has && len(raw) == 29 {
			part, has = raw[14:], true
		}
		if has {
			st, okStream := parseMillis13(part, 0)
			if okStream && len(part) == 15 {
				l.Stream, l.StreamOpen = st, part[14] == '1'
			} else {
				ok = false
			}
		}
		if ok {
			out = append(out, l)
		}
	}
	if ms, ok := parseMillis13(unnamed, 0); ok && len(unnamed) == 13 {
		at := slices.IndexFunc(out, func(l DeviceLease) bool { return l.Device == UnnamedDevice })
		switch {
		case at < 0:
			out = append(out, DeviceLease{Device: UnnamedDevice, Heartbeat: ms})
		case out[at].Lease().Before(ms):
			out[at] = DeviceLease{Device: UnnamedDevice, Heartbeat: ms}
		}
	}
	return out
}

// parseMillis13 reads 13 digits of unix milliseconds at raw[at:]: zero (all zeros) is the
// zero time.
func parseMillis13(raw string, at int) (time.Time, bool) {
	if len(raw) < at+13 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(raw[at:at+13], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	if n == 0 {
		return time.Time{}, true
	}
	return time.UnixMilli(n).UTC(), true
}
