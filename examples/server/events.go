package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
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

// sseHeartbeatEvery keeps idle streams open through proxies.
const sseHeartbeatEvery = 15 * time.Second

// eventHub fans events out to the Server-Sent-Event streams of this instance; events are
// published on the broadcaster so that a subscriber connected to any instance gets them.
// A disconnected app loses nothing it cannot re-read through the polling routes.
type eventHub struct {
	bus broadcaster
	log *slog.Logger

	mu      sync.RWMutex
	streams map[uuid.UUID]map[chan event]struct{} // subject id → open streams
}

func newEventHub(bus broadcaster, log *slog.Logger) *eventHub {
	return &eventHub{bus: bus, log: log, streams: map[uuid.UUID]map[chan event]struct{}{}}
}

func (h *eventHub) start(ctx context.Context) {
	h.bus.Subscribe(ctx, eventsTopic, func(raw []byte) {
		var w wireEvent
		if err := json.Unmarshal(raw, &w); err != nil {
			return
		}
		h.deliver(event{Kind: w.Kind, Recipient: w.Recipient, SubjectID: w.SubjectID, Data: w.Data, At: w.At})
	}, nil)
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
	for ch := range h.streams[e.SubjectID] {
		select {
		case ch <- e:
		default: // a stream too slow to keep up drops events; the app re-reads by polling
		}
	}
}

func (h *eventHub) subscribe(id uuid.UUID) chan event {
	ch := make(chan event, 64)
	h.mu.Lock()
	if h.streams[id] == nil {
		h.streams[id] = map[chan event]struct{}{}
	}
	h.streams[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *eventHub) unsubscribe(id uuid.UUID, ch chan event) {
	h.mu.Lock()
	delete(h.streams[id], ch)
	if len(h.streams[id]) == 0 {
		delete(h.streams, id)
	}
	h.mu.Unlock()
}

// subscribers returns how many streams this instance holds for id (tests).
func (h *eventHub) subscribers(id uuid.UUID) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.streams[id])
}

// serveSSE streams the caller's events until the request ends.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, c caller) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming unsupported")
	}
	ch := s.app.events.subscribe(c.ID)
	defer s.app.events.unsubscribe(c.ID, ch)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": connected\n\n")
	fl.Flush()

	tick := time.NewTicker(sseHeartbeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.app.bgCtx.Done():
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			fl.Flush()
		case e := <-ch:
			data, _ := json.Marshal(map[string]any{"kind": e.Kind, "data": e.Data, "at": e.At.UTC()})
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Kind, data); err != nil {
				return nil
			}
			fl.Flush()
		}
	}
}
