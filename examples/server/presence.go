package main

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
)

// A mitra's event streams hear of a presence change the mitra made through the API at once.
// A stream's presence event follows the refreshes of its device's lease, and a refresh
// pass runs every 10 s by default (half MITRA_RECONNECT_GRACE_SECONDS); so after going
// online or offline (every device, or one signing off) the instance that wrote the change
// sends the mitra's id on the bus, and every instance refreshes the leases of the
// mitra's streams it holds (availability.Mirror.RefreshStreams): a stream whose presence
// changed gets its event then. An instance without a stream of the mitra does nothing. A
// message lost (the bus down, a subscriber behind) costs the delay of the next pass, no
// more. Heartbeats, the hot path, send nothing: a device that signed off and pings again
// learns it from the heartbeat's answer.

// presenceTopic carries the ids of mitras whose presence changed (16 bytes).
const presenceTopic = "presence"

// presenceRefreshTimeout bounds the refresh one message asks for: the subscription's
// messages wait behind it.
const presenceRefreshTimeout = time.Second

// followPresence refreshes the streams of the mitras named on the bus until ctx ends.
func (a *App) followPresence(ctx context.Context) {
	_ = a.bus.Subscribe(ctx, presenceTopic, curhat.BusHandler{
		Message: func(raw []byte) {
			id, err := uuid.FromBytes(raw)
			if err != nil {
				return
			}
			rctx, cancel := context.WithTimeout(ctx, presenceRefreshTimeout)
			defer cancel()
			if err := a.mirror.RefreshStreams(rctx, id); err != nil && ctx.Err() == nil {
				a.log.WarnContext(rctx, "presence change: the mitra's streams learn it at the next refresh pass",
					"mitra", id, "err", err)
			}
		},
		Reset: func(r curhat.BusReset) { a.presenceFollowed.Store(r.Subscribed) },
	})
}

// presenceChanged tells every instance that the mitra's presence changed.
func (a *App) presenceChanged(ctx context.Context, id uuid.UUID) {
	if err := a.bus.Publish(ctx, presenceTopic, id[:]); err != nil {
		a.log.WarnContext(ctx, "presence change not published: the mitra's streams learn it at the next refresh pass",
			"mitra", id, "err", err)
	}
}
