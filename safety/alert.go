package safety

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// Errors of the alerts, the curhat sentinels (errors.Is works with either name).
var (
	// ErrNotFound: no such alert, or no such chat session for a new one.
	ErrNotFound = core.ErrNotFound
	// ErrUnavailable: the store cannot be reached; retry later.
	ErrUnavailable = core.ErrUnavailable
)

// AlertStatus is where an alert stands: open until an operator acknowledges it.
type AlertStatus string

const (
	AlertOpen         AlertStatus = "open"
	AlertAcknowledged AlertStatus = "acknowledged"
)

// Alert is one safety_alerts row: a client's message matched a crisis term, and an
// operator should look at the session.
type Alert struct {
	ID uuid.UUID
	// MessageID is the message that raised it (one alert per message); ChatSessionID its
	// session, ClientID (who wrote it) and MitraID its parties.
	MessageID     uuid.UUID
	ChatSessionID uuid.UUID
	ClientID      uuid.UUID
	MitraID       uuid.UUID
	// Terms are the crisis terms the message matched, as configured when it was sent (the
	// operator sees why without reading the conversation). Never nil.
	Terms     []string
	Status    AlertStatus
	CreatedAt time.Time
	// AcknowledgedAt and AcknowledgedBy (the operator, as the host names it) are set once
	// an operator acknowledged it.
	AcknowledgedAt *time.Time
	AcknowledgedBy string
}

// Bounds of a page of alerts (AlertQuery.PageSize).
const (
	DefaultAlertPageSize = 50
	MaxAlertPageSize     = 200
)

// AlertQuery selects a page of alerts, newest first.
type AlertQuery struct {
	// Status: only the alerts in it ("": every one).
	Status AlertStatus
	// Page is 1-based (0: the first); PageSize 1..MaxAlertPageSize (0:
	// DefaultAlertPageSize).
	Page, PageSize int
}

func (q AlertQuery) validate() error {
	switch {
	case q.Status != "" && q.Status != AlertOpen && q.Status != AlertAcknowledged:
		return core.Invalid("status", "must be %q or %q, not %q", AlertOpen, AlertAcknowledged, q.Status)
	case q.Page < 0:
		return core.Invalid("page", "must not be negative, not %d", q.Page)
	case q.PageSize < 0 || q.PageSize > MaxAlertPageSize:
		return core.Invalid("page_size", "must be between 1 and %d, not %d", MaxAlertPageSize, q.PageSize)
	}
	return nil
}

// AlertsDeps are what Alerts works with besides its store; both are optional. Settings
// (*curhat.RuntimeConfig) gives the crisis terms and the resources text (DefaultSettings
// when nil); Notifier sends the client its SafetyResourcesEvent and, when it is an
// AlertNotifier, the operators each new alert (dropped when nil).
type AlertsDeps struct {
	Settings Settings
	Notifier pairing.Notifier
}

// AlertsConfig configures Alerts. The zero value (or nil) works.
type AlertsConfig struct {
	// Logger receives what Alerts cannot return. Defaults to discarding.
	Logger *slog.Logger
	// Clock stamps the alerts and their acknowledgements. Defaults to the wall clock.
	Clock clock.Clock
}

// Alerts acts on crisis messages and keeps the operators' queue of them. As the chat
// service's chat.FlagHandler it is told of every flagged message once stored; for a
// client's message flagged FlagCrisis — by the Screener, or by a host's own screener that
// sets the same flag — it
//
//  1. sends the client a SafetyResourcesEvent with the safety_resources_text, first, so
//     that help does not wait for anything else;
//  2. stores an open Alert for the message (one per message: a resend of it finds the one
//     stored), with the crisis terms it holds;
//  3. tells the operators of a new alert when its Notifier is an AlertNotifier.
//
// When storing fails, MessageFlagged returns the error and the chat service returns it
// from the send (the message itself is stored): the app sends it again (the same
// client_msg_id), the resend is a replay, and the alert is stored then. Operators list the
// alerts (List) and acknowledge them (Ack).
//
// It is safe for concurrent use, also by several instances over one store.
type Alerts struct {
	store    AlertStore
	settings Settings
	notifier pairing.Notifier
	terms    *Screener
	log      *slog.Logger
	clock    clock.Clock
}

