package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
)

// logBuffer is a slog handler's output, safe for the server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineWith returns the log line that contains every one of parts ("" if none).
func (b *logBuffer) lineWith(parts ...string) string {
next:
	for _, line := range strings.Split(b.String(), "\n") {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		return line
	}
	return ""
}

func newLogBuffer() (*logBuffer, *slog.Logger) {
	b := &logBuffer{}
	return b, slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// requireSafeError checks an error answer: a fixed sentence, no id, no wrapped chain, and
// the request id of the answer in the log line that holds the detail.
func requireSafeError(t *testing.T, r response, code string, logs *logBuffer, detail string) {
	t.Helper()
	require.Equal(t, code, r.ErrorCode(), "%s", r.Raw)
	msg := r.Body["error"].(map[string]any)["message"].(string)
	require.NotRegexp(t, uuidPattern, msg, "an internal id in %q", msg)
	require.NotContains(t, msg, ": ", "a wrapped error chain in %q", msg)
	id := r.Header.Get(requestIDHeader)
	require.Regexp(t, `^[0-9a-f]{16}$`, id)
	if detail != "" {
		line := logs.lineWith("request_id="+id, detail)
		require.NotEmpty(t, line, "no log line with request_id=%s and %q in:\n%s", id, detail, logs)
	}
}

func TestErrors_NoInternalsInMessages(t *testing.T) {
	t.Parallel()
	t.Run("domain errors", func(t *testing.T) {
		t.Parallel()
		logs, log := newLogBuffer()
		ts := newLoggedTestServer(t, memoryBackend, log)
		_, clientTok := ts.newClient("Dewi")

		// No tier for 20 minutes: the domain error is "start blast: quote 20 minutes: …"; the
		// answer is about the input.
		r := ts.do("POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 20})
		require.Equal(t, http.StatusBadRequest, r.Status)
		requireSafeError(t, r, "VALIDATION_FAILED", logs, "quote")
		require.Equal(t, "minutes", r.Body["error"].(map[string]any)["field"])

		missing := uuid.NewString()
		r = ts.do("GET", "/api/client/pairings/"+missing, clientTok, nil)
		require.Equal(t, http.StatusNotFound, r.Status)
		requireSafeError(t, r, "NOT_FOUND", logs, "")
		require.NotContains(t, string(r.Raw), missing)

		// Validation keeps naming the field and the rule: that is about the caller's input.
		r = ts.do("POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 0})
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
		require.Equal(t, "minutes", r.Body["error"].(map[string]any)["field"])
		require.Contains(t, r.Body["error"].(map[string]any)["message"], "1..1440")
	})

	t.Run("postgres outage", func(t *testing.T) {
		t.Parallel()
		pg := testenv.StartPostgres(t)
		logs, log := newLogBuffer()
		ts := newLoggedTestServer(t, memoryBackend, log, func(c *Config) {
			c.InMemory, c.DatabaseURL, c.ValkeyURL = false, pg.URL(), ""
		})
		mitraID, _ := ts.newMitra("Ayu")
		require.NoError(t, pg.Stop())

		// The first request may find its connection terminated, the next one cannot dial.
		for range 2 {
			r := ts.do("GET", "/api/internal/mitras/"+mitraID.String(), ts.op, nil)
			require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Raw)
			requireSafeError(t, r, "UNAVAILABLE", logs, "request failed")
			for _, leak := range []string{"user=", "database", "127.0.0.1", pg.Addr(), "dial", "connect", "postgres", "sqlstate"} {
				require.NotContains(t, strings.ToLower(string(r.Raw)), leak, "the answer leaks %q", leak)
			}
			// The detail is in the log, under the answer's request id.
			line := logs.lineWith("request_id=" + r.Header.Get(requestIDHeader))
			require.Contains(t, line, "status=503")
			require.Regexp(t, `err="service temporarily unavailable: .+`, line, "the log keeps the driver's detail")
		}
	})
}

func TestRouter_NotFoundIsJSON(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	r := ts.do("GET", "/no/such/route", "", nil)
	require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
	require.Equal(t, "NOT_FOUND", r.ErrorCode())
	require.NotEmpty(t, r.Body["error"].(map[string]any)["message"])
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))

	// A path of the API with a method it does not take: 405, with Allow.
	r = ts.do("DELETE", "/api/client/chat/start", "", nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.Status, "%s", r.Raw)
	require.Equal(t, "METHOD_NOT_ALLOWED", r.ErrorCode())
	require.Equal(t, "POST", r.Header.Get("Allow"))
	r = ts.do("POST", "/api/internal/mitras/"+uuid.NewString(), ts.op, `{}`)
	require.Equal(t, http.StatusMethodNotAllowed, r.Status)
	require.Equal(t, "GET, HEAD, PATCH", r.Header.Get("Allow"))

	// Patterns with parameters: a missing segment is no route.
	r = ts.do("GET", "/api/client/pairings/", "", nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "NOT_FOUND", r.ErrorCode())
}

func TestServer_EveryAnswerCarriesRequestID(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	_, clientTok := ts.newClient("Dewi")
	seen := map[string]bool{}
	for _, c := range []struct {
		method, path, tok string
		body              any
	}{
		{"GET", "/healthz", "", nil},
		{"GET", "/api/client/mitra-availability", clientTok, nil},
		{"GET", "/api/client/mitra-availability", "", nil}, // 401
		{"GET", "/nope", "", nil},                          // 404 from the router
		{"PUT", "/healthz", "", nil},                       // 405 from the router
		{"POST", "/api/payments/webhook", "", `{}`},        // 401: unsigned
		{"GET", "/metrics", "", nil},
		{"GET", "/openapi.json", "", nil},
	} {
		r := ts.do(c.method, c.path, c.tok, c.body)
		id := r.Header.Get(requestIDHeader)
		require.Regexp(t, `^[0-9a-f]{16}$`, id, "%s %s (%d)", c.method, c.path, r.Status)
		require.False(t, seen[id], "request id %s given twice", id)
		seen[id] = true
	}
	// Ids come in blocks: many requests still get distinct ones.
	var g requestIDs
	for range 3 * requestIDBlock {
		id := g.next()
		require.Len(t, id, 1)
		require.Equal(t, 1, cap(id), "an append must not write over the next id")
		require.False(t, seen[id[0]])
		seen[id[0]] = true
	}
}
