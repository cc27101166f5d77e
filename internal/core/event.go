package core

import (
	"context"

	"github.com/google/uuid"
)

// Event is one realtime notification from a domain (pairing or extension). Its recipients
// are ClientID and/or MitraID (both set: both parties get it). The other ids say what it
// is about; Data repeats them as strings so that it stands alone as a payload.
type Event struct {
	Kind          string
	ClientID      *uuid.UUID
	MitraID       *uuid.UUID
	PairingID     *uuid.UUID
	ChatSessionID *uuid.UUID
	ExtensionID   *uuid.UUID
	Data          map[string]any
}

// Notifier delivers events, best effort: an app that misses one re-reads by polling.
type Notifier interface {
	Notify(ctx context.Context, e Event)
}

// DiscardNotifier drops every event.
type DiscardNotifier struct{}

func (DiscardNotifier) Notify(context.Context, Event) {}
