package main

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// hubNotifier publishes the SDK's events (pairing and extensions alike) to the event
// streams of their recipients.
type hubNotifier struct {
	hub   *eventHub
	clock func() time.Time
}

var _ pairing.MitrasNotifier = hubNotifier{}

func (n hubNotifier) Notify(ctx context.Context, e pairing.Event) {
	frame := n.frame(e)
	if e.ClientID != nil {
		n.hub.publishTo(ctx, e.Kind(), SubjectClient, []uuid.UUID{*e.ClientID}, frame)
	}
	if e.MitraID != nil {
		n.hub.publishTo(ctx, e.Kind(), SubjectMitra, []uuid.UUID{*e.MitraID}, frame)
	}
}

// NotifyMitras sends one event to many mitras (a blast's offers, their dismissals): it is
// encoded once and published in one bus message, whatever the number of mitras.
func (n hubNotifier) NotifyMitras(ctx context.Context, e pairing.Event, mitras []uuid.UUID) {
	n.hub.publishTo(ctx, e.Kind(), SubjectMitra, mitras, n.frame(e))
}

// frame is the event's SSE frame: its data is the payload, encoded as it is.
func (n hubNotifier) frame(e pairing.Event) []byte {
	return encodeFrame(e.Kind(), e.Payload, n.clock())
}
