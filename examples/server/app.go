package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/payment/xendit"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/sweeps"
)

// valkeyTimeout bounds every Valkey call the server itself makes (pub/sub publish, ping).
const valkeyTimeout = 300 * time.Millisecond

// serverCurrency is the currency of this server's price tiers (curhat.Config.Currency),
// and what the earnings routes name while the ledger holds no line yet.
const serverCurrency = pricing.DefaultCurrency

// busBuffer is how many messages may wait for one bus subscriber (a blast's offers are
// one message).
const busBuffer = 16 * 1024

// App is the reference server's backends and the SDK client over them, in memory or over
// Postgres + Valkey, plus what the server adds itself: accounts, tokens, event streams,
// the fake gateway's checkout page and the demo mitras.
type App struct {
	cfg   Config
	log   *slog.Logger
	clock curhat.Clock
	hooks metrics

	pool     *pgxpool.Pool // nil in memory mode
	ownsPool bool          // the App opened pool and closes it
	// migrated is the schema versions Start applied to the database (none: it was current).
	migrated []int
	pgCount  statementCounter
	valkey   valkey.Client // nil without VALKEY_URL
	names    curhat.KeyNames

	client   *curhat.Client
	bus      curhat.Bus // config invalidations, token revocations and events, across instances
	accounts accountStore
	started  time.Time // when the App was built: the bootstrap operator's created_at
	auth     *authenticator
	events   *eventHub
	gateway  payment.Gateway
	// fakeGateway is the fake gateway while it is the one in use (PAYMENT_GATEWAY=fake, or a
	// test's): the fake's routes exist only then (fake_checkout.go), and
	// POST /api/internal/fake-gateway/refund-failures drives it.
	fakeGateway *payment.FakeGateway
	// checkout is the gateway when the fake is in use: its checkout links open this
	// server's checkout page (fake_checkout.go).
	checkout *fakeCheckout
	// xendit is the gateway and the payout provider while Xendit is the one in use
	// (PAYMENT_GATEWAY=xendit): its callback routes exist only then (routes_xendit.go).
	xendit *xendit.Client
	// payouts is the payout provider: a test's, the fake one, which comes with the fake
	// gateway (PAYMENT_GATEWAY=fake: nothing is paid), or Xendit, which comes with Xendit;
	// nil with any other gateway, and payout runs answer 409 NO_PAYOUT_PROVIDER.
	// fakePayouts is it while it is the fake: POST /api/internal/fake-gateway/payout-failures
	// drives it.
	payouts     payout.Payouts
	fakePayouts *payout.FakeProvider

	// The client's services, as the handlers use them.
	runtime  *curhat.RuntimeConfig
	mirror   *availability.Mirror
	pricing  *pricing.PricingStore
	payments *payment.Service
	pairer   *pairing.Pairer
	exts     *extension.Service

	// subscriptions are the bus subscriptions of the authenticator, the event hub and the
	// presence changes (presence.go); they end with bgCtx.
	subscriptions sync.WaitGroup
	// presenceFollowed tells whether the presence changes' subscription is up.
	presenceFollowed atomic.Bool

	wrapHandler func(http.Handler) http.Handler // appOptions.WrapHandler

	demoMu sync.Mutex
	demo   *demoPlayer // DEMO_MITRAS=auto (demo.go)
	// demoLogins are the demo tokens the banner offers the apps (demo.go, banner.go).
	demoLogins appLogins

	bgCtx    context.Context
	bgCancel context.CancelFunc
	closeMu  sync.Once
}

// statementCounter counts the statements sent to Postgres (a test's pgx tracer): Count
// the round trips (a batch counting as one), Statements each statement.
type statementCounter interface {
	Count() int64
	Statements() int64
}

// appOptions are test seams.
type appOptions struct {
	Clock curhat.Clock
	Pool  *pgxpool.Pool // use this pool instead of opening DATABASE_URL
	// PGCounter is the statement counter installed as Pool's tracer.
	PGCounter statementCounter
	// Gateway replaces the gateway PAYMENT_GATEWAY names (several instances sharing one
	// fake, as they would share one provider; or a gateway that is not the fake, whose
	// server then has none of the fake's routes).
	Gateway payment.Gateway
	// Payouts replaces the payout provider (several instances sharing one fake provider,
	// as they would share one real one).
	Payouts payout.Payouts
	// WrapHandler wraps the API handler that serve builds (tests check every exchange
	// against openapi.json).
	WrapHandler func(http.Handler) http.Handler
	// XenditHTTPClient sends the Xendit gateway's requests (a test's fake Xendit) instead
	// of a client of the gateway's own.
	XenditHTTPClient *http.Client
}

