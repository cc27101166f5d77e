package safety

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
)

// MemoryAlertStore is an in-memory AlertStore over a memdb database: its table
// safety_alerts (and the unique index of its messages), with the foreign key into
// chat_sessions checked as Postgres does when the pairing store's table is in the same
// database (curhat.NewMemoryClient builds it so).
type MemoryAlertStore struct {
	db        *memdb.DB
	alerts    memdb.Table[uuid.UUID, Alert]
	byMessage memdb.Table[uuid.UUID, uuid.UUID] // safety_alerts_message_uidx: message → alert
}

var _ AlertStore = (*MemoryAlertStore)(nil)

// NewMemoryAlertStore returns an empty store over a database of its own (no chat session
// is checked: there are none).
func NewMemoryAlertStore() *MemoryAlertStore { return NewMemoryAlertStoreIn(memdb.New()) }

// NewMemoryAlertStoreIn returns a MemoryAlertStore over db, whose tables it shares with
// the stores of the other domains built over it, and with any other MemoryAlertStore over
// db (a second instance).
func NewMemoryAlertStoreIn(db *memdb.DB) *MemoryAlertStore {
	return &MemoryAlertStore{
		db: db,
		alerts: memdb.NewTable[uuid.UUID, Alert](db, "safety_alerts", func(a Alert) memdb.Row {
			return memdb.Row{"message_id": a.MessageID, "chat_session_id": a.ChatSessionID, "client_id": a.ClientID,
				"status": string(a.Status), "created_at": a.CreatedAt}
		}),
		byMessage: memdb.NewTable[uuid.UUID, uuid.UUID](db, "safety_alerts_message_uidx", nil),
	}
}

func (s *MemoryAlertStore) Raise(_ context.Context, a Alert) (Alert, bool, error) {
	tx := s.db.Begin()
	defer tx.End()
	if id, ok := s.byMessage[a.MessageID]; ok {
		return cloneAlert(s.alerts[id]), false, nil
	}
	if tx.Missing("chat_sessions", a.ChatSessionID) {
		return Alert{}, false, fmt.Errorf("raise safety alert: chat session %s: %w", a.ChatSessionID, ErrNotFound)
	}
	if _, dup := s.alerts[a.ID]; dup {
		return Alert{}, false, fmt.Errorf("raise safety alert: id %s taken: %w", a.ID, core.ErrConflict)
	}
	a = cloneAlert(a)
	a.Status, a.AcknowledgedAt, a.AcknowledgedBy = AlertOpen, nil, ""
	a.CreatedAt = a.CreatedAt.UTC().Truncate(time.Microsecond)
	s.alerts[a.ID] = a
	s.byMessage[a.MessageID] = a.ID
	return cloneAlert(a), true, nil
}

func (s *MemoryAlertStore) Get(_ context.Context, id uuid.UUID) (Alert, error) {
	defer s.db.Begin().End()
	a, ok := s.alerts[id]
	if !ok {
		return Alert{}, fmt.Errorf("get safety alert %s: %w", id, ErrNotFound)
	}
	return cloneAlert(a), nil
}

func (s *MemoryAlertStore) List(_ context.Context, q AlertQuery) ([]Alert, int, error) {
	defer s.db.Begin().End()
	var rows []Alert
	for _, a := range s.alerts {
		if q.Status == "" || a.Status == q.Status {
			rows = append(rows, a)
		}
	}
	slices.SortFunc(rows, func(a, b Alert) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID.String(), a.ID.String())
	})
	page := memdb.Page(rows, q.Page, q.PageSize, DefaultAlertPageSize)
	out := make([]Alert, len(page))
	for i, a := range page {
		out[i] = cloneAlert(a)
	}
	return out, len(rows), nil
}

func (s *MemoryAlertStore) Ack(_ context.Context, id uuid.UUID, by string, at time.Time) (Alert, bool, error) {
	defer s.db.Begin().End()
	a, ok := s.alerts[id]
	if !ok {
		return Alert{}, false, fmt.Errorf("acknowledge safety alert %s: %w", id, ErrNotFound)
	}
	if a.Status == AlertAcknowledged {
		return cloneAlert(a), false, nil
	}
	at = at.UTC().Truncate(time.Microsecond)
	a.Status, a.AcknowledgedAt, a.AcknowledgedBy = AlertAcknowledged, &at, by
	s.alerts[id] = a
	return cloneAlert(a), true, nil
}

func cloneAlert(a Alert) Alert {
	a.Terms = append([]string{}, a.Terms...)
	if a.AcknowledgedAt != nil {
		a.AcknowledgedAt = new(*a.AcknowledgedAt)
	}
	return a
}
