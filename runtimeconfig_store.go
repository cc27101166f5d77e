package curhat

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/curhat/curhat/internal/configsql"
)

// ConfigEntry is one stored row of app_config.
type ConfigEntry struct {
	Key       ConfigKey
	Value     json.RawMessage
	UpdatedAt time.Time
	UpdatedBy string
}

// ConfigStore is the durable home of the runtime settings (the app_config table). It stores
// what it is given: validation belongs to RuntimeConfig.
type ConfigStore interface {
	// List returns every stored entry, ordered by key (keys never set are absent).
	List(ctx context.Context) ([]ConfigEntry, error)
	// Get returns one entry, or ErrNotFound when the key was never set.
	Get(ctx context.Context, key ConfigKey) (ConfigEntry, error)
	// Put inserts or replaces the entry and returns it as stored, with UpdatedAt set by the
	// store (an empty UpdatedBy is stored as "system"). A value that is not JSON is refused
	// with a *ValidationError on field "value".
	Put(ctx context.Context, e ConfigEntry) (ConfigEntry, error)
}

const systemActor = "system"

// NewPostgresConfigStore returns the ConfigStore on the app_config table of db's
// search_path (a *pgxpool.Pool, or a pgx.Tx whose commit or rollback decides its writes).
func NewPostgresConfigStore(db DB) ConfigStore { return &pgConfigStore{db: db} }

// pgConfigStore is the ConfigStore over internal/configsql, which holds its SQL.
type pgConfigStore struct{ db DB }

func (s *pgConfigStore) List(ctx context.Context) ([]ConfigEntry, error) {
	rows, err := configsql.List(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("list app_config: %w", err)
	}
	entries := make([]ConfigEntry, len(rows))
	for i, r := range rows {
		entries[i] = fromRow(r)
	}
	return entries, nil
}

func (s *pgConfigStore) Get(ctx context.Context, key ConfigKey) (ConfigEntry, error) {
	r, err := configsql.Get(ctx, s.db, string(key))
	if err != nil {
		return ConfigEntry{}, fmt.Errorf("get app_config %s: %w", key, err)
	}
	return fromRow(r), nil
}

func (s *pgConfigStore) Put(ctx context.Context, e ConfigEntry) (ConfigEntry, error) {
	if !json.Valid(e.Value) {
		return ConfigEntry{}, Invalid("value", "must be JSON")
	}
	r, err := configsql.Put(ctx, s.db, configsql.Row{Key: string(e.Key), Value: e.Value, UpdatedBy: cmp.Or(e.UpdatedBy, systemActor)})
	if err != nil {
		return ConfigEntry{}, fmt.Errorf("put app_config %s: %w", e.Key, err)
	}
	return fromRow(r), nil
}

func fromRow(r configsql.Row) ConfigEntry {
	return ConfigEntry{Key: ConfigKey(r.Key), Value: json.RawMessage(r.Value), UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy}
}

// NewMemoryConfigStore returns an in-process ConfigStore that behaves like the Postgres one
// (for tests and the reference server without a database).
func NewMemoryConfigStore() ConfigStore { return &memoryConfigStore{rows: map[ConfigKey]ConfigEntry{}} }

type memoryConfigStore struct {
	mu   sync.Mutex
	rows map[ConfigKey]ConfigEntry
}

func (s *memoryConfigStore) List(ctx context.Context) ([]ConfigEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConfigEntry, 0, len(s.rows))
	for _, e := range s.rows {
		out = append(out, cloneEntry(e))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *memoryConfigStore) Get(ctx context.Context, key ConfigKey) (ConfigEntry, error) {
	if err := ctx.Err(); err != nil {
		return ConfigEntry{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.rows[key]
	if !ok {
		return ConfigEntry{}, fmt.Errorf("get app_config %s: %w", key, ErrNotFound)
	}
	return cloneEntry(e), nil
}

func (s *memoryConfigStore) Put(ctx context.Context, e ConfigEntry) (ConfigEntry, error) {
	if err := ctx.Err(); err != nil {
		return ConfigEntry{}, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, e.Value); err != nil {
		return ConfigEntry{}, Invalid("value", "must be JSON")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC().Truncate(time.Microsecond) // Postgres keeps microseconds
	if prev, ok := s.rows[e.Key]; ok && !now.After(prev.UpdatedAt) {
		now = prev.UpdatedAt.Add(time.Microsecond)
	}
	stored := ConfigEntry{Key: e.Key, Value: buf.Bytes(), UpdatedAt: now, UpdatedBy: e.UpdatedBy}
	if stored.UpdatedBy == "" {
		stored.UpdatedBy = systemActor
	}
	s.rows[e.Key] = stored
	return cloneEntry(stored), nil
}

func cloneEntry(e ConfigEntry) ConfigEntry {
	e.Value = append(json.RawMessage(nil), e.Value...)
	return e
}