// NewApp connects to the configured backends (or none, in memory) and builds the SDK
// client over them. Nothing runs in the background until Start.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger, opts appOptions) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, clock: opts.Clock, hooks: noMetrics{}, gateway: opts.Gateway, payouts: opts.Payouts,
		wrapHandler: opts.WrapHandler}
	if a.clock == nil {
		a.clock = curhat.WallClock()
	}
	a.started = a.clock.Now().UTC().Truncate(time.Microsecond)
	a.hooks = newPromMetrics(log, scrapeSources{Drift: a.driftReport, QueueLength: a.queueLength,
		Imbalance: a.ledgerImbalance, Payouts: a.payoutStats, Waiting: a.waitingNow})
	a.bgCtx, a.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	a.names = curhat.NewKeyNames(cfg.ValkeyKeyPrefix, cfg.ValkeyCluster)
	if err := a.connect(ctx, opts); err != nil {
		a.Close(ctx)
		return nil, err
	}
	if err := a.build(opts); err != nil {
		a.Close(ctx)
		return nil, err
	}
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
		pool, err := pgxpool.New(ctx, a.cfg.DatabaseURL)
		if err != nil {
			return fmt.Errorf("DATABASE_URL: %w", err)
		}
		a.pool = pool
		a.ownsPool = true
	}
	applied, err := curhat.Migrate(ctx, a.pool)
	if err != nil {
		return err
	}
	a.migrated = applied
	a.accounts = pgAccounts{pool: a.pool}
	if a.cfg.ValkeyURL == "" {
		a.log.Warn("VALKEY_URL unset: running on Postgres only (no mirror, no cross-instance events)")
		a.bus = curhat.NewMemoryBus()
		return nil
	}
	vc, err := newValkeyClient(a.cfg)
	if err != nil {
		// Valkey is a disposable mirror: the server still works without it, slower.
		return fmt.Errorf("valkey: %w", err)
	}
	a.valkey = vc
	a.bus, err = curhat.NewValkeyBus(vc, a.names, &curhat.BusConfig{Logger: a.log, PublishTimeout: valkeyTimeout, Buffer: busBuffer})
	return err
}

// newValkeyClient connects to VALKEY_URL: standalone unless VALKEY_CLUSTER, dials and
// blocked writes bounded by a second.
func newValkeyClient(cfg Config) (valkey.Client, error) {
	opt, err := valkey.ParseURL(cfg.ValkeyURL)
	if err != nil {
		return nil, fmt.Errorf("parse VALKEY_URL: %w", err)
	}
	opt.ForceSingleClient = !cfg.ValkeyCluster
	opt.DisableCache = opt.DisableCache || !cfg.ValkeyClientCache
	opt.Dialer.Timeout, opt.ConnWriteTimeout = time.Second, time.Second
	return valkey.NewClient(opt)
}

// build makes the accounts' authenticator, the event hub and the SDK client.
func (a *App) build(opts appOptions) error {
	a.wireAuth()
	// The gateway PAYMENT_GATEWAY names (validate knows it), unless a test gave its own.
	// In memory the fake is the default.
	if a.gateway == nil {
		switch cmp.Or(a.cfg.PaymentGateway, GatewayFake) {
		case GatewayFake:
			a.gateway = payment.NewFakeGateway()
		case GatewayXendit:
			xc, err := xendit.New(xendit.Config{
				SecretKey: a.cfg.XenditSecretKey, CallbackToken: a.cfg.XenditCallbackToken,
				APIURL: a.cfg.XenditAPIURL, HTTPClient: opts.XenditHTTPClient, Now: a.clock.Now,
			})
			if err != nil {
				return err
			}
			a.gateway = xc
		default:
			return fmt.Errorf("PAYMENT_GATEWAY=%q: no such gateway", a.cfg.PaymentGateway)
		}
	}
	a.fakeGateway, _ = a.gateway.(*payment.FakeGateway)
	if a.fakeGateway != nil {
		a.checkout = newFakeCheckout(a.gateway, a.cfg.PublicURL, a.cfg.PaymentWebhookSecret)
		a.gateway = a.checkout
		if a.payouts == nil {
			a.payouts = payout.NewFakeProvider()
		}
	}
	// Xendit pays the payouts too (its disbursements), with the same account.
	if a.xendit, _ = a.gateway.(*xendit.Client); a.xendit != nil && a.payouts == nil {
		a.payouts = a.xendit
	}
	a.fakePayouts, _ = a.payouts.(*payout.FakeProvider)
	cfg := &curhat.Config{
		Logger:             a.log,
		Clock:              a.clock,
		Currency:           serverCurrency,
		KeyNames:           a.names,
		ValkeyClientCache:  a.cfg.ValkeyClientCache,
		Gateway:            a.gateway,
		Payouts:            a.payouts,
		Bus:                a.bus,
		Notifier:           hubNotifier{hub: a.events, clock: a.clock.Now},
		StaleThreshold:     a.cfg.HeartbeatStale,
		ReconnectGrace:     a.cfg.ReconnectGrace,
		FanoutCap:          a.cfg.FanoutCap,
		AvailabilityHooks:  availabilityHooks(a.hooks),
		PaymentHooks:       paymentHooks(a.hooks),
		PairingHooks:       pairingHooks(a.hooks),
		SweepHooks:         sweeps.Hooks{SweepRun: a.sweepRun},
		OnMitraDeactivated: a.mitraDeactivated,
		ReportActs:         reportActs{a},
		Sweeps: curhat.SweepsConfig{
			Disabled:           !a.cfg.Sweeps,
			AutoOffline:        a.cfg.AutoOfflineInterval,
			HeartbeatMirror:    a.cfg.HeartbeatMirrorEvery,
			OnlineMirrorReseed: a.cfg.OnlineMirrorReseed,
			StalePayments:      a.cfg.PaymentSweepInterval,
			Timeouts:           a.cfg.TimeoutsSweepInterval,
			RefundRetry:        a.cfg.PaymentRefundRetry,
			EarningsClearance:  a.cfg.EarningsClearance,
			PayoutRetry:        a.cfg.PayoutRetry,
			NoShow:             a.cfg.NoShowSweep,
			ChatRetention:      a.cfg.ChatRetentionSweep,
		},
	}
	var err error
	switch {
	case a.cfg.InMemory:
		a.client, err = curhat.NewMemoryClient(cfg)
	case a.valkey != nil:
		a.client, err = curhat.NewClient(a.pool, a.valkey, cfg)
	default:
		a.client, err = curhat.NewClient(a.pool, nil, cfg)
	}
	if err != nil {
		return err
	}
	c := a.client
	a.runtime, a.mirror, a.pricing, a.payments, a.pairer, a.exts =
		c.Runtime(), c.Availability(), c.Pricing(), c.Payments(), c.Pairing(), c.Extensions()
	return nil
}

