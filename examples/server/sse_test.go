package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// testStream is an open event stream read by a goroutine of its own.
type testStream struct {
	events chan string   // the data lines of the events, in order
	closed chan struct{} // closed when the server ends the stream
	stop   func()
}

// tryStream opens an event stream: the stream, or nil and the refusal. header is name,
// value, ….
func tryStream(t *testing.T, client *http.Client, url, token string, header ...string) (*testStream, response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		out := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
		_ = json.Unmarshal(raw, &out.Body)
		return nil, out
	}
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "connected")

	s := &testStream{events: make(chan string, 64), closed: make(chan struct{})}
	go func() {
		defer close(s.closed)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			if data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: "); ok {
				select {
				case s.events <- data:
				default:
				}
			}
		}
	}()
	s.stop = func() {
		cancel()
		resp.Body.Close()
		<-s.closed
	}
	t.Cleanup(s.stop)
	return s, response{Status: resp.StatusCode}
}

// openStream opens an event stream and requires that it opens.
func openStream(t *testing.T, client *http.Client, url, token string, header ...string) *testStream {
	t.Helper()
	s, r := tryStream(t, client, url, token, header...)
	require.NotNil(t, s, "stream refused: %d %s", r.Status, r.Raw)
	return s
}

// requireClosedWithin fails unless the server ends the stream within d.
func (s *testStream) requireClosedWithin(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(d):
		t.Fatalf("%s: the stream is still open after %v", what, d)
	}
}

// requireEvent fails unless an event whose data contains want arrives within d.
func (s *testStream) requireEvent(t *testing.T, d time.Duration, want string) {
	t.Helper()
	s.await(t, d, fmt.Sprintf("an event with %q", want), func(data string) bool { return strings.Contains(data, want) })
}

// await returns the data of the first event match accepts, failing after d or once the
// stream ended. The events read before the end are looked at first: a select would pick
// the end as often as an event that arrived just before it.
func (s *testStream) await(t *testing.T, d time.Duration, what string, match func(data string) bool) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case data := <-s.events:
			if match(data) {
				return data
			}
		case <-s.closed:
			for {
				select {
				case data := <-s.events:
					if match(data) {
						return data
					}
				default:
					t.Fatalf("the stream ended before %s", what)
				}
			}
		case <-deadline:
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

// ping publishes an event to a subject through app, as the SDK's notifiers do: a
// session_ended (a kind both streams carry) whose chat_session_id is pingID(marker).
func ping(app *App, kind SubjectKind, id uuid.UUID, marker string) {
	app.events.publish(context.Background(), event{Kind: "session_ended", Recipient: kind, SubjectID: id,
		Data: map[string]any{"chat_session_id": pingID(marker), "status": "ended", "reason": "expired"}, At: time.Now()})
}

// pingID is the chat_session_id of ping's event for marker.
func pingID(marker string) string { return uuid.NewSHA1(uuid.NameSpaceOID, []byte(marker)).String() }

func TestSSE_TooManyStreamsPerSubject(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend, func(c *Config) {
		c.SSEMaxStreamsPerSubject = 2
		c.SSEMaxStreams = 3
	})
	url := ts.http.URL + "/api/client/events"
	clientID, tok := ts.newClient("Dewi")
	first := openStream(t, ts.http.Client(), url, tok)
	openStream(t, ts.http.Client(), url, ts.token("client", clientID)) // another token, the same subject

	_, r := tryStream(t, ts.http.Client(), url, tok)
	require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Raw)
	require.Equal(t, "TOO_MANY_STREAMS", r.ErrorCode())
	require.Equal(t, 2, ts.app.events.subscribers(SubjectClient, clientID))

	// The instance's bound: a mitra takes the third stream, the fourth anybody asks for is 503.
	_, mitraTok := ts.newMitra("Ayu")
	openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", mitraTok)
	_, otherTok := ts.newClient("Eko")
	_, r = tryStream(t, ts.http.Client(), url, otherTok)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Raw)
	require.Equal(t, "UNAVAILABLE", r.ErrorCode())

	// A closed stream makes room again.
	first.stop()
	require.Eventually(t, func() bool { return ts.app.events.subscribers(SubjectClient, clientID) == 1 },
		5*time.Second, 10*time.Millisecond)
	openStream(t, ts.http.Client(), url, tok)
}

