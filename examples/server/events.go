package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
)

// event is one realtime message for one recipient (a client or a mitra).
type event struct {
	Kind      string
	Recipient SubjectKind
	SubjectID uuid.UUID
	Data      any
	At        time.Time
}

// frameBody is the JSON of an event's data line: its kind, its data (for the SDK's
// events, the pairing.Event's payload as it is) and when the server sent it.
type frameBody struct {
	Kind string    `json:"kind"`
	Data any       `json:"data"`
	At   time.Time `json:"at"`
}

// encodeFrame is the Server-Sent-Events frame of an event, encoded once and written as it
// is to every stream that gets it.
func encodeFrame(kind string, data any, at time.Time) []byte {
	body, err := json.Marshal(frameBody{Kind: kind, Data: data, At: at.UTC()})
	if err != nil {
		return nil
	}
	frame := make([]byte, 0, len("event: \ndata: \n\n")+len(kind)+len(body))
	frame = append(frame, "event: "...)
	frame = append(frame, kind...)
	frame = append(frame, "\ndata: "...)
	frame = append(frame, body...)
	return append(frame, "\n\n"...)
}

// wireEvent is how events travel between instances: one event for one subject or many
// (the offers of a blast), as its frame.
type wireEvent struct {
	Recipient SubjectKind `json:"r"`
	// Subjects are the recipients' ids, 16 bytes each.
	Subjects []byte `json:"s"`
	Frame    []byte `json:"f"`
}

const eventsTopic = "events"

// sseHeartbeatEvery keeps idle streams open through proxies; at each beat the stream's
// token is checked again (from memory: a revocation message lost while Valkey was down
// closes the stream within AUTH_CACHE_SECONDS plus this).
const sseHeartbeatEvery = 15 * time.Second

// sseWriteTimeout bounds one write to a stream: a client that stops reading loses its
// stream instead of holding a writer.
const sseWriteTimeout = 10 * time.Second

// ssePendingMax bounds what may wait to be written to one stream: past it a stream too
// slow to keep up drops events (the app re-reads by polling).
const ssePendingMax = 256 << 10

var (
	frameConnected = []byte(": connected\n\n")
	frameKeepAlive = []byte(": keep-alive\n\n")
)

// eventHub fans events out to the Server-Sent-Event streams of this instance; events are
// published on the bus so that a subscriber connected to any instance gets them.
// A disconnected app loses nothing it cannot re-read through the polling routes.
//
// A stream served over HTTP/1.1 is taken over from net/http (hijacked) once its head is
// written: it costs no handler goroutine and no net/http buffers while idle, only a
// goroutine blocked in Read that notices the client going away. Events are appended to
// the stream's pending bytes and a few writer goroutines (for the whole instance) write
// them, each write bounded by a deadline; one pass per instance sends the keep-alives and
// checks the streams' tokens again. Where the connection cannot be taken over (HTTP/2),
// the handler's goroutine writes the stream instead, fed the same way.
type eventHub struct {
	bus           curhat.Bus
	clock         curhat.Clock // stamps the events the hub sends itself (account_closed)
	log           *slog.Logger
	maxPerSubject int // open streams of one subject on this instance
	maxStreams    int // open streams on this instance
	// verify checks a stream's token again at each keep-alive pass (nil: never).
	verify func(ctx context.Context, token string) error
	// writeTimeout bounds one write to a stream (sseWriteTimeout; tests shorten it).
	writeTimeout time.Duration

	// following tells whether the bus subscription is up (events of other instances, and
	// of this one, arrive only then).
	following atomic.Bool

	// ready holds the hijacked streams with bytes to write, each at most once.
	ready chan *stream
	// conns counts the goroutines watching hijacked connections.
	conns sync.WaitGroup

	mu       sync.RWMutex
	streams  map[subjectKey]map[*stream]struct{}
	open     int  // streams in the map
	shutdown bool // no new streams: the server is shutting down
}

// stream is one open event stream.
type stream struct {
	who    subjectKey
	token  tokenHash // of the token it was opened with
	bearer string    // the token, checked again at each keep-alive pass
	hub    *eventHub
	// conn is the hijacked connection; nil while the handler's goroutine writes the
	// stream, which wake then tells of pending bytes.
	conn net.Conn
	wake chan struct{}
	done chan struct{} // closed when the stream must end: revocation, write failure or shutdown
	once sync.Once

	mu      sync.Mutex
	pending []byte // frames to write; it may be a frame shared with other streams
	// held: pending bytes are not handed to a writer (one has them already, or the
	// stream's head is not written yet).
	held  bool
	ended bool
	// closing: the pending bytes are the stream's last event; it ends once they are
	// written, and nothing is queued after them.
	closing bool
	// presenceReady: the stream's first presence event is queued; later changes follow it.
	presenceReady bool
}

