package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/availability/availabilitytest"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/paymenttest"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/pricing/pricingtest"
	"github.com/curhat/curhat/sweeps"
)

// valkeyTimeout bounds every Valkey call the server itself makes (pub/sub publish, ping).
const valkeyTimeout = 300 * time.Millisecond

// busBuffer is how many events may wait for one bus subscriber: a blast publishes one
// event per offered mitra at once.
const busBuffer = 16 * 1024

// App wires every SDK service for the reference server, in memory or over Postgres + Valkey.
type App struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock
	hooks metrics

	pool     *pgxpool.Pool // nil in memory mode
	ownsPool bool          // the App opened pool and closes it
	pgCount  *pgutil.QueryCounter
	valkey   valkey.Client // nil without VALKEY_URL
	names    valkeyutil.Names

	bus      curhat.Bus // config invalidations, token revocations and events, across instances
	accounts accountStore
	auth     *authenticator
	runtime  *curhat.RuntimeConfig
	mirror   *availability.Mirror
	pricing  *pricing.PricingStore
	gateway  payment.Gateway
	// fakeGateway is gateway when it is the fake one (always, unless a test swaps it):
	// POST /api/internal/fake-gateway/refund-failures needs it.
	fakeGateway *paymenttest.FakeGateway
	// checkout is the gateway when the fake is in use: its checkout URLs open this
	// server's checkout page (fake_checkout.go).
	checkout *fakeCheckout
	payments *payment.Service
	events   *eventHub
	pairer   *pairing.Pairer
	exts     *extension.Service

	sweeps []*sweeps.Sweep
	// subscriptions are the bus subscriptions of the authenticator and the event hub; they
	// end with bgCtx.
	subscriptions sync.WaitGroup

	wrapHandler func(http.Handler) http.Handler // appOptions.WrapHandler

	demoMu sync.Mutex
	demo   *demoPlayer // DEMO_MITRAS=auto (demo.go)

	bgCtx    context.Context
	bgCancel context.CancelFunc
	closeMu  sync.Once
}

// appOptions are test seams.
type appOptions struct {
	Clock clock.Clock
	Pool  *pgxpool.Pool // use this pool instead of opening DATABASE_URL
	// PGCounter is the statement counter installed as Pool's tracer.
	PGCounter *pgutil.QueryCounter
	// Gateway replaces the fake payment gateway (several instances sharing one fake, as
	// they would share one provider; or a gateway that is not the fake).
	Gateway payment.Gateway
	// WrapHandler wraps the API handler that serve builds (tests check every exchange
	// against openapi.json).
	WrapHandler func(http.Handler) http.Handler
}

// NewApp connects to the configured backends (or builds the in-memory ones) and wires the
// services. Nothing runs in the background until Start.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger, opts appOptions) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, clock: clock.Or(opts.Clock), hooks: noMetrics{}, gateway: opts.Gateway, wrapHandler: opts.WrapHandler}
	a.hooks = newPromMetrics(log, a.driftReport)
	a.bgCtx, a.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	a.names = valkeyutil.NewNames(cfg.ValkeyKeyPrefix, cfg.ValkeyCluster)

	var err error
	if err = a.connect(ctx, opts); err != nil {
		a.Close(ctx)
		return nil, err
	}
	a.wire()
	return a, nil
}

func (a *App) connect(ctx context.Context, opts appOptions) error {
	if a.cfg.InMemory {
		a.bus = curhat.NewMemoryBus()
		a.accounts = newMemAccounts()
		return nil
	}
	a.pool, a.pgCount = opts.Pool, opts.PGCounter
	if a.pool == nil {
		a.pgCount = &pgutil.QueryCounter{}
		pool, err := pgutil.NewPool(ctx, a.cfg.DatabaseURL, func(c *pgxpool.Config) { c.ConnConfig.Tracer = a.pgCount })
		if err != nil {
			return fmt.Errorf("DATABASE_URL: %w", err)
		}
		a.pool = pool
		a.ownsPool = true
	}
	if _, err := curhat.Migrate(ctx, a.pool); err != nil {
		return err
	}
	a.accounts = pgAccounts{pool: a.pool}
	if a.cfg.ValkeyURL == "" {
		a.log.Warn("VALKEY_URL unset: running on Postgres only (no mirror, no cross-instance events)")
		a.bus = curhat.NewMemoryBus()
		return nil
	}
	vc, err := valkeyutil.NewClient(valkeyutil.Options{URL: a.cfg.ValkeyURL, Cluster: a.cfg.ValkeyCluster, DisableCache: !a.cfg.ValkeyClientCache})
	if err != nil {
		// Valkey is a disposable mirror: the server still works without it, slower.
		return fmt.Errorf("valkey: %w", err)
	}
	a.valkey = vc
	a.bus, err = curhat.NewValkeyBus(vc, a.names, &curhat.BusConfig{Logger: a.log, PublishTimeout: valkeyTimeout, Buffer: busBuffer})
	return err
}