var _ chat.FlagHandler = (*Alerts)(nil)

// NewAlerts returns Alerts over store (NewPostgresAlertStore, or NewMemoryAlertStore). cfg
// may be nil. It fails, naming the field, when store is nil.
func NewAlerts(store AlertStore, deps AlertsDeps, cfg *AlertsConfig) (*Alerts, error) {
	if store == nil {
		return nil, fmt.Errorf("safety.NewAlerts: %w", core.Required("store", true))
	}
	c := core.Deref(cfg)
	a := &Alerts{store: store, settings: deps.Settings, notifier: deps.Notifier, log: core.LoggerOr(c.Logger),
		clock: clock.Or(c.Clock)}
	if a.settings == nil {
		a.settings = DefaultSettings{}
	}
	if a.notifier == nil {
		a.notifier = pairing.DiscardNotifier{}
	}
	a.terms = NewScreener(a.settings)
	return a, nil
}

// MessageFlagged acts on a stored message a screener flagged: see Alerts. Anything but a
// client's message flagged FlagCrisis is left alone.
func (a *Alerts) MessageFlagged(ctx context.Context, f chat.Flagged) error {
	m := f.Message
	if m.Sender != pairing.PartyClient || !slices.Contains(m.Flags, FlagCrisis) {
		return nil
	}
	a.notifier.Notify(ctx, pairing.Event{ClientID: &f.ClientID, Payload: SafetyResourcesEvent{
		ChatSessionID: m.ChatSessionID, MessageID: m.ID, Text: a.settings.SafetyResourcesText(ctx)}})
	terms := a.terms.CrisisTerms(ctx, m.Text)
	if terms == nil {
		terms = []string{}
	}
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	alert, created, err := a.store.Raise(ctx, Alert{ID: id, MessageID: m.ID, ChatSessionID: m.ChatSessionID,
		ClientID: f.ClientID, MitraID: f.MitraID, Terms: terms, Status: AlertOpen, CreatedAt: a.now()})
	if err != nil {
		return fmt.Errorf("raise the safety alert of message %s: %w", m.ID, err)
	}
	if !created {
		return nil
	}
	a.log.InfoContext(ctx, "safety alert raised", "alert_id", alert.ID, "chat_session_id", alert.ChatSessionID,
		"message_id", alert.MessageID)
	if n, ok := a.notifier.(AlertNotifier); ok {
		n.NotifyAlert(ctx, alert)
	}
	return nil
}

// List returns a page of alerts, newest first, and how many match q in all.
func (a *Alerts) List(ctx context.Context, q AlertQuery) ([]Alert, int, error) {
	if err := q.validate(); err != nil {
		return nil, 0, err
	}
	q.Page, q.PageSize = max(q.Page, 1), cmp.Or(q.PageSize, DefaultAlertPageSize)
	items, total, err := a.store.List(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list safety alerts: %w", err)
	}
	return items, total, nil
}

// Get returns one alert, or ErrNotFound.
func (a *Alerts) Get(ctx context.Context, id uuid.UUID) (Alert, error) {
	out, err := a.store.Get(ctx, id)
	if err != nil {
		return Alert{}, fmt.Errorf("safety alert %s: %w", id, err)
	}
	return out, nil
}

// Ack records that an operator (by, as the host names it: required) looked at an alert.
// It is idempotent: an alert acknowledged before is returned as it is, with who
// acknowledged it first and when (changed false). ErrNotFound for an unknown alert.
func (a *Alerts) Ack(ctx context.Context, id uuid.UUID, by string) (alert Alert, changed bool, err error) {
	if by == "" {
		return Alert{}, false, core.Invalid("by", "is required: who acknowledges the alert")
	}
	alert, changed, err = a.store.Ack(ctx, id, by, a.now())
	if err != nil {
		return Alert{}, false, fmt.Errorf("acknowledge safety alert %s: %w", id, err)
	}
	return alert, changed, nil
}

// now is the clock's time at Postgres precision, so that both stores compare alike.
func (a *Alerts) now() time.Time { return a.clock.Now().UTC().Truncate(time.Microsecond) }