// end closes the stream: its handler or connection watcher cleans up.
func (st *stream) end() {
	st.once.Do(func() {
		st.mu.Lock()
		st.ended, st.pending = true, nil
		conn := st.conn
		st.mu.Unlock()
		close(st.done)
		if conn != nil {
			_ = conn.Close() // wakes the watcher
		}
	})
}

// send queues frame for the stream; a stream that has ssePendingMax bytes waiting drops it.
func (st *stream) send(frame []byte) {
	st.mu.Lock()
	kick := st.queue(frame)
	st.mu.Unlock()
	if kick {
		st.kick()
	}
}

// finish ends the stream after one last event, frame: what waits to be written is dropped
// (as by end), and nothing sent after it is queued.
func (st *stream) finish(frame []byte) {
	st.mu.Lock()
	if st.ended || st.closing {
		st.mu.Unlock()
		return
	}
	st.closing = true
	st.pending = frame[:len(frame):len(frame)]
	kick := !st.held
	st.held = true
	st.mu.Unlock()
	if kick {
		st.kick()
	}
}

// queue appends frame to the pending bytes (st.mu held) and reports whether the stream
// must be handed to its writer.
func (st *stream) queue(frame []byte) (kick bool) {
	if st.ended || st.closing || len(st.pending)+len(frame) > ssePendingMax {
		return false
	}
	if len(st.pending) == 0 {
		st.pending = frame[:len(frame):len(frame)] // shared, not copied: an append copies it
	} else {
		st.pending = append(st.pending, frame...)
	}
	kick = !st.held
	st.held = true
	return kick
}

// attach makes conn the stream's connection, unless the stream ended or the hub is
// shutting down; the connection's watcher is counted from then on.
func (st *stream) attach(conn net.Conn) bool {
	h := st.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if h.shutdown || st.ended {
		return false
	}
	st.conn = conn
	h.conns.Add(1)
	return true
}

// kick hands the stream's pending bytes to whoever writes them.
func (st *stream) kick() {
	if st.conn == nil {
		select {
		case st.wake <- struct{}{}:
		default:
		}
		return
	}
	st.hub.ready <- st // never blocks: a stream is in it at most once, and it holds every stream
}

// next returns the pending bytes for the stream's writer, which holds the stream until
// next returns nil: one writer at a time writes a stream, in order. A finished stream
// ends once its last event is written.
func (st *stream) next() []byte {
	st.mu.Lock()
	buf := st.pending
	st.pending = nil
	last := len(buf) == 0 && st.closing
	if len(buf) == 0 {
		st.held = false // what is sent next is handed over again
	}
	st.mu.Unlock()
	if last {
		st.end()
	}
	return buf
}

// release hands over what was sent while the stream's head was being written.
func (st *stream) release() {
	st.mu.Lock()
	kick := len(st.pending) > 0 && !st.ended
	st.held = kick
	st.mu.Unlock()
	if kick {
		st.kick()
	}
}

func newEventHub(bus curhat.Bus, clk curhat.Clock, log *slog.Logger, maxPerSubject, maxStreams int) *eventHub {
	h := &eventHub{bus: bus, clock: clk, log: log, maxPerSubject: cmp.Or(maxPerSubject, DefaultSSEMaxStreamsPerSubject),
		maxStreams: cmp.Or(maxStreams, DefaultSSEMaxStreams), writeTimeout: sseWriteTimeout,
		streams: map[subjectKey]map[*stream]struct{}{}}
	h.ready = make(chan *stream, h.maxStreams)
	return h
}

// follow delivers the events of every instance to this instance's streams until ctx ends.
// Events published while the subscription is down, or dropped because this instance fell
// behind, are lost (the bus logs it): the apps re-read the state through the polling
// routes, as after a dropped stream.
func (h *eventHub) follow(ctx context.Context) {
	_ = h.bus.Subscribe(ctx, eventsTopic, curhat.BusHandler{
		Message: func(raw []byte) {
			var w wireEvent
			if err := json.Unmarshal(raw, &w); err != nil || len(w.Subjects)%16 != 0 || len(w.Frame) == 0 {
				return
			}
			if w.Recipient == SubjectOperator && len(w.Subjects) == 0 {
				h.deliverToKind(SubjectOperator, w.Frame) // every operator (publishToOperators)
				return
			}
			h.deliver(w.Recipient, w.Subjects, w.Frame)
		},
		Reset: func(r curhat.BusReset) { h.following.Store(r.Subscribed) },
	})
}

