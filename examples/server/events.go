package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
)

// event is one realtime message for one recipient (a client or a mitra).
type event struct {
	Kind      string         `json:"kind"`
	Recipient SubjectKind    `json:"-"`
	SubjectID uuid.UUID      `json:"-"`
	Data      map[string]any `json:"data"`
	At        time.Time      `json:"at"`
}

// wireEvent is how events travel between instances.
type wireEvent struct {
	Kind      string         `json:"k"`
	Recipient SubjectKind    `json:"r"`
	SubjectID uuid.UUID      `json:"s"`
	Data      map[string]any `json:"d"`
	At        time.Time      `json:"t"`
}

const eventsTopic = "events"

// sseHeartbeatEvery keeps idle streams open through proxies; at each beat the stream's
// token is checked again (from memory: a revocation message lost while Valkey was down
// closes the stream within AUTH_CACHE_SECONDS plus this).
const sseHeartbeatEvery = 15 * time.Second

// sseWriteTimeout bounds one write to a stream: a client that stops reading loses its
// stream instead of holding a goroutine forever.
const sseWriteTimeout = 10 * time.Second

// eventHub fans events out to the Server-Sent-Event streams of this instance; events are
// published on the bus so that a subscriber connected to any instance gets them.
// A disconnected app loses nothing it cannot re-read through the polling routes.
type eventHub struct {
	bus           curhat.Bus
	log           *slog.Logger
	maxPerSubject int // open streams of one subject on this instance
	maxStreams    int // open streams on this instance

	// following tells whether the bus subscription is up (events of other instances, and
	// of this one, arrive only then).
	following atomic.Bool

	mu       sync.RWMutex
	streams  map[subjectKey]map[*stream]struct{}
	open     int  // streams in the map
	shutdown bool // no new streams: the server is shutting down
}

// stream is one open event stream.
type stream struct {
	who   subjectKey
	token tokenHash // of the token it was opened with
	ch    chan event
	done  chan struct{} // closed when the stream must end: revocation or shutdown
	once  sync.Once
}

func (st *stream) end() { st.once.Do(func() { close(st.done) }) }

func newEventHub(bus curhat.Bus, log *slog.Logger, maxPerSubject, maxStreams int) *eventHub {
	return &eventHub{bus: bus, log: log, maxPerSubject: cmp.Or(maxPerSubject, DefaultSSEMaxStreamsPerSubject),
		maxStreams: cmp.Or(maxStreams, DefaultSSEMaxStreams), streams: map[subjectKey]map[*stream]struct{}{}}
}

// follow delivers the events of every instance to this instance's streams until ctx ends.
// Events published while the subscription is down, or dropped because this instance fell
// behind, are lost (the bus logs it): the apps re-read the state through the polling
// routes, as after a dropped stream.
func (h *eventHub) follow(ctx context.Context) {
	_ = h.bus.Subscribe(ctx, eventsTopic, curhat.BusHandler{
		Message: func(raw []byte) {
			var w wireEvent
			if err := json.Unmarshal(raw, &w); err != nil {
				return
			}
			h.deliver(event{Kind: w.Kind, Recipient: w.Recipient, SubjectID: w.SubjectID, Data: w.Data, At: w.At})
		},
		Reset: func(r curhat.BusReset) { h.following.Store(r.Subscribed) },
	})
}

// publish sends an event to its recipient on whichever instance it is connected to.
func (h *eventHub) publish(ctx context.Context, e event) {
	raw, err := json.Marshal(wireEvent{Kind: e.Kind, Recipient: e.Recipient, SubjectID: e.SubjectID, Data: e.Data, At: e.At})
	if err != nil {
		return
	}
	if err := h.bus.Publish(ctx, eventsTopic, raw); err != nil {
		h.log.WarnContext(ctx, "event not published; the app will see the change when it polls", "kind", e.Kind, "err", err)
	}
}

func (h *eventHub) deliver(e event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for st := range h.streams[subjectKey{e.Recipient, e.SubjectID}] {
		select {
		case st.ch <- e:
		default: // a stream too slow to keep up drops events; the app re-reads by polling
		}
	}
}

// subscribe opens a stream for the caller: errTooManyStreams past the subject's bound,
// errStreamsUnavailable past the instance's or while shutting down.
func (h *eventHub) subscribe(c caller) (*stream, error) {
	st := &stream{who: subjectKey{c.Kind, c.ID}, token: c.token, ch: make(chan event, 64), done: make(chan struct{})}
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
// subject).
func (h *eventHub) revoke(rv revocation) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !rv.byToken {
		for st := range h.streams[rv.subject] {
			st.end()
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
// stream would otherwise hold its connection until the shutdown grace runs out.
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

// serveSSE streams the caller's events until the request ends, the caller's token is
// revoked, or the server shuts down.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, c caller) error {
	if _, ok := w.(http.Flusher); !ok {
		return fmt.Errorf("streaming unsupported")
	}
	var device string
	if c.Kind == SubjectMitra {
		var err error
		if device, err = deviceOf(r); err != nil {
			return err
		}
	}
	st, err := s.app.events.subscribe(c)
	if err != nil {
		return err
	}
	defer s.app.events.unsubscribe(st)
	// A mitra's stream is a lease of its device (SPEC §20): no heartbeat is needed while
	// it is open, and when it closes the mitra stays reachable for the reconnect grace.
	// The app is told whether it is online now, and whenever that changes.
	var presence chan bool
	var lease *availability.Stream
	if c.Kind == SubjectMitra {
		presence = make(chan bool, 1)
		lease, err = s.app.mirror.OpenStream(r.Context(), availability.StreamParams{MitraID: c.ID, Device: device,
			OnPresence: func(online bool) { latest(presence, online) }})
		if err != nil {
			return err
		}
		defer lease.Close()
		latest(presence, lease.Online())
	}

	// The server's read timeout bounds a request's headers and body; a stream has nothing
	// left to read, and a read of the idle connection that hit the deadline would cancel
	// the stream. (The net/http of Go 1.26 clears the deadline itself when it starts its
	// background read; older releases did not, and nothing documents it.) Writes get a
	// deadline each instead, cleared at the end: the connection may serve further requests.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	send := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if !send(": connected\n\n") {
		return nil
	}

	token := bearer(r)
	tick := time.NewTicker(sseHeartbeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-st.done:
			return nil
		case <-s.app.bgCtx.Done():
			return nil
		case <-tick.C:
			var ae *apiError
			if _, err := s.app.auth.verify(r.Context(), token); errors.As(err, &ae) {
				return nil // revoked, expired or deactivated since the stream opened
			}
			if !send(": keep-alive\n\n") {
				return nil
			}
		case e := <-st.ch:
			data, _ := json.Marshal(map[string]any{"kind": e.Kind, "data": e.Data, "at": e.At.UTC()})
			if !send("event: %s\ndata: %s\n\n", e.Kind, data) {
				return nil
			}
		case online := <-presence: // nil, never ready, on a client's stream
			data, _ := json.Marshal(map[string]any{"kind": eventPresence,
				"data": map[string]any{"device_id": device, "online": online}, "at": s.app.clock.Now().UTC()})
			if !send("event: %s\ndata: %s\n\n", eventPresence, data) {
				return nil
			}
		}
	}
}

// eventPresence tells a mitra's stream whether the mitra is online on the stream's device:
// when it opens, and when a refresh of its lease finds that changed.
const eventPresence = availability.EventPresence

// latest puts v in a channel of one, replacing what is there: a slow reader gets the last
// value, not a backlog.
func latest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
