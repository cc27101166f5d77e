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

// isoLayout is the heartbeat format of SPEC §4: ISO-8601 UTC with milliseconds.
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

func (v *ValkeyCache) Heartbeat(ctx context.Context, id uuid.UUID, at time.Time) (bool, error) {
	// The hot path: the key, the id and the time in both forms are one allocation, the
	// argument lists another.
	hbKey := v.keys.heartbeatPrefix
	var scratch [64]byte
	var sb strings.Builder
	sb.Grow(len(hbKey) + 36 + len(isoLayout) + 13)
	sb.WriteString(hbKey)
	sb.Write(uuidAppend(scratch[:0], id))
	sb.Write(at.UTC().AppendFormat(scratch[:0], isoLayout))
	sb.Write(strconv.AppendInt(scratch[:0], at.UnixMilli(), 10))
	all := sb.String()
	idEnd := len(hbKey) + 36
	isoEnd := idEnd + len(isoLayout)
	var lists [8]string
	keys, args := lists[:5], lists[5:]
	keys[0], keys[1], keys[2], keys[3], keys[4] = v.keys.marker, v.keys.deactivated, all[:idEnd], v.keys.index, v.keys.available
	args[0], args[1], args[2] = all[len(hbKey):idEnd], all[idEnd:isoEnd], all[isoEnd:]
	n, err := v.hb.Exec(ctx, v.c, keys, args).AsInt64()
	if err != nil {
		return false, translate(err)
	}
	if n < 0 {
		return false, ErrDeactivated
	}
	return n == 1, nil
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