// publish sends an event to its recipient on whichever instance it is connected to.
func (h *eventHub) publish(ctx context.Context, e event) {
	h.publishTo(ctx, e.Kind, e.Recipient, []uuid.UUID{e.SubjectID}, encodeFrame(e.Kind, e.Data, e.At))
}

// publishTo sends one event (its frame) to many subjects of one kind in one bus message.
func (h *eventHub) publishTo(ctx context.Context, kind string, recipient SubjectKind, ids []uuid.UUID, frame []byte) {
	if frame == nil || len(ids) == 0 {
		return
	}
	subjects := make([]byte, 0, 16*len(ids))
	for _, id := range ids {
		subjects = append(subjects, id[:]...)
	}
	raw, err := json.Marshal(wireEvent{Recipient: recipient, Subjects: subjects, Frame: frame})
	if err != nil {
		return
	}
	if err := h.bus.Publish(ctx, eventsTopic, raw); err != nil {
		h.log.WarnContext(ctx, "event not published; the app will see the change when it polls",
			"kind", kind, "recipients", len(ids), "err", err)
	}
}

// publishToOperators sends one event (its frame) to every operator's stream, on every
// instance: a wire event for operators that names no subject.
func (h *eventHub) publishToOperators(ctx context.Context, kind string, frame []byte) {
	if frame == nil {
		return
	}
	raw, err := json.Marshal(wireEvent{Recipient: SubjectOperator, Frame: frame})
	if err != nil {
		return
	}
	if err := h.bus.Publish(ctx, eventsTopic, raw); err != nil {
		h.log.WarnContext(ctx, "operator event not published; the console sees it when it reads the list", "kind", kind, "err", err)
	}
}

// deliver queues frame on the streams of the subjects (16 bytes each) of kind.
func (h *eventHub) deliver(kind SubjectKind, subjects []byte, frame []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for i := 0; i+16 <= len(subjects); i += 16 {
		for st := range h.streams[subjectKey{kind, uuid.UUID(subjects[i : i+16])}] {
			st.send(frame)
		}
	}
}

// subscribe opens a stream for the caller, who came with token: errTooManyStreams past
// the subject's bound, errStreamsUnavailable past the instance's or while shutting down.
// Nothing is handed to a writer before serve releases it.
func (h *eventHub) subscribe(c caller, token string) (*stream, error) {
	st := &stream{who: subjectKey{c.Kind, c.ID}, token: c.token, bearer: token, hub: h, done: make(chan struct{}), held: true}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.shutdown || h.open >= h.maxStreams:
		return nil, errStreamsUnavailable
	case len(h.streams[st.who]) >= h.maxPerSubject:
		return nil, errTooManyStreams
	}
	if h.streams[st.who] == nil {
		h.streams[st.who] = map[*stream]struct{}{}
	}
	h.streams[st.who][st] = struct{}{}
	h.open++
	return st, nil
}

// confirm verifies a stream's token again once the stream is subscribed: a revocation
// applied between the request's check and the subscription found no stream to close, and
// the token is refused now (the revocation's cache drop holds, see authenticator.epoch).
// A revocation applied after the subscription closes the stream itself.
func (h *eventHub) confirm(ctx context.Context, st *stream) error {
	if h.verify == nil || st.bearer == "" {
		return nil
	}
	return h.verify(ctx, st.bearer)
}

func (h *eventHub) unsubscribe(st *stream) {
	h.mu.Lock()
	if _, ok := h.streams[st.who][st]; ok {
		delete(h.streams[st.who], st)
		h.open--
		if len(h.streams[st.who]) == 0 {
			delete(h.streams, st.who)
		}
	}
	h.mu.Unlock()
	st.end()
}

