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
		n.hub.publishTo(ctx, e.Kind, SubjectClient, []uuid.UUID{*e.ClientID}, frame)
	}
	if e.MitraID != nil {
		n.hub.publishTo(ctx, e.Kind, SubjectMitra, []uuid.UUID{*e.MitraID}, frame)
	}
}

// NotifyMitras sends one event to many mitras (a blast's offers, their dismissals): it is
// encoded once and published in one bus message, whatever the number of mitras.
func (n hubNotifier) NotifyMitras(ctx context.Context, e pairing.Event, mitras []uuid.UUID) {
	n.hub.publishTo(ctx, e.Kind, SubjectMitra, mitras, n.frame(e))
}

// frame is the event's SSE frame; its data carries the ids of what it is about.
func (n hubNotifier) frame(e pairing.Event) []byte {
	data := eventData(e.Data, "pairing_id", e.PairingID, "chat_session_id", e.ChatSessionID, "extension_id", e.ExtensionID)
	return encodeFrame(e.Kind, data, n.clock())
}

// eventData adds the ids to an event's data (as strings, absent when nil).
func eventData(data map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(data)+len(kv)/2)
	for k, v := range data {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if id, ok := kv[i+1].(*uuid.UUID); ok && id != nil {
			out[kv[i].(string)] = id.String()
		}
	}
	return out
}
