package availability

import (
	"context"
	"time"
)

// Wrap-up (SPEC §26, runtime setting mitra_wrapup_seconds through Config.Wrapup): for that
// long after one of its chat sessions ends (status ended, whatever the reason), a mitra is
// offered nothing and not counted available. The mirror treats it as at capacity
// (MitraState.InWrapup makes AtCapacity true): every write of the mitra's state while the
// wrap-up lasts keeps it out of the available index and the available count, with no
// change to the Valkey scripts or keys; the Postgres reads (FindAvailable and
// CountAvailable when Valkey cannot answer, or without Valkey) leave it out by the same
// rule.
//
// The wrap-up ends by time alone, which writes nothing: whoever ended the session must
// re-sync the mitra when it ends (RecomputeCapacity). The pairing side does, with a timer
// per mitra and the timeouts sweep behind it.
//
// The rule is read from the chat sessions only while the wrap-up is above 0: otherwise the
// statements of the syncs, the seed and the reads are those without it, and the heartbeat
// and the beacon never read it at all.

// endedAfter is the wrap-up's cut: a mitra with a chat session that ended after it is in
// its wrap-up. The zero time when there is no wrap-up. It is taken from the clock at full
// precision: at the instant the wrap-up ends (ended_at + wrap-up), the mitra is out of it.
func (m *Mirror) endedAfter(ctx context.Context) time.Time {
	w := m.cfg.Wrapup(ctx)
	if w <= 0 {
		return time.Time{}
	}
	return m.cfg.Clock.Now().UTC().Add(-w)
}
