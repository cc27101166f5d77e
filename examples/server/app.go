package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

	bus      broadcaster
	accounts accountStore
	auth     *authenticator
	runtime  *curhat.RuntimeConfig
	mirror   *availability.Mirror
	pricing  *pricing.PricingStore
	gateway  payment.Gateway
	// fakeGateway is gateway when it is the fake one (always, unless a test swaps it):
	// POST /api/internal/fake-gateway/refund-failures needs it.
	fakeGateway *paymenttest.FakeGateway
	payments    *payment.Service
	events      *eventHub
	pairer      *pairing.Pairer
	exts        *extension.Service

	sweeps []*sweeps.Sweep

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
}

// NewApp connects to the configured backends (or builds the in-memory ones) and wires the
// services. Nothing runs in the background until Start.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger, opts appOptions) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, clock: clock.Or(opts.Clock), hooks: noMetrics{}, gateway: opts.Gateway}
	a.hooks = newPromMetrics(log, a.driftReport)
	a.bgCtx, a.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	a.names = valkeyutil.NewNames(cfg.ValkeyKeyPrefix, cfg.ValkeyCluster)

	var err error
	if err = a.connect(ctx, opts); err != nil {
		a.Close(ctx)
		return nil, err
	}
	if err = a.wire(); err != nil {
		a.Close(ctx)
		return nil, err
	}
	return a, nil
}

func (a *App) connect(ctx context.Context, opts appOptions) error {
	if a.cfg.InMemory {
		a.bus = newMemBus()
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
		a.bus = newMemBus()
		return nil
	}
	vc, err := valkeyutil.NewClient(valkeyutil.Options{URL: a.cfg.ValkeyURL, Cluster: a.cfg.ValkeyCluster, DisableCache: !a.cfg.ValkeyClientCache})
	if err != nil {
		// Valkey is a disposable mirror: the server still works without it, slower.
		return fmt.Errorf("valkey: %w", err)
	}
	a.valkey = vc
	a.bus = &valkeyBus{client: vc, prefix: a.names.Prefix(), timeout: valkeyTimeout, log: a.log}
	return nil
}

func (a *App) wire() error {
	// Runtime config.
	var cfgStore curhat.ConfigStore
	var cfgBus curhat.ConfigBus
	if a.pool != nil {
		cfgStore = curhat.NewPostgresConfigStore(a.pool)
	} else {
		cfgStore = curhat.NewMemoryConfigStore()
	}
	if a.valkey != nil {
		cfgBus = curhat.NewValkeyConfigBus(a.valkey, a.names.ConfigInvalidate())
	} else {
		cfgBus = curhat.NewMemoryConfigBus()
	}
	var err error
	if a.runtime, err = curhat.NewRuntimeConfig(cfgStore, cfgBus, &curhat.RuntimeConfigOptions{Logger: a.log, Clock: a.clock}); err != nil {
		return err
	}

	a.wireAuth()

	// Payments: the fake gateway stands in for a payment provider.
	if a.gateway == nil {
		a.gateway = paymenttest.NewGateway()
	}
	a.fakeGateway, _ = a.gateway.(*paymenttest.FakeGateway)
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
		if a.mirror, err = availability.NewMirror(availability.NewPostgresStore(a.pool), cache, mcfg); err != nil {
			return err
		}
		if a.pricing, err = pricing.NewPricingStore(pricing.NewPostgresStore(a.pool), &pricing.Config{Logger: a.log, Clock: a.clock}); err != nil {
			return err
		}
		if a.payments, err = payment.NewService(payment.NewPostgresStore(a.pool), a.gateway, pcfg); err != nil {
			return err
		}
		pairStore, extStore = pairing.NewPostgresStore(a.pool), extension.NewPostgresStore(a.pool)
	} else {
		store := availabilitytest.NewStore()
		store.SetOnDeactivate(func(ctx context.Context, id uuidT) error {
			return a.accounts.RevokeSubject(ctx, SubjectMitra, id, a.clock.Now())
		})
		if a.mirror, err = availability.NewMirror(store, availabilitytest.NewCache(), mcfg); err != nil {
			return err
		}
		payStore := paymenttest.NewStore()
		payStore.Delivered = a.delivered // what Postgres reads from chat_sessions and extensions
		if a.payments, err = payment.NewService(payStore, a.gateway, pcfg); err != nil {
			return err
		}
		priceStore := pricingtest.NewStore()
		priceStore.HasPaidChatStart = a.payments.HasPaidChatStart
		if a.pricing, err = pricing.NewPricingStore(priceStore, &pricing.Config{Logger: a.log, Clock: a.clock}); err != nil {
			return err
		}
		pairStore, extStore = a.memoryPairingStores(store, payStore)
	}
	return a.wirePairing(pairStore, extStore)
}

// Start restores what must run before the listener binds (timers, the Valkey seed) and
// starts the background work (subscriptions, watchdog, sweeps).
func (a *App) Start(ctx context.Context) error {
	if err := a.runtime.Start(a.bgCtx); err != nil {
		return err
	}
	a.auth.start(a.bgCtx)
	a.events.start(a.bgCtx)
	// Chat-session expiry timers come back before anything else: a session already past
	// its end is ended now, and the seed below then sees the right capacities.
	if err := a.pairer.Start(ctx); err != nil {
		return fmt.Errorf("restore chat session timers: %w", err)
	}
	if _, err := a.mirror.SeedFromPostgres(ctx); err != nil {
		// Not fatal: reads fall back to Postgres and the watchdog reseeds when Valkey answers.
		a.log.Warn("initial Valkey seed failed; serving from Postgres until Valkey answers", "err", err)
	}
	if err := a.mirror.Start(a.bgCtx); err != nil {
		return err
	}
	if a.cfg.Sweeps {
		return a.startSweeps()
	}
	return nil
}

func (a *App) startSweeps() error {
	var errs []error
	add := func(name string, every time.Duration, job sweeps.Job) {
		s, err := sweeps.New(job, sweeps.Config{Name: name, Interval: every, Logger: a.log, Hooks: a.hooks})
		if err == nil {
			a.sweeps = append(a.sweeps, s)
			err = s.Start(a.bgCtx)
		}
		errs = append(errs, err)
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
	return errors.Join(errs...)
}

// Close stops the background work and closes connections.
func (a *App) Close(ctx context.Context) {
	a.closeMu.Do(func() {
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
			a.exts.Stop(ctx)
		}
		if a.runtime != nil {
			a.runtime.Stop(ctx)
		}
		a.bgCancel()
		if vb, ok := a.bus.(*valkeyBus); ok {
			vb.wait()
		}
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
