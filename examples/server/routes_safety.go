package main

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/safety"
)

// Safety alerts (SPEC §25): a client's message that matched a crisis term. The SDK screens
// every message (contact details masked, the crisis flag; curhat.Config.Screener) and acts
// on the flag (safety.Alerts): the client gets safety_resources on its stream, an alert is
// stored, and every operator's stream gets safety_alert — through the bus, at once, on
// whichever instance the operator is connected to. Operators list the alerts and
// acknowledge them here.

func (s *Server) safetyRoutes() {
	s.handle("GET", "/api/internal/safety-alerts", roleViewer, s.listSafetyAlerts)
	s.handle("POST", "/api/internal/safety-alerts/{id}/ack", roleSupport, s.ackSafetyAlert)
}

// eventSafetyAlert is the operators' event of a new alert: the alert, as the list shows it.
const eventSafetyAlert = "safety_alert"

// safetyAlertJSON is an alert as the API answers it (the list, the acknowledgement, the
// safety_alert event).
type safetyAlertJSON struct {
	ID            uuid.UUID `json:"id"`
	MessageID     uuid.UUID `json:"message_id"`
	ChatSessionID uuid.UUID `json:"chat_session_id"`
	ClientID      uuid.UUID `json:"client_id"`
	MitraID       uuid.UUID `json:"mitra_id"`
	Terms         []string  `json:"terms"`
	Status        string    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
	// AcknowledgedAt and AcknowledgedBy (the operator's id; the nil UUID for the bootstrap
	// operator) are null while the alert is open.
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy *string    `json:"acknowledged_by"`
}

func toSafetyAlertJSON(a safety.Alert) safetyAlertJSON {
	out := safetyAlertJSON{ID: a.ID, MessageID: a.MessageID, ChatSessionID: a.ChatSessionID, ClientID: a.ClientID,
		MitraID: a.MitraID, Terms: a.Terms, Status: string(a.Status), CreatedAt: a.CreatedAt.UTC(),
		AcknowledgedAt: utcPtr(a.AcknowledgedAt)}
	if out.Terms == nil {
		out.Terms = []string{}
	}
	if a.AcknowledgedBy != "" {
		out.AcknowledgedBy = &a.AcknowledgedBy
	}
	return out
}

// listSafetyAlerts is GET /api/internal/safety-alerts?status=open|acknowledged&page=&page_size=:
// newest first (every status when none is given).
func (s *Server) listSafetyAlerts(w http.ResponseWriter, r *http.Request, _ caller) error {
	page, size, err := pageQuery(r, safety.DefaultAlertPageSize, safety.MaxAlertPageSize)
	if err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	items, total, err := s.app.client.SafetyAlerts().List(r.Context(), safety.AlertQuery{Status: safety.AlertStatus(status),
		Page: page, PageSize: size})
	if err != nil {
		return err
	}
	out := make([]safetyAlertJSON, len(items))
	for i, a := range items {
		out[i] = toSafetyAlertJSON(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": page, "page_size": size, "total": total})
	return nil
}

// ackSafetyAlert is POST /api/internal/safety-alerts/{id}/ack (no body): the alert,
// acknowledged by the caller — or, acknowledged before, as it is, naming who did it first
// (idempotent). Audited safety_alert.ack, the alert before and after.
func (s *Server) ackSafetyAlert(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	alerts := s.app.client.SafetyAlerts()
	before, err := alerts.Get(r.Context(), id)
	if err != nil {
		return err
	}
	after, _, err := alerts.Ack(r.Context(), id, c.changedBy())
	if err != nil {
		return err
	}
	out := toSafetyAlertJSON(after)
	s.audit(r, c, "safety_alert.ack", "safety_alert", id.String(), toSafetyAlertJSON(before), out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

var _ safety.AlertNotifier = hubNotifier{}

// NotifyAlert sends a new alert to every operator's event stream, on every instance.
func (n hubNotifier) NotifyAlert(ctx context.Context, a safety.Alert) {
	n.hub.publishToOperators(ctx, eventSafetyAlert, encodeFrame(eventSafetyAlert, toSafetyAlertJSON(a), n.clock()))
}
