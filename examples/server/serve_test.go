package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// served is serve() running in the background on loopback listeners, as main runs it.
type served struct {
	app      *App
	base     string // http://host:port of the API
	metrics  string // http://host:port of METRICS_ADDR ("" without)
	client   *http.Client
	stop     context.CancelFunc
	returned chan error
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// startServe runs serve over app on fresh loopback listeners until the test ends (or stop).
func startServe(t *testing.T, app *App) *served {
	t.Helper()
	ln := listenLoopback(t)
	var metricsLn net.Listener
	s := &served{app: app, base: "http://" + ln.Addr().String(), returned: make(chan error, 1)}
	if app.cfg.MetricsAddr != "" {
		metricsLn = listenLoopback(t)
		s.metrics = "http://" + metricsLn.Addr().String()
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	s.client = &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.returned <- serve(ctx, app, ln, metricsLn) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.returned:
		case <-time.After(app.cfg.ShutdownGrace + 5*time.Second):
			t.Error("serve did not return")
		}
		tr.CloseIdleConnections()
	})
	return s
}

// newSubjectToken creates a client and mints a token for it, without the API.
func newSubjectToken(t *testing.T, app *App) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	c, err := app.registerClient(ctx, "Dewi")
	require.NoError(t, err)
	tok, _, err := app.auth.issue(ctx, SubjectClient, c.ID, time.Hour)
	require.NoError(t, err)
	return c.ID, tok
}

func TestShutdown_EndsOpenStreamsWithinTwoSeconds(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t, memoryBackend, func(c *Config) {
		c.ShutdownGrace = 10 * time.Second // what the streams would hold the shutdown for
		c.SSEMaxStreamsPerSubject = 100
	})
	s := startServe(t, app)
	_, tok := newSubjectToken(t, app)
	streams := make([]*testStream, 100)
	for i := range streams {
		streams[i] = openStream(t, s.client, s.base+"/api/client/events", tok) // one TCP connection each
	}

	s.stop() // SIGTERM
	began := time.Now()
	select {
	case err := <-s.returned:
		s.returned <- err // for the cleanup
		require.NoError(t, err, "a clean shutdown")
	case <-time.After(app.cfg.ShutdownGrace + 5*time.Second):
		t.Fatal("serve did not return")
	}
	require.Less(t, time.Since(began), 2*time.Second, "the shutdown waited for the streams")
	for i, st := range streams {
		st.requireClosedWithin(t, time.Second, fmt.Sprint("stream ", i))
	}
	// And the listener is gone.
	_, err := s.client.Get(s.base + "/healthz")
	require.Error(t, err)
}

func TestServer_TrickledBodyIsCut(t *testing.T) {
	t.Parallel()
	const readTimeout = 300 * time.Millisecond
	app, _ := newTestApp(t, memoryBackend, func(c *Config) { c.ReadTimeout = readTimeout })
	s := startServe(t, app)
	clientID, tok := newSubjectToken(t, app)
	stream := openStream(t, s.client, s.base+"/api/client/events", tok)

	// A webhook announcing 1000 bytes and sending one every 100 ms would take 100 s.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprint(conn, "POST /api/payments/webhook HTTP/1.1\r\nHost: curhat\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	require.NoError(t, err)
	answered := make(chan string, 1)
	go func() {
		rd := bufio.NewReader(conn)
		line, _ := rd.ReadString('\n')
		rest, _ := io.ReadAll(rd) // until the server hangs up
		answered <- line + string(rest)
	}()
	began := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(5 * time.Second)
	var answer string
trickle:
	for {
		select {
		case <-tick.C:
			if _, err := conn.Write([]byte(" ")); err != nil {
				break trickle // the server hung up
			}
		case answer = <-answered:
			break trickle
		case <-giveUp:
			t.Fatal("the trickled body still holds the connection after 5 s")
		}
	}
	require.Less(t, time.Since(began), 3*time.Second, "cut near the read timeout")
	if answer == "" {
		answer = <-answered
	}
	require.True(t, strings.HasPrefix(answer, "HTTP/1.1 408"), "answer: %q", answer)
	require.Contains(t, answer, `"REQUEST_TIMEOUT"`)

	// The stream opened before has outlived the read timeout: it still gets its events.
	ping(app, SubjectClient, clientID, "after the cut")
	stream.requireEvent(t, 2*time.Second, pingID("after the cut"))

	// And an ordinary request on a kept-alive connection is not hurt by the deadline.
	for range 2 {
		resp, err := s.client.Get(s.base + "/healthz")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}