func TestSSE_StreamsAreKeyedBySubjectKindAndID(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	// A client and a mitra with the same id (ids are random; the hub must not rely on it).
	id := uuid.New()
	client, err := ts.app.events.subscribe(caller{Kind: SubjectClient, ID: id}, "")
	require.NoError(t, err)
	defer ts.app.events.unsubscribe(client)
	mitra, err := ts.app.events.subscribe(caller{Kind: SubjectMitra, ID: id}, "")
	require.NoError(t, err)
	defer ts.app.events.unsubscribe(mitra)

	ping(ts.app, SubjectMitra, id, "for the mitra")
	require.Eventually(t, func() bool {
		mitra.mu.Lock()
		defer mitra.mu.Unlock()
		return strings.Contains(string(mitra.pending), pingID("for the mitra"))
	}, 5*time.Second, time.Millisecond, "the mitra's stream got nothing")
	client.mu.Lock()
	require.Empty(t, client.pending, "the client's stream got the mitra's event")
	client.mu.Unlock()
	require.Equal(t, 1, ts.app.events.subscribers(SubjectClient, id))
	require.Equal(t, 1, ts.app.events.subscribers(SubjectMitra, id))

	// Revoking the mitra's tokens ends the mitra's stream only.
	ts.app.events.revoke(revocation{subject: subjectKey{SubjectMitra, id}})
	<-mitra.done
	select {
	case <-client.done:
		t.Fatal("the client's stream was ended with the mitra's")
	default:
	}
}

func TestSSE_RevokedTokenClosesStreamOnEveryInstance(t *testing.T) {
	t.Parallel()
	f := newFleet(t, fleetOptions{Instances: 2})
	const within = 2 * time.Second
	url := func(i int, path string) string { return f.node(i).srv.URL + path }
	client := func(i int) *http.Client { return f.node(i).srv.Client() }

	clientID, tokA := f.newClient(0, "Dewi")
	tokB := f.must(1, 201, "POST", "/api/internal/tokens", f.op(), map[string]any{"subject_kind": "client", "subject_id": clientID.String()})["token"].(string)
	a0 := openStream(t, client(0), url(0, "/api/client/events"), tokA)
	a1 := openStream(t, client(1), url(1, "/api/client/events"), tokA)
	b0 := openStream(t, client(0), url(0, "/api/client/events"), tokB)
	b1 := openStream(t, client(1), url(1, "/api/client/events"), tokB)

	// Signing out on instance 0 ends the streams of that token on both instances, only those.
	f.must(0, 204, "POST", "/api/client/logout", tokA, nil)
	a0.requireClosedWithin(t, within, "token A on instance 0")
	a1.requireClosedWithin(t, within, "token A on instance 1")
	ping(f.node(0).app, SubjectClient, clientID, "still here")
	b0.requireEvent(t, within, pingID("still here"))
	b1.requireEvent(t, within, pingID("still here"))
	for i := range 2 {
		require.Equal(t, "UNAUTHENTICATED", f.call(t, i, "GET", "/api/client/mitra-availability", tokA).code())
	}

	// An operator revoking the subject on instance 1 ends the rest, everywhere.
	f.must(1, 204, "POST", "/api/internal/tokens/revoke", f.op(), map[string]any{"subject_kind": "client", "subject_id": clientID.String()})
	b0.requireClosedWithin(t, within, "token B on instance 0")
	b1.requireClosedWithin(t, within, "token B on instance 1")
	for i := range 2 {
		require.Equal(t, "UNAUTHENTICATED", f.call(t, i, "GET", "/api/client/mitra-availability", tokB).code())
	}

	// Deactivating a mitra on instance 0 ends its streams on both, and its token says why.
	mitraID, mtok := f.newMitra(0, "Ayu")
	m0 := openStream(t, client(0), url(0, "/api/mitra/events"), mtok)
	m1 := openStream(t, client(1), url(1, "/api/mitra/events"), mtok)
	f.must(0, 200, "PATCH", "/api/internal/mitras/"+mitraID.String()+"/status", f.op(), map[string]any{"is_active": false})
	m0.requireClosedWithin(t, within, "the deactivated mitra on instance 0")
	m1.requireClosedWithin(t, within, "the deactivated mitra on instance 1")
	for i := range 2 {
		r := f.call(t, i, "GET", "/api/mitra/status", mtok)
		require.Equal(t, http.StatusForbidden, r.Status, "instance %d: %s", i, r.Raw)
		require.Equal(t, "MITRA_DEACTIVATED", r.code())
		_, refused := tryStream(t, client(i), url(i, "/api/mitra/events"), mtok)
		require.Equal(t, "MITRA_DEACTIVATED", refused.ErrorCode())
	}
}

// call sends a request to instance i and returns the answer whatever its status.
func (f *fleet) call(t *testing.T, i int, method, path, token string) fleetResp {
	t.Helper()
	r, err := f.node(i).call(context.Background(), method, path, token, nil)
	require.NoError(t, err)
	return r
}
