package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/valkeyutil"
)

// The floor of the HTTP measurements: a bare net/http server, run in its own process like
// the reference server, with one handler doing one Valkey SET and one doing no I/O.

var (
	bareOneSET = []byte("{\"online\":true}\n")
	bareNoIO   = []byte("{\"available\":true,\"available_count\":1,\"as_of\":\"2026-05-25T10:07:55.123Z\"}\n")
)

// serveBare runs the bare server on addr until SIGTERM/SIGINT (the tool's child mode).
func serveBare(addr, valkeyURL, key, databaseURL string) error {
	vc, err := valkeyutil.NewClient(valkeyutil.Options{URL: valkeyURL})
	if err != nil {
		return err
	}
	defer vc.Close()
	var pool *pgxpool.Pool
	if databaseURL != "" {
		// pgx's default pool, as the reference server's (DATABASE_URL without pool_max_conns).
		if pool, err = pgutil.NewPool(context.Background(), databaseURL, nil); err != nil {
			return err
		}
		defer pool.Close()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 300*time.Millisecond)
		err := vc.Do(ctx, vc.B().Set().Key(key).Value(time.Now().UTC().Format("2006-01-02T15:04:05.000Z")).Build()).Error()
		cancel()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bareOneSET)
	})
	mux.HandleFunc("GET /noop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bareNoIO)
	})
	hub := newBareHub()
	mux.HandleFunc("GET /sse", hub.serve)
	mux.HandleFunc("POST /broadcast", hub.broadcast)
	mux.HandleFunc("GET /sse/{id}", hub.serve)
	mux.HandleFunc("POST /relay/{id}", hub.relay)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	durable := &durableRelay{hub: hub, pool: pool, vc: vc, channel: key + ":relay"}
	mux.HandleFunc("POST /relay-durable/{id}", durable.relay)
	go durable.follow(ctx)
	go func() {
		<-ctx.Done()
		hub.closeAll()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bareHub is the floor of offer delivery: a bare net/http SSE broadcaster. POST /broadcast
// puts its body on one channel; one goroutine hands it to every open stream's buffered
// channel (dropping it for a stream whose buffer is full, as the reference server does), and
// each stream's handler writes it and flushes.
//
// It is the floor of message delivery too, as a bare relay: a stream opened as
// GET /sse/{id} is also reachable by its id, and POST /relay/{id} hands its body to that
// stream's channel at once (404 when no such stream is open).
type bareHub struct {
	in      chan []byte
	mu      sync.RWMutex
	streams map[chan []byte]struct{}
	byID    map[string]chan []byte
	done    chan struct{}
	once    sync.Once
}

func newBareHub() *bareHub {
	h := &bareHub{in: make(chan []byte, 64), streams: map[chan []byte]struct{}{}, byID: map[string]chan []byte{},
		done: make(chan struct{})}
	go func() {
		for msg := range h.in {
			h.mu.RLock()
			for ch := range h.streams {
				select {
				case ch <- msg:
				default:
				}
			}
			h.mu.RUnlock()
		}
	}()
	return h
}

func (h *bareHub) closeAll() { h.once.Do(func() { close(h.done) }) }

func (h *bareHub) broadcast(w http.ResponseWriter, r *http.Request) {
	msg, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case h.in <- msg:
		w.WriteHeader(http.StatusOK)
	case <-r.Context().Done():
	}
}

// relay hands the body to the stream of {id}.
func (h *bareHub) relay(w http.ResponseWriter, r *http.Request) {
	msg, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !h.deliver(r.PathValue("id"), msg) {
		http.Error(w, "no such stream", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// deliver hands msg to the stream of id (false: no such stream).
func (h *bareHub) deliver(id string, msg []byte) bool {
	h.mu.RLock()
	ch, ok := h.byID[id]
	h.mu.RUnlock()
	if !ok {
		return false
	}
	select {
	case ch <- msg:
	default: // a stream that does not keep up drops it, as the reference server's do
	}
	return true
}

// durableRelay is the floor of a durable message on several instances: POST
// /relay-durable/{id}?table=schema.table inserts the body into the table (one statement,
// its commit) and publishes it on a Valkey channel; every bare server subscribed to it
// hands it to the stream of {id} — the least a chat that stores each message in Postgres and
// reaches the other party on whichever instance holds its stream must do.
type durableRelay struct {
	hub     *bareHub
	pool    *pgxpool.Pool
	vc      valkey.Client
	channel string
}

// tableName is a schema-qualified table name the tool made.
var tableName = regexp.MustCompile(`^[a-z0-9_]+\.[a-z0-9_]+$`)

func (d *durableRelay) relay(w http.ResponseWriter, r *http.Request) {
	table := r.URL.Query().Get("table")
	if d.pool == nil || !tableName.MatchString(table) {
		http.Error(w, "no database, or no table=schema.table", http.StatusBadRequest)
		return
	}
	msg, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	if _, err := d.pool.Exec(r.Context(), "INSERT INTO "+table+" (id, stream, body) VALUES ($1, $2, $3)", uuid.New(), id, string(msg)); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := d.vc.Do(r.Context(), d.vc.B().Publish().Channel(d.channel).Message(id+"\n"+string(msg)).Build()).Error(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// follow delivers what the channel carries until ctx ends.
func (d *durableRelay) follow(ctx context.Context) {
	for ctx.Err() == nil {
		_ = d.vc.Receive(ctx, d.vc.B().Subscribe().Channel(d.channel).Build(), func(m valkey.PubSubMessage) {
			if id, msg, ok := strings.Cut(m.Message, "\n"); ok {
				d.hub.deliver(id, []byte(msg))
			}
		})
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (h *bareHub) serve(w http.ResponseWriter, r *http.Request) {
	ch := make(chan []byte, 64)
	id := r.PathValue("id")
	h.mu.Lock()
	h.streams[ch] = struct{}{}
	if id != "" {
		h.byID[id] = ch
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.streams, ch)
		if id != "" && h.byID[id] == ch {
			delete(h.byID, id)
		}
		h.mu.Unlock()
	}()
	rc := http.NewResponseController(w)
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if !send([]byte(": connected\n\n")) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case msg := <-ch:
			if !send(msg) {
				return
			}
		}
	}
}
