package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
