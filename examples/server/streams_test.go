package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
)

// Event streams at scale: one bus message per blast, streams taken over from net/http and
// written by the hub's writers, one keep-alive pass per instance.

// fastMitras creates n online mitras without the API and returns their ids and tokens.
func (ts *testServer) fastMitras(n int) ([]uuid.UUID, []string) {
	ts.t.Helper()
	ctx := context.Background()
	ids, toks := make([]uuid.UUID, n), make([]string, n)
	for i := range n {
		m, err := ts.app.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: fmt.Sprint("mitra ", i)})
		require.NoError(ts.t, err)
		require.NoError(ts.t, ts.app.mirror.SetOnline(ctx, m.ID))
		tok, _, err := ts.app.auth.issue(ctx, SubjectMitra, m.ID, time.Hour)
		require.NoError(ts.t, err)
		ids[i], toks[i] = m.ID, tok
	}
	return ids, toks
}

// busTap counts the messages of the events topic by event kind, and their recipients.
type busTap struct {
	mu         sync.Mutex
	messages   map[string]int
	recipients map[string]int
}

func tapEvents(t *testing.T, bus curhat.Bus) *busTap {
	tap := &busTap{messages: map[string]int{}, recipients: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	up := make(chan struct{}, 1)
	go func() {
		defer close(done)
		_ = bus.Subscribe(ctx, eventsTopic, curhat.BusHandler{
			Message: func(raw []byte) {
				var w wireEvent
				if json.Unmarshal(raw, &w) != nil {
					return
				}
				kind, _, _ := strings.Cut(strings.TrimPrefix(string(w.Frame), "event: "), "\n")
				tap.mu.Lock()
				tap.messages[kind]++
				tap.recipients[kind] += len(w.Subjects) / 16
				tap.mu.Unlock()
			},
			Reset: func(r curhat.BusReset) {
				if r.Subscribed {
					select {
					case up <- struct{}{}:
					default:
					}
				}
			},
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("the tap did not subscribe")
	}
	return tap
}

func (b *busTap) counts(kind string) (messages, recipients int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.messages[kind], b.recipients[kind]
}

func TestEvents_OneBusMessagePerBlastWhateverTheFanOut(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 300} {
		t.Run(fmt.Sprint(n, " mitras"), func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, memoryBackend)
			ts.tiers()
			_, clientTok := ts.newClient("Dewi")
			_, toks := ts.fastMitras(n)
			tap := tapEvents(t, ts.app.bus)

			pid, _ := ts.paidStart(clientTok)
			require.Eventually(t, func() bool { _, r := tap.counts("pairing_offer"); return r == n }, 10*time.Second, time.Millisecond)
			messages, _ := tap.counts("pairing_offer")
			require.Equal(t, 1, messages, "one message carries the offers of the blast")

			ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", toks[0], nil)
			require.Eventually(t, func() bool { _, r := tap.counts("offer_dismissed"); return r == n-1 }, 10*time.Second, time.Millisecond)
			messages, _ = tap.counts("offer_dismissed")
			require.Equal(t, 1, messages, "one message carries the dismissals")
		})
	}
}

// plainServer serves app over loopback without the contract check of every exchange
// (checking thousands of frames against the document would be most of a test's work).
func plainServer(t *testing.T, app *App) *httptest.Server {
	hs := httptest.NewServer(NewServer(app))
	t.Cleanup(hs.Close) // before the App closes
	return hs
}

func TestEvents_BlastReachesEveryOneOf2000Streams(t *testing.T) {
	t.Parallel()
	const n = 2000
	ts := newTestServer(t, memoryBackend)
	ts.tiers()
	_, clientTok := ts.newClient("Dewi")
	_, toks := ts.fastMitras(n)
	hs := plainServer(t, ts.app)
	streams := make([]*testStream, n)
	for i, tok := range toks {
		streams[i] = openStream(t, hs.Client(), hs.URL+"/api/mitra/events", tok)
	}
	require.Equal(t, n, ts.app.events.hijacked(), "every HTTP/1.1 stream is taken over")

	pid, _ := ts.paidStart(clientTok)
	var wg sync.WaitGroup
	var missed atomic.Int32
	for _, st := range streams {
		wg.Go(func() {
			deadline := time.After(60 * time.Second)
			for {
				select {
				case data := <-st.events:
					if strings.Contains(data, `"kind":"pairing_offer"`) && strings.Contains(data, pid) {
						return
					}
				case <-deadline:
					missed.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, missed.Load(), "streams without the offer")
}

// rawStream opens an event stream on a bare connection that the test reads (or not).
func rawStream(t *testing.T, base, token string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "GET /api/client/events HTTP/1.1\r\nHost: curhat\r\nAuthorization: Bearer %s\r\n\r\n", token)
	require.NoError(t, err)
	rd := bufio.NewReader(conn)
	status, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, status, " 200 ")
	for {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		if line == "\r\n" {
			break
		}
	}
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "connected")
	return conn, rd
}

// streamOf returns the hub's only stream of a subject.
func (h *eventHub) streamOf(kind SubjectKind, id uuid.UUID) *stream {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for st := range h.streams[subjectKey{kind, id}] {
		return st
	}
	return nil
}

// hijacked counts the streams taken over from net/http.
func (h *eventHub) hijacked() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.streams {
		for st := range set {
			st.mu.Lock()
			if st.conn != nil {
				n++
			}
			st.mu.Unlock()
		}
	}
	return n
}

