package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/curhat/curhat/internal/valkeyutil"
)

// The floor of the HTTP measurements: a bare net/http server, run in its own process like
// the reference server, with one handler doing one Valkey SET and one doing no I/O.

var (
	bareOneSET = []byte("{\"online\":true}\n")
	bareNoIO   = []byte("{\"available\":true,\"available_count\":1,\"as_of\":\"2026-05-25T10:07:55.123Z\"}\n")
)

// serveBare runs the bare server on addr until SIGTERM/SIGINT (the tool's child mode).
func serveBare(addr, valkeyURL, key string) error {
	vc, err := valkeyutil.NewClient(valkeyutil.Options{URL: valkeyURL})
	if err != nil {
		return err
	}
	defer vc.Close()
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
type bareHub struct {
	in      chan []byte
	mu      sync.RWMutex
	streams map[chan []byte]struct{}
	done    chan struct{}
	once    sync.Once
}

func newBareHub() *bareHub {
	h := &bareHub{in: make(chan []byte, 64), streams: map[chan []byte]struct{}{}, done: make(chan struct{})}
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

func (h *bareHub) serve(w http.ResponseWriter, r *http.Request) {
	ch := make(chan []byte, 64)
	h.mu.Lock()
	h.streams[ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.streams, ch)
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
