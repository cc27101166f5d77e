package curhat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/curhat/curhat/internal/pgutil"
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

type pgConfigStore struct{ db DB }

const (
	sqlConfigList = `SELECT key, value, updated_at, updated_by FROM app_config ORDER BY key`
	sqlConfigGet  = `SELECT key, value, updated_at, updated_by FROM app_config WHERE key = $1`
	// updated_at moves forward on every write, even two in the same microsecond, so that a
	// reader can order writes by it.
	sqlConfigPut = `
INSERT INTO app_config (key, value, updated_at, updated_by)
VALUES ($1, $2::jsonb, clock_timestamp(), $3)
ON CONFLICT (key) DO UPDATE
   SET value      = EXCLUDED.value,
       updated_at = greatest(EXCLUDED.updated_at, app_config.updated_at + interval '1 microsecond'),
       updated_by = EXCLUDED.updated_by
RETURNING key, value, updated_at, updated_by`
)

func (s *pgConfigStore) List(ctx context.Context) ([]ConfigEntry, error) {
	rows, err := s.db.Query(ctx, sqlConfigList)
	if err != nil {
		return nil, fmt.Errorf("list app_config: %w", translatePG(err))
	}
	entries, err := pgx.CollectRows(rows, scanConfigEntry)
	if err != nil {
		return nil, fmt.Errorf("list app_config: %w", translatePG(err))
	}
	return entries, nil
}

func (s *pgConfigStore) Get(ctx context.Context, key ConfigKey) (ConfigEntry, error) {
	rows, _ := s.db.Query(ctx, sqlConfigGet, string(key))
	e, err := pgx.CollectExactlyOneRow(rows, scanConfigEntry)
	if err != nil {
		return ConfigEntry{}, fmt.Errorf("get app_config %s: %w", key, translatePG(err))
	}
	return e, nil
}

func (s *pgConfigStore) Put(ctx context.Context, e ConfigEntry) (ConfigEntry, error) {
	if !json.Valid(e.Value) {
		return ConfigEntry{}, Invalid("value", "must be JSON")
	}
	by := e.UpdatedBy
	if by == "" {
		by = systemActor
	}
	rows, _ := s.db.Query(ctx, sqlConfigPut, string(e.Key), string(e.Value), by)
	out, err := pgx.CollectExactlyOneRow(rows, scanConfigEntry)
	if err != nil {
		return ConfigEntry{}, fmt.Errorf("put app_config %s: %w", e.Key, translatePG(err))
	}
	return out, nil
}

func scanConfigEntry(row pgx.CollectableRow) (ConfigEntry, error) {
	var (
		e     ConfigEntry
		key   string
		value []byte
	)
	if err := row.Scan(&key, &value, &e.UpdatedAt, &e.UpdatedBy); err != nil {
		return ConfigEntry{}, err
	}
	e.Key = ConfigKey(key)
	e.Value = json.RawMessage(value)
	return e, nil
}

// translatePG is pgutil.Translate, except that a value Postgres cannot read as JSON is
// the caller's "value" that is not JSON.
func translatePG(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22P02" { // invalid_text_representation
		return Invalid("value", "must be JSON")
	}
	return pgutil.Translate(err)
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
