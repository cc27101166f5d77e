package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/pgutil"
)

// requireLoopback refuses any target that is not on this machine.
func requireLoopback(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s %q: the load tool only targets loopback (127.0.0.1, ::1, localhost)", what, raw)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withParams returns raw with query parameters set.
func withParams(raw string, kv ...string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// withHost returns raw pointing at host:port.
func withHost(raw, hostport string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	u.Host = hostport
	return u.String(), nil
}

// dataset is one N: its own Postgres schema, Valkey key prefix and tokens.
type dataset struct {
	n          int
	schema     string
	schemaURL  string // search_path = schema
	prefix     string
	pool       *pgxpool.Pool
	queries    *pgutil.QueryCounter
	atCapacity int
	sample     []uuid.UUID // online mitras under capacity, pinged by the load
	mitraToks  []string    // one token per sample mitra
	clients    []uuid.UUID // the clients, in the order of clientToks
	clientToks []string
	insertedAt time.Time
}

// createDataset creates the schema (migrated), bulk-inserts n online mitras — heartbeats
// spread over the last 10 seconds, the first atCapacity of them at capacity with an active
// chat session — and tokens for a sample of the others and for clients.
func createDataset(ctx context.Context, admin *pgxpool.Pool, databaseURL string, n, atCapacity, tokens, clients int) (*dataset, error) {
	d := &dataset{n: n, schema: "loadtool_" + randomHex(5), prefix: "loadtool" + randomHex(4) + ":", queries: &pgutil.QueryCounter{}}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+d.schema); err != nil {
		return nil, fmt.Errorf("create schema: %w", err)
	}
	var err error
	if d.schemaURL, err = withParams(databaseURL, "search_path", d.schema); err != nil {
		return d, err
	}
	d.pool, err = pgutil.NewPool(ctx, d.schemaURL, func(c *pgxpool.Config) {
		c.MaxConns = 16
		c.ConnConfig.Tracer = d.queries
	})
	if err != nil {
		return d, err
	}
	if _, err := curhat.Migrate(ctx, d.pool); err != nil {
		return d, fmt.Errorf("migrate: %w", err)
	}
	if err := d.pool.QueryRow(ctx, `SELECT date_trunc('milliseconds', now())`).Scan(&d.insertedAt); err != nil {
		return d, err
	}
	// One statement for the mitras, one for the chat sessions that fill one in ten.
	if _, err := d.pool.Exec(ctx, `INSERT INTO mitras (display_name, is_online, last_heartbeat_at)
		SELECT 'mitra ' || g, true, $2::timestamptz - (g % 10000) * interval '1 millisecond'
		FROM generate_series(1, $1) AS g`, n, d.insertedAt); err != nil {
		return d, fmt.Errorf("insert mitras: %w", err)
	}
	d.atCapacity = atCapacity
	if _, err := d.pool.Exec(ctx, `WITH c AS (INSERT INTO clients (display_name) VALUES ('loadtool') RETURNING id),
		m AS (SELECT id FROM mitras ORDER BY id LIMIT $1),
		p AS (INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
			SELECT c.id, 'blast', 'matched', 15, m.id FROM c, m RETURNING id, client_id, matched_mitra_id)
		INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, pairing_id)
		SELECT client_id, matched_mitra_id, 'active', 15, id FROM p`, d.atCapacity); err != nil {
		return d, fmt.Errorf("insert chat sessions: %w", err)
	}
	if _, err := d.pool.Exec(ctx, `ANALYZE mitras; ANALYZE chat_sessions`); err != nil {
		return d, err
	}
	// The sample: mitras under capacity (the ids past the first tenth in id order).
	rows, err := d.pool.Query(ctx, `SELECT id FROM (SELECT id FROM mitras ORDER BY id OFFSET $1) s
		ORDER BY random() LIMIT $2`, d.atCapacity, tokens)
	if err != nil {
		return d, err
	}
	if d.sample, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
		return d, err
	}
	var clientIDs []uuid.UUID
	rows, err = d.pool.Query(ctx, `INSERT INTO clients (display_name)
		SELECT 'loadtool client ' || g FROM generate_series(1, $1) AS g RETURNING id`, clients)
	if err != nil {
		return d, err
	}
	if clientIDs, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
		return d, err
	}
	d.clients = clientIDs
	if d.mitraToks, err = d.insertTokens(ctx, "mitra", d.sample); err != nil {
		return d, err
	}
	if d.clientToks, err = d.insertTokens(ctx, "client", clientIDs); err != nil {
		return d, err
	}
	return d, nil
}

// insertTokens creates one auth session per subject (one statement) and returns the tokens.
func (d *dataset) insertTokens(ctx context.Context, kind string, ids []uuid.UUID) ([]string, error) {
	toks := make([]string, len(ids))
	hashes := make([]string, len(ids))
	for i := range ids {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		toks[i] = base64.RawURLEncoding.EncodeToString(b)
		h := sha256.Sum256([]byte(toks[i]))
		hashes[i] = hex.EncodeToString(h[:])
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO auth_sessions (subject_kind, subject_id, token_hash, expires_at)
		SELECT $1, s, h, now() + interval '1 day' FROM unnest($2::uuid[], $3::text[]) AS v(s, h)`, kind, ids, hashes)
	if err != nil {
		return nil, fmt.Errorf("insert %s tokens: %w", kind, err)
	}
	return toks, nil
}

// drop removes the schema and the keys of the dataset.
func (d *dataset) drop(admin *pgxpool.Pool, vc valkey.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if d.pool != nil {
		d.pool.Close()
	}
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+d.schema+" CASCADE"); err != nil {
		logf("drop schema %s: %v", d.schema, err)
	}
	if vc != nil {
		deletePrefix(ctx, vc, d.prefix)
	}
}

// deletePrefix deletes every key under prefix: SCAN pages, one UNLINK per page.
func deletePrefix(ctx context.Context, c valkey.Client, prefix string) {
	if prefix == "" || strings.ContainsAny(prefix, "*?[\\") {
		return
	}
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(5000).Build()).AsScanEntry()
		if err != nil {
			logf("delete keys %s*: %v", prefix, err)
			return
		}
		if len(e.Elements) > 0 {
			c.Do(ctx, c.B().Unlink().Key(e.Elements...).Build())
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}