// revoke ends the streams opened with a revoked token (or with any token of a revoked
// subject). The streams of a closed account are told why first (account_closed).
func (h *eventHub) revoke(rv revocation) {
	var last []byte
	if rv.closed != "" {
		last = h.accountClosedFrame(rv.closed)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !rv.byToken {
		for st := range h.streams[rv.subject] {
			if last != nil {
				st.finish(last)
			} else {
				st.end()
			}
		}
		return
	}
	for _, set := range h.streams {
		for st := range set {
			if st.token == rv.token {
				st.end()
			}
		}
	}
}

// closeAll ends every stream and refuses new ones: the server is shutting down, and a
// stream would otherwise hold its connection until the shutdown grace runs out (a
// hijacked one, forever: http.Server.Shutdown does not know it).
func (h *eventHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shutdown = true
	for _, set := range h.streams {
		for st := range set {
			st.end()
		}
	}
}

// subscribers returns how many streams this instance holds for a subject (tests).
func (h *eventHub) subscribers(kind SubjectKind, id uuid.UUID) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.streams[subjectKey{kind, id}])
}

// run writes the hijacked streams (a few writers for the instance) and sends the
// keep-alives until ctx ends; then it closes every stream and waits for their watchers.
func (h *eventHub) run(ctx context.Context) {
	var writers sync.WaitGroup
	for range sseWriters() {
		writers.Go(func() { h.write(ctx) })
	}
	tick := time.NewTicker(sseHeartbeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			h.keepAlive(ctx)
			continue
		case <-ctx.Done():
		}
		break
	}
	h.closeAll()
	writers.Wait()
	h.conns.Wait()
}

// sseWriters is how many goroutines write the hijacked streams: a stream whose client
// stopped reading holds one for sseWriteTimeout at most, the others carry on.
func sseWriters() int { return max(16, 4*runtime.GOMAXPROCS(0)) }

// write writes the pending bytes of the streams handed over until ctx ends.
func (h *eventHub) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-h.ready:
			buf := st.next()
			if len(buf) == 0 {
				continue // released
			}
			_ = st.conn.SetWriteDeadline(time.Now().Add(h.writeTimeout))
			if _, err := st.conn.Write(buf); err != nil {
				st.end() // gone, or not reading: the watcher cleans up
			}
			h.ready <- st // again, after the others waiting: what was sent meanwhile, or its release
		}
	}
}

// keepAlive is one pass over every stream: a stream whose token was revoked, expired or
// whose subject was deactivated since it opened is closed (a deactivated mitra's or a
// suspended client's after an account_closed event), the others get a keep-alive.
func (h *eventHub) keepAlive(ctx context.Context) {
	h.mu.RLock()
	all := make([]*stream, 0, h.open)
	for _, set := range h.streams {
		for st := range set {
			all = append(all, st)
		}
	}
	h.mu.RUnlock()
	for _, st := range all {
		if h.verify != nil && st.bearer != "" {
			vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := h.verify(vctx, st.bearer)
			cancel()
			var ae *apiError
			switch {
			case errors.Is(err, errMitraDeactivated):
				st.finish(h.accountClosedFrame(reasonMitraDeactivated))
				continue
			case errors.Is(err, errClientSuspended):
				st.finish(h.accountClosedFrame(reasonClientSuspended))
				continue
			case errors.Is(err, errClientErased):
				st.finish(h.accountClosedFrame(reasonClientErased))
				continue
			case errors.As(err, &ae):
				st.end()
				continue
			}
		}
		st.send(frameKeepAlive)
	}
}

// serveSSE streams the caller's events until the client goes away, the caller's token is
// revoked, or the server shuts down.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.serveStream(w, r, c, nil)
}

