// Command server is the curhat reference HTTP server: it wires every SDK service and
// serves the API that the client, mitra and control-center apps talk to.
//
//	go run ./examples/server                                   # in memory, with demo data
//	DATABASE_URL=postgres://127.0.0.1:5432/test VALKEY_URL=redis://127.0.0.1:6379 go run ./examples/server
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log); err != nil {
		log.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	app, err := NewApp(startCtx, cfg, log, appOptions{})
	if err != nil {
		return err
	}
	defer app.Close(context.Background())

	// Everything that must hold before the first request (restored timers, the Valkey
	// seed) happens in Start, before the listener binds.
	if err := app.Start(startCtx); err != nil {
		return err
	}
	if cfg.OperatorTokenGenerated {
		fmt.Printf("OPERATOR_TOKEN=%s\n", cfg.OperatorToken)
	}
	if cfg.WebhookSecretGenerated {
		fmt.Printf("PAYMENT_WEBHOOK_SECRET=%s\n", cfg.PaymentWebhookSecret)
	}
	if cfg.DemoData {
		if err := app.seedDemo(startCtx, os.Stdout); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           NewServer(app),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	mode := "in-memory"
	if !cfg.InMemory {
		mode = "postgres+valkey"
		if cfg.ValkeyURL == "" {
			mode = "postgres"
		}
	}
	log.Info("listening", "addr", ln.Addr().String(), "mode", mode)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancelShut := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancelShut()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
