package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// testServer is a reference server behind httptest with helpers to call it.
type testServer struct {
	t     *testing.T
	app   *App
	srv   *Server
	http  *httptest.Server
	clock *clock.Fake
	op    string // operator token
}

type backend int

const (
	memoryBackend backend = iota
	realBackend           // Postgres + Valkey (skips without them)
)

func (b backend) String() string { return [...]string{"memory", "postgres+valkey"}[b] }

// bothBackends runs fn against the in-memory server and the Postgres + Valkey one.
func bothBackends(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	for _, b := range []backend{memoryBackend, realBackend} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			fn(t, newTestServer(t, b))
		})
	}
}

type serverOption func(*Config)

// newTestServer starts an App (sweeps off, fake clock) and an httptest server over it.
func newTestServer(t *testing.T, b backend, opts ...serverOption) *testServer {
	t.Helper()
	return startTestServer(t, b, slog.New(slog.DiscardHandler), nil, opts...)
}

// newTestServerWith is newTestServer with seams: seam, when set, adjusts the App's test
// options (the gateway, for example) before the App is built.
func newTestServerWith(t *testing.T, b backend, seam func(*appOptions), opts ...serverOption) *testServer {
	t.Helper()
	return startTestServer(t, b, slog.New(slog.DiscardHandler), seam, opts...)
}

// newLoggedTestServer is newTestServer with the App logging to log.
func newLoggedTestServer(t *testing.T, b backend, log *slog.Logger, opts ...serverOption) *testServer {
	t.Helper()
	return startTestServer(t, b, log, nil, opts...)
}

func startTestServer(t *testing.T, b backend, log *slog.Logger, seam func(*appOptions), opts ...serverOption) *testServer {
	t.Helper()
	app, clk := startTestApp(t, b, log, seam, opts...)
	srv := NewServer(app)
	hs := httptest.NewServer(contractHandler(t, srv))
	t.Cleanup(hs.Close) // before the App closes: cleanups run last-in first-out
	if app.checkout != nil {
		app.checkout.setBase(hs.URL) // checkout_url opens this server's page
	}
	return &testServer{t: t, app: app, srv: srv, http: hs, clock: clk, op: app.cfg.OperatorToken}
}

// newTestApp starts an App (sweeps off, fake clock), closed when the test ends.
func newTestApp(t *testing.T, b backend, opts ...serverOption) (*App, *clock.Fake) {
	t.Helper()
	return startTestApp(t, b, slog.New(slog.DiscardHandler), nil, opts...)
}

func startTestApp(t *testing.T, b backend, log *slog.Logger, seam func(*appOptions), opts ...serverOption) (*App, *clock.Fake) {
	t.Helper()
	cfg, err := configFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	cfg.DemoData = false
	cfg.Sweeps = false
	clk := clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	appOpts := appOptions{Clock: clk, WrapHandler: func(h http.Handler) http.Handler { return contractHandler(t, h) }}
	if b == realBackend {
		counter := &pgutil.QueryCounter{}
		db := testenv.PostgresWith(t, testenv.PGOptions{Configure: func(c *pgxpool.Config) { c.ConnConfig.Tracer = counter }})
		appOpts.PGCounter = counter
		vk := testenv.NewValkey(t)
		cfg.InMemory = false
		cfg.DatabaseURL = db.URL
		cfg.ValkeyURL = vk.URL
		cfg.ValkeyKeyPrefix = vk.Prefix
		appOpts.Pool = db.Pool
	}
	for _, o := range opts {
		o(&cfg)
	}
	if seam != nil {
		seam(&appOpts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := NewApp(ctx, cfg, log, appOpts)
	require.NoError(t, err)
	t.Cleanup(func() { app.Close(context.Background()) })
	require.NoError(t, app.Start(ctx))
	// The tests begin once the bus subscriptions are up: one that came up later would drop
	// the token and config caches (as it must), costing a test that counts Postgres
	// statements a lookup, and until then a token is trusted from memory for a second only.
	require.Eventually(t, app.busFollowed, 10*time.Second, time.Millisecond, "bus subscriptions up")
	return app, clk
}

// busFollowed reports whether every bus subscription of the App is up.
func (a *App) busFollowed() bool {
	return a.auth.revocationsFollowed() && a.events.following.Load() && a.presenceFollowed.Load() && a.runtime.Subscribed()
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// ErrorCode returns error.code of an error body.
func (r response) ErrorCode() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// do sends a request; body may be nil, a string (sent raw) or a value (JSON-encoded).
func (ts *testServer) do(method, path, token string, body any) response {
	ts.t.Helper()
	return ts.doWith(method, path, token, body)
}

// doWith is do with request headers: name, value, … (a name may repeat).
func (ts *testServer) doWith(method, path, token string, body any, header ...string) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(ts.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.http.URL+path, rd)
	require.NoError(ts.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header[header[i]] = append(req.Header[header[i]], header[i+1])
	}
	resp, err := ts.http.Client().Do(req)
	require.NoError(ts.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(ts.t, err)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(ts.t, json.Unmarshal(raw, &out.Body), "body: %s", raw)
	}
	return out
}

// must sends a request and requires the status.
func (ts *testServer) must(status int, method, path, token string, body any) map[string]any {
	ts.t.Helper()
	r := ts.do(method, path, token, body)
	require.Equal(ts.t, status, r.Status, "%s %s: %s", method, path, r.Raw)
	return r.Body
}

// newMitra creates a mitra through the API and returns its id and a token.
func (ts *testServer) newMitra(name string) (uuid.UUID, string) {
	ts.t.Helper()
	m := ts.must(201, "POST", "/api/internal/mitras", ts.op, map[string]any{"display_name": name})
	id := uuid.MustParse(m["id"].(string))
	return id, ts.token("mitra", id)
}

// newClient creates a client through the API and returns its id and a token.
func (ts *testServer) newClient(name string) (uuid.UUID, string) {
	ts.t.Helper()
	c := ts.must(201, "POST", "/api/internal/clients", ts.op, map[string]any{"display_name": name})
	id := uuid.MustParse(c["id"].(string))
	return id, ts.token("client", id)
}

// token mints a token for a subject through the API.
func (ts *testServer) token(kind string, id uuid.UUID) string {
	ts.t.Helper()
	tok := ts.must(201, "POST", "/api/internal/tokens", ts.op, map[string]any{"subject_kind": kind, "subject_id": id.String()})
	return tok["token"].(string)
}

// newOperator creates an operator account with role (through the API, as the bootstrap
// admin) and mints its token.
func (ts *testServer) newOperator(role string) (uuid.UUID, string) {
	ts.t.Helper()
	o := ts.must(201, "POST", "/api/internal/operators", ts.op, map[string]any{"display_name": "Op " + role, "role": role})
	id := uuid.MustParse(o["id"].(string))
	return id, ts.token("operator", id)
}
