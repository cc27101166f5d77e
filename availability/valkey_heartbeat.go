package availability

// The heartbeat hot path of ValkeyCache: one script, one round trip, the deactivation
// guard included; and the stored form of a heartbeat.

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// isoLayout is the heartbeat format existing deployments read: ISO-8601 UTC with milliseconds.
const isoLayout = "2006-01-02T15:04:05.000Z"

// FormatHeartbeat renders t the way mitra:heartbeat:<id> stores it.
func FormatHeartbeat(t time.Time) string { return t.UTC().Format(isoLayout) }

// ParseHeartbeat parses a mitra:heartbeat:<id> value.
func ParseHeartbeat(s string) (time.Time, error) {
	t, err := time.Parse(isoLayout, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	return t.UTC(), err
}

func (v *ValkeyCache) Heartbeat(ctx context.Context, p HeartbeatParams) (bool, error) {
	// The hot path: the two keys, the id and the time in both forms are one allocation,
	// the argument lists another.
	hbKey, devKey := v.keys.heartbeatPrefix, v.keys.devicesPrefix
	var scratch [64]byte
	var sb strings.Builder
	sb.Grow(len(hbKey) + len(devKey) + 2*36 + len(isoLayout) + 13)
	id := uuidAppend(scratch[:0], p.MitraID)
	sb.WriteString(hbKey)
	sb.Write(id)
	sb.WriteString(devKey)
	sb.Write(id)
	sb.Write(p.At.UTC().AppendFormat(scratch[:0], isoLayout))
	sb.Write(appendMillis13(scratch[:0], p.At))
	all := sb.String()
	idEnd := len(hbKey) + 36
	devEnd := idEnd + len(devKey) + 36
	isoEnd := devEnd + len(isoLayout)
	var lists [11]string
	keys, args := lists[:6], lists[6:]
	keys[0], keys[1], keys[2], keys[3], keys[4], keys[5] = v.keys.marker, v.keys.deactivated, all[:idEnd], v.keys.index, v.keys.available, all[idEnd:devEnd]
	args[0], args[1], args[2], args[3], args[4] = all[len(hbKey):idEnd], all[devEnd:isoEnd], all[isoEnd:], p.Device, strconv.Itoa(maxDevices(p.MaxDevices))
	n, err := v.hb.Exec(ctx, v.c, keys, args).AsInt64()
	if err != nil {
		return false, translate(err)
	}
	if n < 0 {
		return false, ErrDeactivated
	}
	return n == 1, nil
}

// appendMillis13 appends the unix milliseconds of t in at least 13 digits (zero-padded):
// the fixed width in which the device leases compare as strings (13 digits until 2286).
func appendMillis13(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	for lim := int64(1_000_000_000_000); lim > 1 && ms < lim; lim /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, ms, 10)
}

func maxDevices(n int) int {
	if n <= 0 {
		return DefaultMaxDevices
	}
	return n
}

// uuidAppend appends the canonical form of id (as id.String) to b.
func uuidAppend(b []byte, id uuid.UUID) []byte {
	var tmp [36]byte
	hex.Encode(tmp[0:8], id[0:4])
	tmp[8] = '-'
	hex.Encode(tmp[9:13], id[4:6])
	tmp[13] = '-'
	hex.Encode(tmp[14:18], id[6:8])
	tmp[18] = '-'
	hex.Encode(tmp[19:23], id[8:10])
	tmp[23] = '-'
	hex.Encode(tmp[24:], id[10:])
	return append(b, tmp[:]...)
}
