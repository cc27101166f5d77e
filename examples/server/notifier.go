package main

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
)

// hubNotifier publishes the SDK's events (pairing and extensions alike) to the event
// streams of their recipients.
type hubNotifier struct {
	hub   *eventHub
	clock func() time.Time
}

func (n hubNotifier) Notify(ctx context.Context, e curhat.Event) {
	now := n.clock().UTC()
	data := eventData(e.Data, "pairing_id", e.PairingID, "chat_session_id", e.ChatSessionID, "extension_id", e.ExtensionID)
	if e.ClientID != nil {
		n.hub.publish(ctx, event{Kind: e.Kind, Recipient: SubjectClient, SubjectID: *e.ClientID, Data: data, At: now})
	}
	if e.MitraID != nil {
		n.hub.publish(ctx, event{Kind: e.Kind, Recipient: SubjectMitra, SubjectID: *e.MitraID, Data: data, At: now})
	}
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
