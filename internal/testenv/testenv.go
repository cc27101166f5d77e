// Package testenv gives integration tests isolated Postgres schemas, isolated Valkey key
// namespaces and private redis-server processes. When a service cannot be reached a test
// is skipped with a clear message, or fails when CURHAT_REQUIRE_SERVICES=1 (CI).
package testenv

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valkey-io/valkey-go"

	migrations "github.com/curhat/curhat/internal/schema"
	"github.com/curhat/curhat/internal/valkeyutil"
)

// Defaults for the shared services of this machine.
const (
	DefaultDatabaseURL = "postgres://127.0.0.1:5432/test"
	DefaultValkeyURL   = "redis://127.0.0.1:6379"
)

// RequireServices reports whether a missing service must fail the test (CI).
func RequireServices() bool { return os.Getenv("CURHAT_REQUIRE_SERVICES") == "1" }

// DatabaseURL is TEST_DATABASE_URL or the local default.
func DatabaseURL() string { return cmp.Or(os.Getenv("TEST_DATABASE_URL"), DefaultDatabaseURL) }

// ValkeyURL is TEST_VALKEY_URL or the local default.
func ValkeyURL() string { return cmp.Or(os.Getenv("TEST_VALKEY_URL"), DefaultValkeyURL) }

// unavailable skips (or fails, under CURHAT_REQUIRE_SERVICES=1) the test.
func unavailable(t testing.TB, service string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s unavailable (%v); set TEST_DATABASE_URL / TEST_VALKEY_URL or start it", service, err)
	if RequireServices() {
		t.Fatalf("CURHAT_REQUIRE_SERVICES=1: %s", msg)
	}
	t.Skip("integration test skipped: " + msg)
}

// RandomSuffix returns n random hex bytes.
func RandomSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	adminOnce sync.Once
	adminPool *pgxpool.Pool
	adminErr  error
)

func admin() (*pgxpool.Pool, error) {
	adminOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(DatabaseURL())
		if err != nil {
			adminErr = err
			return
		}
		cfg.MaxConns = 4
		cfg.ConnConfig.ConnectTimeout = 3 * time.Second
		adminPool, adminErr = pgxpool.NewWithConfig(ctx, cfg)
		if adminErr == nil {
			adminErr = adminPool.Ping(ctx)
		}
	})
	return adminPool, adminErr
}

// DB is an isolated, migrated Postgres schema.
type DB struct {
	Pool   *pgxpool.Pool
	URL    string // connection URL whose search_path is the schema: open more pools with it
	Schema string
}

// PGOptions tunes Postgres.
type PGOptions struct {
	MaxConns  int32
	Configure func(*pgxpool.Config) // e.g. to install a tracer
}

// Postgres returns a pool on a schema of its own with every migration applied, holding
// what a freshly migrated schema holds. When the test ends the schema is emptied for a
// later test of the package (see pgschemas.go), or dropped if the test changed its shape.
func Postgres(t testing.TB) *DB { return PostgresWith(t, PGOptions{}) }

// PostgresWith is Postgres with options.
func PostgresWith(t testing.TB, o PGOptions) *DB {
	t.Helper()
	ap, err := admin()
	if err != nil {
		unavailable(t, "PostgreSQL at "+DatabaseURL(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	owner, err := schemaOwner(ctx, ap)
	if err != nil {
		t.Fatalf("schema owner lock: %v", err)
	}
	schema, reused := takeSchema()
	if !reused {
		schema = reusedSchemaPrefix + owner + "_" + RandomSuffix(6)
		if _, err := ap.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), recycleTimeout)
		defer cancel()
		if recycleSchema(ctx, ap, schema) {
			return
		}
		if _, err := ap.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(DatabaseURL())
	if err != nil {
		t.Fatalf("parse database url: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db := &DB{URL: u.String(), Schema: schema}

	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatalf("parse database url: %v", err)
	}
	cfg.MaxConns = 8
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.Configure != nil {
		o.Configure(cfg)
	}
	db.Pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(db.Pool.Close)
	if reused {
		return db
	}
	if _, err := migrations.Apply(ctx, db.Pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := noteFreshSchema(ctx, ap, schema); err != nil {
		t.Fatalf("note the migrated schema: %v", err)
	}
	return db
}

// Valkey is an isolated namespace on the shared Valkey server.
type Valkey struct {
	Client valkey.Client
	URL    string
	Prefix string // every key of the test starts with it
}

// Names returns the product key names under the test's prefix.
func (v *Valkey) Names() valkeyutil.Names { return valkeyutil.NewNames(v.Prefix, false) }

// NewValkey returns a client on the shared server and a unique key prefix; the keys under
// the prefix are deleted when the test ends.
func NewValkey(t testing.TB) *Valkey {
	t.Helper()
	v := &Valkey{URL: ValkeyURL(), Prefix: "t" + RandomSuffix(5) + ":"}
	c, err := valkeyutil.NewClient(valkeyutil.Options{URL: v.URL})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = c.Do(ctx, c.B().Ping().Build()).Error()
		cancel()
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		unavailable(t, "Valkey at "+v.URL, err)
	}
	v.Client = c
	t.Cleanup(func() {
		DeletePrefix(c, v.Prefix)
		// Tests may name keys in cluster form under the same prefix ({t…}:).
		DeletePrefix(c, valkeyutil.NewNames(v.Prefix, true).Prefix())
		c.Close()
	})
	return v
}

// ValkeyClient returns another client of the server at url (standalone, as
// valkeyutil.NewClient builds it), closed when the test ends: a second instance of a
// deployment has its own connections.
func ValkeyClient(t testing.TB, url string) valkey.Client {
	t.Helper()
	c, err := valkeyutil.NewClient(valkeyutil.Options{URL: url})
	if err != nil {
		t.Fatalf("connect to valkey at %s: %v", url, err)
	}
	t.Cleanup(c.Close)
	return c
}

// DeletePrefix deletes every key starting with prefix (SCAN + UNLINK).
func DeletePrefix(c valkey.Client, prefix string) {
	if prefix == "" || strings.ContainsAny(prefix, "*?[") {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return
		}
		// One pipelined round trip per scanned batch (UNLINK per key stays slot-safe in a
		// cluster): a benchmark leaves 100k+ keys behind.
		cmds := make(valkey.Commands, 0, len(e.Elements))
		for _, k := range e.Elements {
			cmds = append(cmds, c.B().Unlink().Key(k).Build())
		}
		if len(cmds) > 0 {
			c.DoMulti(ctx, cmds...)
		}
		cursor = e.Cursor
		if cursor == 0 {
			return
		}
	}
}