// queueLength counts the pairing queue (0 before the client is built).
func (a *App) queueLength(ctx context.Context) (int, error) {
	if a.pairer == nil {
		return 0, nil
	}
	return a.pairer.QueueLength(ctx)
}

// ledgerImbalance is the sum of every signed ledger line, 0 while the books balance (0
// before the client is built).
func (a *App) ledgerImbalance(ctx context.Context) (int64, error) {
	if a.client == nil {
		return 0, nil
	}
	b, err := a.client.Ledger().Balance(ctx)
	return b.Imbalance, err
}

// payoutStats counts the payouts by status and sums what was paid out (nothing before the
// client is built).
func (a *App) payoutStats(ctx context.Context) (payout.Stats, error) {
	if a.client == nil {
		return payout.Stats{}, nil
	}
	return a.client.Payouts().Stats(ctx)
}

// sweepRun reports a sweep's cycle to the metrics the App holds then (a test may wrap
// them after NewApp).
func (a *App) sweepRun(name string, r sweeps.Report, err error) { a.hooks.SweepRun(name, r, err) }

// mitraDeactivated runs when an operator's deactivation committed: every instance forgets
// the mitra's cached tokens and closes its event streams, each with an account_closed
// event saying why. (In Postgres the deactivation revoked its tokens in the same
// transaction; the in-memory accounts revoke them here.)
func (a *App) mitraDeactivated(ctx context.Context, id uuid.UUID) {
	if m, ok := a.accounts.(*memAccounts); ok {
		if err := m.RevokeSubject(ctx, SubjectMitra, id, a.clock.Now()); err != nil {
			a.log.WarnContext(ctx, "revoke the tokens of a deactivated mitra", "mitra", id, "err", err)
		}
	}
	a.auth.accountClosed(ctx, SubjectMitra, id, reasonMitraDeactivated)
}

// Start starts the server's own subscriptions (token revocations, events), then the
// client: what must hold before the listener binds (timers, the Valkey seed) and the
// background work (subscriptions, watchdog, sweeps).
func (a *App) Start(ctx context.Context) error {
	a.subscriptions.Go(func() { a.auth.follow(a.bgCtx) })
	a.subscriptions.Go(func() { a.events.follow(a.bgCtx) })
	a.subscriptions.Go(func() { a.events.run(a.bgCtx) })
	a.subscriptions.Go(func() { a.followPresence(a.bgCtx) })
	return a.client.Start(ctx)
}

// Close stops the background work and closes connections.
func (a *App) Close(ctx context.Context) {
	a.closeMu.Do(func() {
		a.stopDemo()
		if a.client != nil {
			if err := a.client.Stop(ctx); err != nil {
				a.log.WarnContext(ctx, "stopping the SDK client", "err", err)
			}
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

// pgQueries returns the number of statements sent to Postgres so far, a batch counting
// as one (0 without a test's counter).
func (a *App) pgQueries() int64 {
	if a.pgCount == nil {
		return 0
	}
	return a.pgCount.Count()
}

// pgStatements is pgQueries with each statement of a batch counted.
func (a *App) pgStatements() int64 {
	if a.pgCount == nil {
		return 0
	}
	return a.pgCount.Statements()
}

// metrics receives what operators watch; the Prometheus adapter implements it.
type metrics interface {
	RequestDone(route string, status int, d time.Duration)
	SweepRun(name string, r sweeps.Report, err error)
	// AuditFailed counts an operator write whose audit row could not be stored.
	AuditFailed()
}

type noMetrics struct{}

func (noMetrics) RequestDone(string, int, time.Duration) {}
func (noMetrics) SweepRun(string, sweeps.Report, error)  {}
func (noMetrics) AuditFailed()                           {}