func TestEvents_AStreamWhoseClientStopsReadingIsDroppedWithoutDelayingOthers(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t, memoryBackend)
	const writeTimeout = 8 * time.Second // a blocked write holds one writer this long
	app.events.writeTimeout = writeTimeout
	hs := plainServer(t, app)
	slowID, slowTok := newSubjectToken(t, app)
	healthyID, healthyTok := newSubjectToken(t, app)
	slowConn, _ := rawStream(t, hs.URL, slowTok) // never read again
	require.NoError(t, slowConn.(*net.TCPConn).SetReadBuffer(4096))
	healthy := openStream(t, hs.Client(), hs.URL+"/api/client/events", healthyTok)
	slow := app.events.streamOf(SubjectClient, slowID)
	require.NotNil(t, slow)
	slow.mu.Lock()
	require.NoError(t, slow.conn.(*net.TCPConn).SetWriteBuffer(4096)) // small buffers fill at once
	slow.mu.Unlock()

	// Comments of 64 KiB until the slow stream's writer is stuck: its bytes pile up.
	pad := []byte(": " + strings.Repeat("x", 64<<10) + "\n\n")
	blocked := func() bool {
		slow.mu.Lock()
		defer slow.mu.Unlock()
		return len(slow.pending) > ssePendingMax/2
	}
	require.Eventually(t, func() bool {
		app.events.deliver(SubjectClient, slowID[:], pad)
		return blocked()
	}, 30*time.Second, time.Millisecond, "the slow stream never blocked")
	// While one writer is stuck on it, the other streams get their events at once.
	for i := range 3 {
		ping(app, SubjectClient, healthyID, fmt.Sprint("healthy ", i))
		healthy.requireEvent(t, writeTimeout/4, pingID(fmt.Sprint("healthy ", i)))
	}
	// And the stuck write gives up: the stream is closed (the events keep coming).
	require.Eventually(t, func() bool {
		app.events.deliver(SubjectClient, slowID[:], pad)
		return app.events.subscribers(SubjectClient, slowID) == 0
	}, writeTimeout+60*time.Second, 10*time.Millisecond)
	ping(app, SubjectClient, healthyID, "after")
	healthy.requireEvent(t, 5*time.Second, pingID("after"))
}

func TestEvents_AClientThatGoesAwayClosesItsStreamAndItsDeviceLease(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	id, tok := ts.onlineMitra("Ayu")
	st := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", tok, device("phone")...)
	require.Equal(t, 1, ts.app.events.hijacked())
	ts.requireStreaming(tok, "phone", true)

	st.stop() // the app closes the connection
	require.Eventually(t, func() bool { return ts.app.events.subscribers(SubjectMitra, id) == 0 },
		5*time.Second, time.Millisecond, "the stream is closed when its client goes")
	ts.requireStreaming(tok, "phone", false) // the lease's reconnect grace runs
	require.Equal(t, true, ts.must(200, "GET", "/api/mitra/status", tok, nil)["reachable"], "within the grace")
}

func TestEvents_KeepAlivePassClosesStreamsWhoseTokenExpiredOrWasRevoked(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	ctx := context.Background()
	expiring, err := ts.app.registerClient(ctx, "Dewi")
	require.NoError(t, err)
	shortTok, _, err := ts.app.auth.issue(ctx, SubjectClient, expiring.ID, time.Minute)
	require.NoError(t, err)
	revokedID, revokedTok := newSubjectToken(t, ts.app)
	keptID, keptTok := newSubjectToken(t, ts.app)
	short := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", shortTok)
	revoked := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", revokedTok)
	kept := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", keptTok)

	// The revocation message is lost (as while Valkey is down): only the pass finds it.
	require.NoError(t, ts.app.accounts.RevokeSubject(ctx, SubjectClient, revokedID, ts.clock.Now()))
	ts.clock.Advance(2 * time.Minute) // past the short token's expiry and the token cache
	ts.app.events.keepAlive(ctx)
	short.requireClosedWithin(t, 5*time.Second, "an expired token")
	revoked.requireClosedWithin(t, 5*time.Second, "a revoked token")
	require.Equal(t, 1, ts.app.events.subscribers(SubjectClient, keptID))
	ping(ts.app, SubjectClient, keptID, "kept")
	kept.requireEvent(t, 5*time.Second, pingID("kept"))
}

