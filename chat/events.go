package chat

import (
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// Event kinds sent through the Notifier (as pairing.Event); each has its payload type
// below, named after it. Each goes to the other party of the session only.
const (
	// EventMessage: a message of the other party was stored. Delivered at least once: a
	// replay of the send (the same client_msg_id) sends it again; an app keeps the
	// messages by Seq.
	EventMessage = "message"
	// EventMessageRead: the other party's read mark moved (sent only when it moved).
	EventMessageRead = "message_read"
)

// MessageEvent is a message for the other party of its session.
type MessageEvent struct {
	ChatSessionID uuid.UUID     `json:"chat_session_id"`
	ID            uuid.UUID     `json:"id"`
	Seq           int64         `json:"seq"`
	Sender        pairing.Party `json:"sender"`
	Text          string        `json:"text"`
	Flags         []Flag        `json:"flags"`
	CreatedAt     time.Time     `json:"created_at"`
}

// MessageReadEvent tells one party that the other (Reader) read every message up to Seq.
type MessageReadEvent struct {
	ChatSessionID uuid.UUID     `json:"chat_session_id"`
	Reader        pairing.Party `json:"reader"`
	Seq           int64         `json:"seq"`
}

func (MessageEvent) EventKind() string     { return EventMessage }
func (MessageReadEvent) EventKind() string { return EventMessageRead }

func messageEvent(m Message) MessageEvent {
	return MessageEvent{ChatSessionID: m.ChatSessionID, ID: m.ID, Seq: m.Seq, Sender: m.Sender, Text: m.Text,
		Flags: m.Flags, CreatedAt: m.CreatedAt}
}
