package availability

// Mirror writes of ValkeyCache: the whole state of committed mitras, one script each.

import (
	"context"
	"strconv"
	"time"

	"github.com/curhat/curhat/internal/valkeyutil"
)

// journalRetention is how long the sync journal remembers a write (a seed longer than this
// could miss a racing write; seeds take seconds).
const journalRetention = 10 * time.Minute

func (v *ValkeyCache) Apply(ctx context.Context, p ApplyParams) error {
	now := ms(p.At)
	retention := strconv.FormatInt(journalRetention.Milliseconds(), 10)
	calls := make([]valkeyutil.Call, len(p.States))
	for i, st := range p.States {
		s := st.ID.String()
		calls[i] = valkeyutil.Call{
			Keys: []string{v.keys.online, v.keys.deactivated, v.keys.atCapacity, v.keys.index,
				v.n.Heartbeat(s), v.n.Capacity(s), v.keys.journal, v.keys.available,
				v.keys.availableSeq, v.keys.availableChanges, v.n.Devices(s), v.keys.unnamed},
			Args: []string{s, bit(st.IsActive), bit(st.IsOnline), heartbeatArg(st.LastHeartbeatAt),
				strconv.Itoa(st.OpenSessions), bit(st.AtCapacity(p.DefaultMax)), now, retention},
		}
	}
	return firstError(v.execMulti(ctx, v.apply, calls))
}