func (a *App) wire() {
	// Runtime config.
	var cfgStore curhat.ConfigStore
	if a.pool != nil {
		cfgStore = curhat.NewPostgresConfigStore(a.pool)
	} else {
		cfgStore = curhat.NewMemoryConfigStore()
	}
	a.runtime = curhat.NewRuntimeConfig(cfgStore, a.bus, &curhat.RuntimeConfigOptions{Logger: a.log, Clock: a.clock})

	a.wireAuth()

	// Payments: the fake gateway stands in for a payment provider.
	if a.gateway == nil {
		a.gateway = paymenttest.NewGateway()
	}
	a.fakeGateway, _ = a.gateway.(*paymenttest.FakeGateway)
	if a.fakeGateway != nil {
		a.checkout = newFakeCheckout(a.gateway, a.cfg.PublicURL)
		a.gateway = a.checkout
	}
	pcfg := &payment.Config{Logger: a.log, Clock: a.clock, TTL: a.runtime.PaymentSessionTTL, Hooks: paymentHooks(a.hooks),
		RefundRetryBase: a.cfg.PaymentRefundRetry}

	var pairStore pairing.Store
	var extStore extension.Store

	// Availability mirror.
	mcfg := &availability.Config{
		Logger:             a.log,
		Clock:              a.clock,
		StaleThreshold:     a.cfg.HeartbeatStale,
		DefaultMaxSessions: a.runtime.MitraMaxConcurrentSessions,
		Hooks:              availabilityHooks(a.hooks),
	}
	if a.pool != nil {
		var cache availability.Cache
		if a.valkey != nil {
			cache = availability.NewValkeyCache(a.valkey, availability.CacheConfig{Names: a.names, UseClientCache: a.cfg.ValkeyClientCache})
		}
		a.mirror = availability.NewMirror(availability.NewPostgresStore(a.pool), cache, mcfg)
		a.pricing = pricing.NewPricingStore(pricing.NewPostgresStore(a.pool), &pricing.Config{Logger: a.log, Clock: a.clock})
		a.payments = payment.NewService(payment.NewPostgresStore(a.pool), a.gateway, pcfg)
		pairStore, extStore = pairing.NewPostgresStore(a.pool), extension.NewPostgresStore(a.pool)
	} else {
		store := availabilitytest.NewStore()
		store.SetOnDeactivate(func(ctx context.Context, id uuidT) error {
			return a.accounts.RevokeSubject(ctx, SubjectMitra, id, a.clock.Now())
		})
		a.mirror = availability.NewMirror(store, availabilitytest.NewCache(), mcfg)
		payStore := paymenttest.NewStore()
		payStore.Delivered = a.delivered // what Postgres reads from chat_sessions and extensions
		a.payments = payment.NewService(payStore, a.gateway, pcfg)
		priceStore := pricingtest.NewStore()
		priceStore.HasPaidChatStart = a.payments.HasPaidChatStart
		a.pricing = pricing.NewPricingStore(priceStore, &pricing.Config{Logger: a.log, Clock: a.clock})
		pairStore, extStore = a.memoryPairingStores(store, payStore)
	}
	a.wirePairing(pairStore, extStore)
}

// Start restores what must run before the listener binds (timers, the Valkey seed) and
// starts the background work (subscriptions, watchdog, sweeps).
func (a *App) Start(ctx context.Context) error {
	if err := a.runtime.Start(a.bgCtx); err != nil {
		return err
	}
	a.subscriptions.Go(func() { a.auth.follow(a.bgCtx) })
	a.subscriptions.Go(func() { a.events.follow(a.bgCtx) })
	// Chat-session expiry timers come back before anything else: a session already past
	// its end is ended now, and the seed below then sees the right capacities.
	if n, err := a.pairer.RestoreTimers(ctx); err != nil {
		return fmt.Errorf("restore chat session timers: %w", err)
	} else if n > 0 {
		a.log.Info("chat session timers restored", "count", n)
	}
	if _, err := a.mirror.SeedFromPostgres(ctx); err != nil {
		// Not fatal: reads fall back to Postgres and the watchdog reseeds when Valkey answers.
		a.log.Warn("initial Valkey seed failed; serving from Postgres until Valkey answers", "err", err)
	}
	if err := a.mirror.Start(a.bgCtx); err != nil {
		return err
	}
	if a.cfg.Sweeps {
		a.startSweeps()
	}
	return nil
}

