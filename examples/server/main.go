// Command server is the curhat reference HTTP server: over one curhat.Client (every SDK
// service, wired, with its sweeps) it serves the API that the client, mitra and
// control-center apps talk to, and adds what a host adds: accounts, bearer tokens and
// event streams. Its non-test files import only public packages: copy it into your module.
//
//	go run ./examples/server                                   # in memory, with demo data
//	DATABASE_URL=postgres://127.0.0.1:5432/test VALKEY_URL=redis://127.0.0.1:6379 PAYMENT_GATEWAY=fake \
//	OPERATOR_TOKEN=$(openssl rand -base64 32) PAYMENT_WEBHOOK_SECRET=$(openssl rand -base64 32) go run ./examples/server
package main

import (
	"cmp"
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

	"github.com/curhat/curhat/pricing"
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
	if cfg.WebhookSecretGenerated && cfg.PaymentGateway == GatewayFake { // only the fake gateway uses it
		fmt.Printf("PAYMENT_WEBHOOK_SECRET=%s\n", cfg.PaymentWebhookSecret)
	}
	if cfg.DemoData {
		if err := app.seedDemo(startCtx, os.Stdout, defaultDemoPace); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}

	var sessionTiers int
	if !cfg.InMemory {
		tiers, err := app.client.Pricing().ListTiers(startCtx, pricing.ListTiersParams{Mode: pricing.ModeSession})
		if err != nil {
			return fmt.Errorf("list price tiers: %w", err)
		}
		sessionTiers = len(tiers)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		log.Info("metrics", "addr", metricsLn.Addr().String())
	}
	mode := "in-memory"
	if !cfg.InMemory {
		mode = "postgres+valkey"
		if cfg.ValkeyURL == "" {
			mode = "postgres"
		}
	}
	log.Info("listening", "addr", ln.Addr().String(), "mode", mode, "payment_gateway", cfg.PaymentGateway)
	printBanner(os.Stdout, ln.Addr(), os.Getpid())
	printApps(os.Stdout, ln.Addr(), app.demoLogins)
	if !cfg.InMemory {
		printPostgresStart(os.Stdout, app.migrated, sessionTiers, cfg.DemoData)
	}
	printPayments(os.Stdout, cfg)
	return serve(ctx, app, ln, metricsLn)
}

// serve answers the API on ln (and GET /metrics on metricsLn, when not nil) until ctx ends,
// then shuts down: the listeners close, open event streams end at once, and requests in
// flight get cfg.ShutdownGrace to finish before their connections are cut. It returns an
// error when a listener fails or the grace runs out.
func serve(ctx context.Context, app *App, ln, metricsLn net.Listener) error {
	var handler http.Handler = NewServer(app)
	if app.wrapHandler != nil {
		handler = app.wrapHandler(handler)
	}
	api := newHTTPServer(app.cfg, handler, app.log)
	// An event stream never finishes by itself: without this, every open stream would hold
	// the shutdown until the grace runs out.
	api.RegisterOnShutdown(app.events.closeAll)
	servers, listeners := []*http.Server{api}, []net.Listener{ln}
	if metricsLn != nil {
		servers = append(servers, newHTTPServer(app.cfg, metricsServer(app), app.log))
		listeners = append(listeners, metricsLn)
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}

	var errs []error
	returned := 0
	select {
	case err := <-errc: // a listener failed
		returned++
		errs = append(errs, err)
	case <-ctx.Done():
	}
	app.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), app.cfg.ShutdownGrace)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutCtx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
			_ = srv.Close() // the grace ran out: cut what is left
		}
	}
	for ; returned < len(servers); returned++ {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newHTTPServer is the http.Server of the API (and of METRICS_ADDR). ReadTimeout bounds the
// read of a whole request, headers and body: a body trickled a byte at a time is cut
// there. Event streams clear it for their own connection (serveSSE). There is no
// WriteTimeout for the same reason: a stream sets a deadline per write instead.
func newHTTPServer(cfg Config, h http.Handler, log *slog.Logger) *http.Server {
	read := cmp.Or(cfg.ReadTimeout, DefaultReadTimeout)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, read),
		ReadTimeout:       read,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