// serveStream is serveSSE; opened, when set, is called once the stream is subscribed and
// its head written.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, c caller, opened func()) error {
	var device string
	if c.Kind == SubjectMitra {
		var err error
		if device, err = deviceOf(r); err != nil {
			return err
		}
	}
	hub := s.app.events
	st, err := hub.subscribe(c, bearer(r))
	if err != nil {
		return err
	}
	if err := hub.confirm(r.Context(), st); err != nil {
		hub.unsubscribe(st)
		return err
	}
	// A mitra's stream is a lease of its device: no heartbeat is needed while
	// it is open, and when it closes the mitra stays reachable for the reconnect grace.
	// The app is told whether it is online now, and whenever that changes.
	var lease *availability.Stream
	if c.Kind == SubjectMitra {
		lease, err = s.app.mirror.OpenStream(r.Context(), availability.StreamParams{MitraID: c.ID, Device: device,
			OnPresence: func(online bool) { s.sendPresence(st, device, nil, online, false) }})
		if err != nil {
			hub.unsubscribe(st)
			return err
		}
	}
	cleanup := func() {
		hub.unsubscribe(st)
		if lease != nil {
			lease.Close()
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")

	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	switch {
	case errors.Is(err, http.ErrNotSupported):
		defer cleanup()
		return s.serveHandlerStream(w, r, st, lease, device, opened)
	case err != nil:
		cleanup()
		return nil // the connection is gone
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.status = http.StatusOK // for the request metrics: the head is written below
	}
	if !st.attach(conn) {
		_ = conn.Close()
		cleanup()
		return nil
	}
	_ = conn.SetWriteDeadline(time.Now().Add(hub.writeTimeout))
	if _, err := conn.Write(streamHead(r, h)); err != nil {
		_ = conn.Close()
		hub.conns.Done()
		cleanup()
		return nil
	}
	if lease != nil {
		s.sendPresence(st, device, lease, false, true)
	}
	st.release()
	if opened != nil {
		opened()
	}
	go func() {
		defer hub.conns.Done()
		// The client sends nothing more on an event stream: a read returns when it goes
		// away (or when the stream is ended and its connection closed).
		var b [1]byte
		_, _ = conn.Read(b[:])
		st.end()
		cleanup()
	}()
	return nil
}

// streamHead is the response head of a hijacked stream, with the headers set so far (the
// request id, CORS), then the first comment. The body ends when the connection closes.
func streamHead(r *http.Request, h http.Header) []byte {
	proto := "HTTP/1.1"
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		proto = "HTTP/1.0"
	}
	buf := []byte(proto + " 200 OK\r\n")
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			buf = fmt.Appendf(buf, "%s: %s\r\n", k, v)
		}
	}
	buf = append(buf, "Connection: close\r\n\r\n"...)
	return append(buf, frameConnected...)
}

// serveHandlerStream writes a stream from the handler's goroutine, where the connection
// cannot be taken over (HTTP/2).
func (s *Server) serveHandlerStream(w http.ResponseWriter, r *http.Request, st *stream, lease *availability.Stream, device string, opened func()) error {
	if _, ok := w.(http.Flusher); !ok {
		return fmt.Errorf("streaming unsupported")
	}
	st.wake = make(chan struct{}, 1)
	// The server's read timeout bounds a request's headers and body; a stream has nothing
	// left to read, and a read of the idle connection that hit the deadline would cancel
	// the stream. Writes get a deadline each instead, cleared at the end: the connection
	// may serve further requests.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	write := func(p []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.app.events.writeTimeout))
		if _, err := w.Write(p); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.WriteHeader(http.StatusOK)
	if !write(frameConnected) {
		return nil
	}
	if lease != nil {
		s.sendPresence(st, device, lease, false, true)
	}
	st.release()
	if opened != nil {
		opened()
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-st.done:
			return nil
		case <-s.app.bgCtx.Done():
			return nil
		case <-st.wake:
			for buf := st.next(); buf != nil; buf = st.next() {
				if !write(buf) {
					return nil
				}
			}
		}
	}
}

// sendPresence queues a presence event on a mitra's stream: the lease's state when the
// stream opens (first), then each change the lease reports. A change reported before the
// first is dropped: the first, read after it, says the same.
// lease is read only for the first event (first), so a refresh racing the stream's opening
// never reads it.
func (s *Server) sendPresence(st *stream, device string, lease *availability.Stream, online, first bool) {
	st.mu.Lock()
	if !first && !st.presenceReady {
		st.mu.Unlock()
		return
	}
	if first {
		st.presenceReady = true
		online = lease.Online()
	}
	kick := st.queue(encodeFrame(eventPresence, availability.PresenceEvent{DeviceID: device, Online: online}, s.app.clock.Now()))
	st.mu.Unlock()
	if kick {
		st.kick()
	}
}

// eventAccountClosed is a stream's last event when its subject's account was closed (a
// mitra deactivated, a client suspended): data {reason}. A stream closed because its token was revoked (a
// logout) gets none.
const eventAccountClosed = "account_closed"

// accountClosedFrame is the account_closed event for reason.
func (h *eventHub) accountClosedFrame(reason string) []byte {
	return encodeFrame(eventAccountClosed, map[string]any{"reason": reason}, h.clock.Now())
}

// eventPresence tells a mitra's stream whether the mitra is online on the stream's device:
// when it opens, and when a refresh of its lease finds that changed.
const eventPresence = availability.EventPresence
