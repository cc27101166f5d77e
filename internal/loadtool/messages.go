package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// messageGoal: the reference server's send → delivery p99 within this factor of the bare
// relay's.
const messageGoal = 2.0

// messageWait bounds the wait for the messages still in flight when a slice ends.
const messageWait = 10 * time.Second

// messageInFlight bounds the sends in flight at once: past it the generator skips a send
// (counted) rather than pile up goroutines behind a server that stalls.
const messageInFlight = 1024

// markerPrefix starts the text of every message the tool sends; the marker after it names
// the message in the event that delivers it.
const markerPrefix = "lt:"

// markerOf finds the marker in an event's data ("text":"lt:<marker>") without decoding it.
func markerOf(data []byte) string {
	const key = `"text":"` + markerPrefix
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return ""
	}
	rest := data[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// due is how many sends a generator at rate per second owes elapsed after its start.
func due(rate float64, elapsed time.Duration) int {
	if rate <= 0 || elapsed <= 0 {
		return 0
	}
	return int(rate * elapsed.Seconds())
}

// msgTracker times each message from its send to the event that delivers it.
type msgTracker struct {
	mu        sync.Mutex
	sentAt    map[string]time.Time
	delivered []time.Duration
	late      int // events of messages no longer awaited (or never sent by this tracker)
	waiters   sync.Cond
}

func newMsgTracker() *msgTracker {
	tr := &msgTracker{sentAt: map[string]time.Time{}}
	tr.waiters.L = &tr.mu
	return tr
}

func (tr *msgTracker) sent(marker string, at time.Time) {
	tr.mu.Lock()
	tr.sentAt[marker] = at
	tr.mu.Unlock()
}

// forget drops a message whose send failed.
func (tr *msgTracker) forget(marker string) {
	tr.mu.Lock()
	delete(tr.sentAt, marker)
	tr.waiters.Broadcast()
	tr.mu.Unlock()
}

func (tr *msgTracker) event(_ int, kind string, data []byte, at time.Time) {
	if kind != "message" {
		return
	}
	marker := markerOf(data)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	sent, ok := tr.sentAt[marker]
	if !ok {
		tr.late++
		return
	}
	delete(tr.sentAt, marker)
	tr.delivered = append(tr.delivered, at.Sub(sent))
	tr.waiters.Broadcast()
}

// drain waits (at most limit) until every message sent has been delivered, and returns
// the latencies delivered since the last drain and how many never arrived.
func (tr *msgTracker) drain(limit time.Duration) (lat []time.Duration, lost int) {
	deadline := time.Now().Add(limit)
	stop := time.AfterFunc(limit, func() {
		tr.mu.Lock()
		tr.waiters.Broadcast()
		tr.mu.Unlock()
	})
	defer stop.Stop()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for len(tr.sentAt) > 0 && time.Now().Before(deadline) {
		tr.waiters.Wait()
	}
	lost = len(tr.sentAt)
	clear(tr.sentAt)
	lat, tr.delivered = tr.delivered, nil
	return lat, lost
}

// messageSide is what one side (reference server, bare relay) saw at one session count.
type messageSide struct {
	delivered []time.Duration // send → the event read on the recipient's stream
	answered  []time.Duration // send → its answer (201)
	sent      int
	failed    int   // answers that were not 201, or no answer
	firstErr  error // the first of them
	lost      int   // answered 201, never delivered within messageWait
	skipped   int   // sends the generator could not start (messageInFlight in flight)
	elapsed   time.Duration
	stmts     int64 // Postgres round trips while it sent
}

// messageDelivery: N chat sessions at once, each with its mitra's event stream open; the
// clients send messages at -message-rate in all (each session in turn), through the
// reference server; from each send to the message event read on the mitra's stream. Beside
// it, the bare relay: the same streams, the same rate, the same bytes relayed to one
// stream each.
func (t *tool) messageDelivery(ctx context.Context) error {
	fmt.Printf("# message-delivery\n\n")
	fmt.Printf("N chat sessions at once, each mitra with its event stream open; the clients send %.0f messages a second in all (each session in turn, open loop: "+
		"a send does not wait for the one before), through the reference server (`POST /api/client/chat-sessions/{id}/messages`); "+
		"from the send to the `message` event read on the mitra's stream. Beside it the bare relay (`POST /relay/{id}`: the body handed to that one stream, "+
		"written and flushed by its handler) at the same rate over the same number of streams, the same bytes; the two sides alternate in %d slices of %s each. "+
		"Postgres statements: round trips on the wire while the reference server sent.\n\n", t.o.messageRate, rounds, t.o.duration/rounds)
	fmt.Println("| sessions | side | messages | send → delivered p50 / p99 | send → 201 p50 / p99 | not delivered | Postgres statements per message | p99 vs bare | goal |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	var floors []string
	for _, n := range t.o.sessions {
		if ctx.Err() != nil {
			fmt.Printf("| %d | skipped: %v | | | | | | | |\n", n, context.Cause(ctx))
			continue
		}
		srv, bare, durable, note, err := t.messagesAt(ctx, n)
		if err != nil {
			fmt.Printf("| %d | skipped: %v | | | | | | | |\n", n, oneLine(err))
			continue
		}
		ratio, met := withinFactor(percentile(sortedCopy(srv.delivered), 99), percentile(sortedCopy(bare.delivered), 99), messageGoal)
		complete := srv.failed == 0 && srv.lost == 0 && len(srv.delivered) > 0 && len(bare.delivered) > 0
		goal := fmt.Sprintf("≤ %.0f× %s", messageGoal, check(met && complete))
		perMessage := "—"
		if srv.sent > 0 {
			perMessage = fmt.Sprintf("%.2f", float64(srv.stmts)/float64(srv.sent))
		}
		fmt.Printf("| %d | reference server%s | %s | %s | %s | %s | %s | %.2f× | %s |\n", n, note, sideCounts(srv), p50p99(srv.delivered),
			p50p99(srv.answered), undelivered(srv), perMessage, ratio, goal)
		fmt.Printf("| %d | bare relay | %s | %s | %s | %s | | | |\n", n, sideCounts(bare), p50p99(bare.delivered), p50p99(bare.answered), undelivered(bare))
		fmt.Printf("| %d | durable floor | %s | %s | %s | %s | 1 | | |\n", n, sideCounts(durable), p50p99(durable.delivered),
			p50p99(durable.answered), undelivered(durable))
		r50, _ := withinFactor(percentile(sortedCopy(srv.delivered), 50), percentile(sortedCopy(durable.delivered), 50), messageGoal)
		r99, _ := withinFactor(percentile(sortedCopy(srv.delivered), 99), percentile(sortedCopy(durable.delivered), 99), messageGoal)
		floors = append(floors, fmt.Sprintf("%d sessions: p50 %.2f×, p99 %.2f×", n, r50, r99))
	}
	fmt.Println()
	if len(floors) > 0 {
		fmt.Printf("The durable floor is the bare relay with what a stored, multi-instance message cannot skip: one `INSERT` into a table of its own "+
			"(one statement and its commit) and a Valkey `PUBLISH` that every instance's subscriber hands to the stream. The reference server beside it: %s.\n\n",
			strings.Join(floors, "; "))
	}
	return nil
}

// sideCounts says how many messages were sent, at what rate, and what failed to go out.
func sideCounts(s messageSide) string {
	out := fmt.Sprintf("%d in %s (%.0f/s)", s.sent, s.elapsed.Round(time.Millisecond), float64(s.sent)/max(s.elapsed.Seconds(), 1e-9))
	if s.failed > 0 {
		out += fmt.Sprintf(", %d failed (%s)", s.failed, oneLine(s.firstErr))
	}
	if s.skipped > 0 {
		out += fmt.Sprintf(", %d not sent (%d in flight)", s.skipped, messageInFlight)
	}
	return out
}

func undelivered(s messageSide) string {
	return fmt.Sprintf("%d of %d", s.lost, s.sent-s.failed)
}

// messagesAt measures message delivery over n chat sessions.
func (t *tool) messagesAt(ctx context.Context, n int) (srv, bare, durable messageSide, note string, err error) {
	logf("message-delivery, %d sessions: creating the dataset", n)
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, n, 0, n, n)
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		return srv, bare, durable, "", err
	}
	if len(d.mitraToks) != n || len(d.clients) != n {
		return srv, bare, durable, "", fmt.Errorf("%d mitra tokens and %d clients for %d sessions", len(d.mitraToks), len(d.clients), n)
	}
	// Session i: client i with mitra i, active for a day.
	rows, err := d.pool.Query(ctx, `WITH v AS (SELECT * FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS v(c, m, i)),
		p AS (INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
			SELECT c, 'blast', 'matched', 1440, m FROM v ORDER BY i RETURNING id, client_id, matched_mitra_id),
		s AS (INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, started_at, ends_at, pairing_id)
			SELECT client_id, matched_mitra_id, 'active', 1440, now(), now() + interval '1 day', id FROM p RETURNING id, client_id)
		SELECT s.id FROM v JOIN s ON s.client_id = v.c ORDER BY v.i`, d.clients, d.sample)
	if err != nil {
		return srv, bare, durable, "", fmt.Errorf("insert chat sessions: %w", err)
	}
	sessions, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return srv, bare, durable, "", fmt.Errorf("insert chat sessions: %w", err)
	}
	// The durable floor's table, in the dataset's schema (dropped with it).
	if _, err := d.pool.Exec(ctx, `CREATE TABLE bare_messages (id uuid PRIMARY KEY, stream text NOT NULL, body text NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return srv, bare, durable, "", err
	}
	floorTable := d.schema + ".bare_messages"
	s, err := t.startServer(ctx, d, fmt.Sprintf("messages-%d", n), "SSE_MAX_STREAMS="+strconv.Itoa(n+1000),
		"MITRA_HEARTBEAT_STALE_SECONDS=86400", "AUTH_CACHE_SECONDS=3600")
	if err != nil {
		return srv, bare, durable, "", err
	}
	defer s.close()
	// The generator's rate spread over the sessions stays far below the per-sender limit;
	// the most the setting allows, so that it never decides.
	if _, err := s.must(ctx, http.StatusOK, "PUT", "/api/internal/config/chat_message_rate_per_minute", s.opToken,
		map[string]any{"value": 600}); err != nil {
		return srv, bare, durable, "", err
	}
	logf("message-delivery: verifying %d client tokens", n)
	if err := s.warm(ctx, "/api/client/mitra-availability", d.clientToks); err != nil {
		return srv, bare, durable, "", err
	}

	srvTr, bareTr := newMsgTracker(), newMsgTracker()
	interleave := fileLimit() == 0 || uint64(2*n+2000) < fileLimit()
	openServer := func() (*streamSet, error) {
		logf("message-delivery: opening %d mitra streams to the reference server", n)
		return openStreams(ctx, s.addr, "/api/mitra/events", d.mitraToks, srvTr.event)
	}
	openBare := func() (*streamSet, error) {
		logf("message-delivery: opening %d streams to the bare relay", n)
		return openStreamsAt(ctx, strings.TrimPrefix(t.bareURL, "http://"), func(i int) string { return "/sse/" + strconv.Itoa(i) },
			make([]string, n), bareTr.event)
	}
	var seq atomic.Int64
	serverSend := func(ctx context.Context, k int, marker string) error {
		body := map[string]any{"text": markerPrefix + marker, "client_msg_id": marker}
		code, m, err := s.call(ctx, "POST", "/api/client/chat-sessions/"+sessions[k].String()+"/messages", d.clientToks[k], body)
		if err != nil {
			return err
		}
		if code != http.StatusCreated {
			return fmt.Errorf("status %d: %v", code, m)
		}
		return nil
	}
	relay := func(route func(k int) string) func(ctx context.Context, k int, marker string) error {
		return func(ctx context.Context, k int, marker string) error {
			return t.relay(ctx, s.hc, route(k), messageFrame(sessions[k], seq.Add(1), marker))
		}
	}
	bareSend := relay(func(k int) string { return t.bareURL + "/relay/" + strconv.Itoa(k) })
	durableSend := relay(func(k int) string { return t.bareURL + "/relay-durable/" + strconv.Itoa(k) + "?table=" + floorTable })
	measureServer := func(slice int) {
		before := t.proxy.statements()
		r := t.sendAt(ctx, n, t.o.messageRate, t.o.duration/rounds, "s"+strconv.Itoa(slice), srvTr, serverSend)
		r.stmts = t.proxy.statements() - before
		srv.add(r)
	}
	measureBare := func(slice int) {
		bare.add(t.sendAt(ctx, n, t.o.messageRate, t.o.duration/rounds, "b"+strconv.Itoa(slice), bareTr, bareSend))
		durable.add(t.sendAt(ctx, n, t.o.messageRate, t.o.duration/rounds, "d"+strconv.Itoa(slice), bareTr, durableSend))
	}

	if interleave {
		ss, err := openServer()
		if err != nil {
			return srv, bare, durable, "", err
		}
		defer ss.close()
		bs, err := openBare()
		if err != nil {
			return srv, bare, durable, "", err
		}
		defer bs.close()
		// One message on each side first, uncounted: connections and prepared statements.
		t.sendAt(ctx, n, float64(n), time.Second, "warm-s", srvTr, serverSend)
		t.sendAt(ctx, n, float64(n), time.Second, "warm-b", bareTr, bareSend)
		t.sendAt(ctx, n, float64(n), time.Second, "warm-d", bareTr, durableSend)
		for i := range rounds {
			measureServer(i)
			measureBare(i)
		}
		if k := ss.dropped.Load() + bs.dropped.Load(); k > 0 {
			note = fmt.Sprintf(" (%d streams dropped)", k)
		}
		return srv, bare, durable, note, ctx.Err()
	}
	note = " (then the bare side: both sets of streams exceed the open-file limit)"
	ss, err := openServer()
	if err != nil {
		return srv, bare, durable, "", err
	}
	t.sendAt(ctx, n, float64(n), time.Second, "warm-s", srvTr, serverSend)
	for i := range rounds {
		measureServer(i)
	}
	ss.close()
	bs, err := openBare()
	if err != nil {
		return srv, bare, durable, "", err
	}
	defer bs.close()
	t.sendAt(ctx, n, float64(n), time.Second, "warm-b", bareTr, bareSend)
	t.sendAt(ctx, n, float64(n), time.Second, "warm-d", bareTr, durableSend)
	for i := range rounds {
		measureBare(i)
	}
	return srv, bare, durable, note, ctx.Err()
}

// messageFrame is the bytes of a message event as the reference server writes them, for the
// bare sides.
func messageFrame(session uuid.UUID, seq int64, marker string) string {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return fmt.Sprintf("event: message\ndata: {\"kind\":\"message\",\"data\":{\"chat_session_id\":%q,\"id\":%q,\"seq\":%d,"+
		"\"sender\":\"client\",\"text\":%q,\"flags\":[],\"created_at\":%q},\"at\":%q}\n\n",
		session, uuid.NewString(), seq, markerPrefix+marker, now, now)
}

// relay posts a frame to a bare relay route and requires its 201.
func (t *tool) relay(ctx context.Context, hc *http.Client, url, frame string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(frame))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("%s: status %d: %s", url, resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

func (s *messageSide) add(r messageSide) {
	s.delivered = append(s.delivered, r.delivered...)
	s.answered = append(s.answered, r.answered...)
	s.sent += r.sent
	s.failed += r.failed
	if s.firstErr == nil {
		s.firstErr = r.firstErr
	}
	s.lost += r.lost
	s.skipped += r.skipped
	s.elapsed += r.elapsed
	s.stmts += r.stmts
}

// sendAt sends messages at rate per second in all for d, session after session (k = 0, 1,
// …, n-1, 0, …), each send in a goroutine of its own started when it is due (open loop,
// at most messageInFlight at once), then waits for the deliveries still in flight.
func (t *tool) sendAt(ctx context.Context, n int, rate float64, d time.Duration, label string, tr *msgTracker,
	send func(ctx context.Context, k int, marker string) error) messageSide {
	var (
		out      messageSide
		mu       sync.Mutex
		wg       sync.WaitGroup
		inFlight = make(chan struct{}, messageInFlight)
	)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	next := 0
	for ctx.Err() == nil {
		elapsed := time.Since(start)
		if elapsed >= d {
			break
		}
		for ; next < due(rate, elapsed); next++ {
			select {
			case inFlight <- struct{}{}:
			default:
				out.skipped++
				continue
			}
			k, marker := next%n, label+"-"+strconv.Itoa(next)
			out.sent++
			wg.Go(func() {
				defer func() { <-inFlight }()
				began := time.Now()
				tr.sent(marker, began)
				err := send(ctx, k, marker)
				took := time.Since(began)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					tr.forget(marker)
					out.failed++
					if out.firstErr == nil {
						out.firstErr = err
					}
					return
				}
				out.answered = append(out.answered, took)
			})
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	out.elapsed = time.Since(start)
	wg.Wait()
	out.delivered, out.lost = tr.drain(messageWait)
	return out
}