func (a *App) startSweeps() {
	add := func(name string, every time.Duration, job sweeps.Job) {
		s := sweeps.New(job, sweeps.Config{Name: name, Interval: every, Logger: a.log, Hooks: a.hooks})
		a.sweeps = append(a.sweeps, s)
		_ = s.Start(a.bgCtx)
	}
	add("auto_offline", a.cfg.AutoOfflineInterval, func(ctx context.Context) (sweeps.Report, error) {
		r, err := a.mirror.AutoOffline(ctx)
		return sweeps.Report{Counts: map[string]int{"offlined": r.Offlined}}, err
	})
	add("heartbeat_mirror", a.cfg.HeartbeatMirrorEvery, func(ctx context.Context) (sweeps.Report, error) {
		r, err := a.mirror.MirrorHeartbeats(ctx)
		return sweeps.Report{Counts: map[string]int{"updated": r.Updated}}, err
	})
	add("online_mirror_reseed", a.cfg.OnlineMirrorReseed, func(ctx context.Context) (sweeps.Report, error) {
		r, err := a.mirror.SeedFromPostgres(ctx)
		return sweeps.Report{Counts: map[string]int{"mitras": r.Mitras}}, err
	})
	add("stale_payments", a.cfg.PaymentSweepInterval, func(ctx context.Context) (sweeps.Report, error) {
		r, err := a.payments.ExpireStale(ctx)
		return sweeps.Report{Counts: map[string]int{"expired": r.Expired, "handler_errors": r.HandlerErrors}}, err
	})
	add("refund_retry", a.cfg.PaymentRefundRetry, func(ctx context.Context) (sweeps.Report, error) {
		r, err := a.payments.RetryRefunds(ctx)
		// Failure rows whose refunds went through while the notice was lost say so now.
		n, syncErr := a.pairer.SyncFailureRefunds(ctx)
		return sweeps.Report{Counts: map[string]int{
			"attempted": r.Attempted, "succeeded": r.Succeeded, "failed": r.Failed, "gave_up": r.GaveUp,
			"failure_rows_refunded": n,
		}}, errors.Join(err, syncErr)
	})
	add("timeouts", a.cfg.TimeoutsSweepInterval, func(ctx context.Context) (sweeps.Report, error) {
		r, err := a.pairer.SweepTimeouts(ctx)
		n, extErr := a.exts.SweepExpired(ctx)
		return sweeps.Report{Counts: map[string]int{
			"pairings_timed_out": r.PairingsTimedOut, "sessions_expired": r.SessionsExpired,
			"abandoned": r.Abandoned, "orphans": r.Orphans, "extensions_expired": n,
		}}, errors.Join(err, extErr)
	})
}

// Close stops the background work and closes connections.
func (a *App) Close(ctx context.Context) {
	a.closeMu.Do(func() {
		a.stopDemo()
		for _, s := range a.sweeps {
			s.Stop(ctx)
		}
		if a.mirror != nil {
			a.mirror.Stop(ctx)
		}
		if a.pairer != nil {
			a.pairer.Stop(ctx)
		}
		if a.exts != nil {
			a.exts.Close()
		}
		if a.runtime != nil {
			a.runtime.Stop(ctx)
		}
		a.bgCancel()
		a.subscriptions.Wait()
		if a.valkey != nil {
			a.valkey.Close()
		}
		if a.pool != nil && a.ownsPool {
			a.pool.Close()
		}
	})
}

// readiness reports "ok", "degraded", "down" or "memory" for Postgres and Valkey.
func (a *App) readiness(ctx context.Context) (pg, vk string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	pg, vk = "memory", "memory"
	if a.pool != nil {
		pg = "ok"
		if err := a.pool.Ping(ctx); err != nil {
			pg = "down"
		}
		vk = "disabled"
	}
	if a.valkey != nil {
		vk = "ok"
		vctx, vcancel := context.WithTimeout(ctx, valkeyTimeout)
		defer vcancel()
		if err := a.valkey.Do(vctx, a.valkey.B().Ping().Build()).Error(); err != nil {
			vk = "degraded" // every read falls back to Postgres: degraded, not unready
		}
	}
	return pg, vk
}

// pgQueries returns the number of statements sent to Postgres so far (0 in memory mode).
func (a *App) pgQueries() int64 {
	if a.pgCount == nil {
		return 0
	}
	return a.pgCount.Count()
}

// metrics receives what operators watch; the Prometheus adapter implements it.
type metrics interface {
	RequestDone(route string, status int, d time.Duration)
	SweepRun(name string, r sweeps.Report, err error)
}

type noMetrics struct{}

func (noMetrics) RequestDone(string, int, time.Duration) {}
func (noMetrics) SweepRun(string, sweeps.Report, error)  {}
