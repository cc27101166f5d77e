package safety

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// AlertStore is the durable side of the alerts: the safety_alerts table. NewPostgresAlertStore
// is the Postgres implementation, NewMemoryAlertStore an in-memory one that behaves the
// same. Every call is atomic, so several instances may share one store;
// safetytest.RunAlertStoreContract pins the rules below.
type AlertStore interface {
	// Raise stores a (every field set, Status AlertOpen) unless an alert of a.MessageID is
	// stored already: it returns the alert stored — a, or the one before, unchanged — and
	// whether this call created it (also when two raises of one message race: one creates
	// it, the other returns it). ErrNotFound when a.ChatSessionID is no chat session.
	Raise(ctx context.Context, a Alert) (Alert, bool, error)
	// Get returns one alert, or ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (Alert, error)
	// List returns the page q.Page (1-based) of q.PageSize alerts in q.Status (every one
	// when ""), newest first (created_at, then id, descending), and how many there are in
	// all ([] when none).
	List(ctx context.Context, q AlertQuery) ([]Alert, int, error)
	// Ack moves an open alert to AlertAcknowledged, by and at, and returns it (changed
	// true); an acknowledged one is returned as it is (changed false). ErrNotFound for an
	// unknown id.
	Ack(ctx context.Context, id uuid.UUID, by string, at time.Time) (Alert, bool, error)
}
