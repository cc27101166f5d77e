package availability

// EventPresence is the kind of the event a host sends an app on its stream with what
// StreamParams.OnPresence reports; PresenceEvent is its payload.
const EventPresence = "presence"

// PresenceEvent tells a mitra's stream whether the mitra is online on the stream's
// device (Stream.Device, Stream.Online). Like the payloads of pairing.Event it carries
// the JSON names of the event's data, so a host encodes it as it is.
type PresenceEvent struct {
	DeviceID string `json:"device_id"`
	Online   bool   `json:"online"`
}

// EventKind is EventPresence.
func (PresenceEvent) EventKind() string { return EventPresence }
