package safety

import "github.com/google/uuid"

// Event kinds sent through the Notifier (as pairing.Event); each has its payload type
// below, named after it.
const (
	// EventSafetyResources: the client's message matched a crisis term; the text is the
	// configured help (safety_resources_text). Sent to the client who wrote it, at once,
	// before the alert is stored; again if the same message is sent again.
	EventSafetyResources = "safety_resources"
	// EventWarning: an operator resolved a report against this party with OutcomeWarned
	// (Reports.Resolve). Sent to the reported party only, once the resolution is stored.
	EventWarning = "warning"
)

// SafetyResourcesEvent tells a client where to find help, after its message MessageID.
type SafetyResourcesEvent struct {
	ChatSessionID uuid.UUID `json:"chat_session_id"`
	MessageID     uuid.UUID `json:"message_id"`
	Text          string    `json:"text"`
}

func (SafetyResourcesEvent) EventKind() string { return EventSafetyResources }

// WarningEvent tells the reported party of a report that it is warned, in the operator's
// words (Note, the resolution's note).
type WarningEvent struct {
	ReportID uuid.UUID `json:"report_id"`
	Note     string    `json:"note"`
}

func (WarningEvent) EventKind() string { return EventWarning }