func TestEvents_AcceptBurstHasExactlyOneWinner(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		const n = 100
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		_, toks := ts.fastMitras(n)
		pid, _ := ts.paidStart(clientTok)
		tr := &http.Transport{MaxIdleConnsPerHost: n}
		t.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: tr}

		statuses := make([]int, n)
		codes := make([]string, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, tok := range toks {
			wg.Go(func() {
				req, _ := http.NewRequest("POST", ts.http.URL+"/api/mitra/pairing-offers/"+pid+"/accept", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				<-start
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				defer resp.Body.Close()
				var body map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&body)
				statuses[i] = resp.StatusCode
				codes[i] = response{Body: body}.ErrorCode()
			})
		}
		close(start)
		wg.Wait()
		won, lost := 0, 0
		for i := range n {
			switch {
			case statuses[i] == 200:
				won++
			case statuses[i] == 409 && codes[i] == "ALREADY_MATCHED":
				lost++
			default:
				t.Errorf("accept %d: %d %s", i, statuses[i], codes[i])
			}
		}
		require.Equal(t, 1, won)
		require.Equal(t, n-1, lost)
	})
}

// TestEvents_PostgresStatementsFromStartToMatchedDoNotGrowWithTheFanOut counts the
// statements of a paid blast, step by step from chat/start to its accept, at two
// fan-outs: the same, and the numbers pinned (the target: at most 25 per pairing). Each step
// is counted twice: its statements, and its round trips (a batch counting as one, as the
// load tool counts on the wire). The steps are the SDK's (TestPairing_PostgresStatementsPerStepArePinned
// in the root package says what each one is): the routes add nothing — the webhook checks
// provider_ref in the payment's own write and answers with the payment it returns, and the
// accept returns the client's display name.
func TestEvents_PostgresStatementsFromStartToMatchedDoNotGrowWithTheFanOut(t *testing.T) {
	t.Parallel()
	type count struct{ statements, roundTrips int64 }
	type steps struct{ start, webhook, accept count }
	measure := func(n int) steps {
		ts := newTestServer(t, realBackend)
		ts.tiers()
		ts.setConfig("mitra_missed_offers_before_away", 3)
		_, clientTok := ts.newClient("Dewi")
		_, toks := ts.fastMitras(n)
		now := func() count { return count{ts.app.pgStatements(), ts.app.pgQueries()} }
		since := func(c count) count {
			n := now()
			return count{n.statements - c.statements, n.roundTrips - c.roundTrips}
		}
		blast := func() steps {
			var s steps
			c := now()
			start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
			s.start, c = since(c), now()
			require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)
			s.webhook, c = since(c), now()
			pid := obj(start, "pairing")["id"].(string)
			cs := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", toks[0], nil), "chat_session")
			s.accept = since(c)
			require.Equal(t, "Dewi", cs["client_display_name"], "the accept answers with the client's name")
			ts.must(200, "POST", "/api/client/chat-sessions/"+cs["id"].(string)+"/end", clientTok, nil)
			return s
		}
		blast() // warms the caches (tokens, config, prices)
		return blast()
	}
	few, many := measure(3), measure(60)
	require.Equal(t, few, many, "statements from chat/start to matched: %+v with 3 mitras, %+v with 60", few, many)
	require.Equal(t, steps{start: count{6, 6}, webhook: count{7, 6}, accept: count{10, 10}}, few)
}

func TestEvents_HTTP2StreamsAreWrittenByTheirHandler(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t, memoryBackend)
	hs := httptest.NewUnstartedServer(NewServer(app))
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	id, tok := newSubjectToken(t, app)
	st := openStream(t, hs.Client(), hs.URL+"/api/client/events", tok)
	require.Zero(t, app.events.hijacked(), "an HTTP/2 stream cannot be taken over")
	for i := range 3 {
		ping(app, SubjectClient, id, fmt.Sprint("h2 ", i))
		st.requireEvent(t, 5*time.Second, pingID(fmt.Sprint("h2 ", i)))
	}
	app.events.keepAlive(context.Background())
	ping(app, SubjectClient, id, "after the keep-alive")
	st.requireEvent(t, 5*time.Second, pingID("after the keep-alive"))
	st.stop()
	require.Eventually(t, func() bool { return app.events.subscribers(SubjectClient, id) == 0 }, 5*time.Second, time.Millisecond)
}
