package curhat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/lifecycle"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/safety"
	"github.com/curhat/curhat/sweeps"
)

// DefaultUnsettledGrace is how long paid money may go without an outcome before
// Client.Dashboard counts it in UnsettledPayments: longer than a blast searches (60 s by
// default), a confirmation takes to be handled and the first refund retries take (1 + 2 +
// 4 minutes with the default 60 s base).
const DefaultUnsettledGrace = 10 * time.Minute

// SweepOff, as the cadence of one sweep in SweepsConfig, turns that sweep off (any
// negative duration does).
const SweepOff time.Duration = -1

// Config configures a Client. The zero value works, but for Gateway: every field has a
// default, the sweeps run at the cadences of the specification.
type Config struct {
	// Logger receives what every service logs. Defaults to discarding.
	Logger *slog.Logger
	// Clock tells the time to every service and runs their timers and the sweeps.
	// Defaults to the wall clock.
	Clock Clock
	// KeyNames are the Valkey key names (NewKeyNames for a prefix or a cluster). The zero
	// value gives the default names existing deployments read.
	KeyNames KeyNames
	// ValkeyClientCache serves the hot availability reads from valkey-go's server-assisted
	// client-side cache; the Valkey client must have it enabled (it is by default, and
	// needs CLIENT TRACKING on the server). Defaults to off.
	ValkeyClientCache bool
	// Gateway is the payment provider (payment.NewFakeGateway is a fake one). Required.
	Gateway payment.Gateway
	// Payouts is the payout provider that pays the mitras their earnings
	// (payout.NewFakeProvider is a fake one). Nil: nothing is paid out (payout runs answer
	// payout.ErrNoProvider); destinations and the earnings still work.
	Payouts payout.Payouts
	// Notifier receives the pairing, extension and chat events (best effort). Defaults to
	// dropping them.
	Notifier pairing.Notifier
	// Bus carries the runtime config's invalidations between instances, and is what
	// Client.Bus returns for the host's own broadcasts (token revocations, realtime
	// events). Defaults to NewValkeyBus over the Valkey client given to NewClient (a
	// MemoryBus without one, and for NewMemoryClient).
	Bus Bus
	// StaleThreshold: a heartbeat older than this is stale (MITRA_HEARTBEAT_STALE_SECONDS).
	// Defaults to availability.DefaultStaleThreshold (90 seconds).
	StaleThreshold time.Duration
	// ReconnectGrace: how long a mitra whose last event stream dropped stays reachable on
	// it (MITRA_RECONNECT_GRACE_SECONDS). Defaults to availability.DefaultReconnectGrace
	// (20 seconds).
	ReconnectGrace time.Duration
	// FanoutCap bounds how many mitras one blast is offered to, freshest heartbeat first.
	// Defaults to 0: every available mitra.
	FanoutCap int
	// Currency of new price tiers. Defaults to pricing.DefaultCurrency (IDR).
	Currency string
	// UnsettledGrace: see DefaultUnsettledGrace. Defaults to 10 minutes.
	UnsettledGrace time.Duration
	// OnMitraDeactivated, when set, is called by SetMitraActive once a deactivation
	// committed, before the mitra's sessions end: the host drops what it holds of the
	// mitra (its cached tokens, its open streams). With Postgres the mitra's auth sessions
	// are revoked in the deactivation's transaction already.
	OnMitraDeactivated func(ctx context.Context, mitraID uuid.UUID)
	// ReportActs does what resolving a report does to the reported party (deactivate a
	// mitra, suspend a client, refund the session's client), with what the host holds
	// besides the SDK: Client.Reports calls it. Nil: those outcomes fail with
	// safety.ErrNoReportActs; no_action and warned still work.
	ReportActs safety.ReportActs
	// AvailabilityHooks, PaymentHooks, PairingHooks and SweepHooks report to a metrics
	// system: each is a struct of optional funcs (a nil one is not called). The zero
	// values report nothing.
	AvailabilityHooks availability.Hooks
	PaymentHooks      payment.Hooks
	PairingHooks      pairing.Hooks
	SweepHooks        sweeps.Hooks
	// Sweeps sets the cadences of the background sweeps the Client owns.
	Sweeps SweepsConfig
	// Screener screens every chat message before it is stored and delivered (see
	// chat.Screener). Defaults to safety.NewScreener over the runtime config: contact
	// details masked in every message, a client's message matching a crisis term
	// (safety_crisis_terms) flagged "crisis". A host's own screener replaces it;
	// ScreeningOff turns screening off. Whichever screener flags a client's message
	// "crisis", the Client's safety alerts act on it (SafetyAlerts).
	Screener chat.Screener
}

// ScreeningOff, as Config.Screener, turns the screening of chat messages off: they are
// stored and delivered as sent, and no alert is raised.
var ScreeningOff chat.Screener = screeningOff{}

// screeningOff is ScreeningOff's type: a screener that changes nothing (never called).
type screeningOff struct{}

func (screeningOff) Screen(_ context.Context, s chat.Screening) (chat.Screening, error) {
	return s, nil
}

// SweepsConfig sets the cadence of each sweep (0: the default; SweepOff, or any
// negative duration: that sweep does not run).
type SweepsConfig struct {
	// Disabled turns every sweep off (tests that drive time themselves; an instance that
	// leaves the background work to others).
	Disabled bool
	// AutoOffline sets offline the mitras whose heartbeat went stale. Defaults to
	// sweeps.DefaultAutoOfflineInterval (30 s).
	AutoOffline time.Duration
	// HeartbeatMirror copies Valkey heartbeats to Postgres. Defaults to
	// sweeps.DefaultHeartbeatMirrorInterval (60 s).
	HeartbeatMirror time.Duration
	// OnlineMirrorReseed rebuilds the Valkey mirror from Postgres (drift repair).
	// Defaults to sweeps.DefaultOnlineMirrorReseedInterval (300 s).
	OnlineMirrorReseed time.Duration
	// StalePayments expires unpaid payment sessions and redelivers outcomes whose
	// handler failed. Defaults to sweeps.DefaultPaymentSweepInterval (60 s).
	StalePayments time.Duration
	// Timeouts applies pairing deadlines, session expiry and extension deadlines (it backs
	// up the in-process timers). Defaults to sweeps.DefaultTimeoutsSweepInterval (1 s).
	Timeouts time.Duration
	// RefundRetry retries refused and unsent refunds; it is also the base of their
	// backoff. Defaults to sweeps.DefaultPaymentRefundRetryInterval (60 s).
	RefundRetry time.Duration
	// EarningsClearance makes available the mitras' earnings whose clearance is due.
	// Defaults to sweeps.DefaultEarningsClearanceInterval (300 s).
	EarningsClearance time.Duration
	// PayoutRetry sends again the payouts whose send was cut short (the provider down, a
	// crash). Defaults to sweeps.DefaultPayoutRetryInterval (60 s).
	PayoutRetry time.Duration
	// NoShow ends the chat sessions whose mitra showed no activity within
	// mitra_first_reply_seconds of the start (a session ends at most about one interval
	// after its deadline). Defaults to sweeps.DefaultNoShowInterval (15 s).
	NoShow time.Duration
	// ChatRetention deletes the chat messages older than chat_message_retention_days
	// (but those open reports hold). Defaults to sweeps.DefaultChatRetentionInterval (1 h).
	ChatRetention time.Duration
	// Lock, when set, lets one instance per cycle run each sweep (sweeps.NewValkeyLocker).
	Lock sweeps.Locker
}

// validate reports a field no default can stand for.
func (c *Config) validate() error {
	if c == nil {
		return core.Required("Config.Gateway", true)
	}
	return core.FirstError(
		core.Required("Config.Gateway", c.Gateway == nil),
		core.NotNegative("Config.StaleThreshold", c.StaleThreshold),
		core.NotNegative("Config.ReconnectGrace", c.ReconnectGrace),
		core.NotNegative("Config.FanoutCap", c.FanoutCap),
		core.NotNegative("Config.UnsettledGrace", c.UnsettledGrace),
	)
}

// withDefaults returns a copy of c with every zero field set to its default.
func (c *Config) withDefaults() Config {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.UnsettledGrace = cmp.Or(out.UnsettledGrace, DefaultUnsettledGrace)
	out.Notifier = cmp.Or[pairing.Notifier](out.Notifier, pairing.DiscardNotifier{})
	for _, sw := range clientSweeps {
		every := sw.every(&out.Sweeps)
		*every = cmp.Or(*every, sw.interval)
	}
	return out
}

// Client is the whole product in one value: the runtime config, the availability mirror,
// pricing, payments, pairing, extensions and the chat, wired to each other, and the sweeps
// that keep them consistent. NewClient builds it over Postgres (and Valkey),
// NewMemoryClient over in-memory stores. Start runs the background work; Stop ends it.
//
// Each service stays usable on its own: the accessors return them (Pairing, Payments, …)
// for everything the Client does not wrap, and a host that wants one piece only builds
// that service itself (availability.NewMirror, pricing.NewPricingStore, …).
type Client struct {
	cfg    Config
	log    *slog.Logger
	valkey valkey.Client // nil without Valkey
	bus    Bus

	runtime  *RuntimeConfig
	mirror   *availability.Mirror
	pricing  *pricing.PricingStore
	payments *payment.Service
	ledger   ledger.Store
	payouts  *payout.Service
	pairer   *pairing.Pairer
	exts     *extension.Service
	chat     *chat.Service
	alerts   *safety.Alerts
	reports  *safety.Reports
	sweeps   []*sweeps.Sweep

	// life is the Client's own Start/Stop state; its background work is the services'
	// (awaitStopped).
	life *lifecycle.Lifecycle
}

// NewClient builds a Client over Postgres (db: a *pgxpool.Pool whose schema Migrate
// applied) and Valkey (vk; nil: every read is served by Postgres, and the runtime config
// is not invalidated across instances). It fails, naming the field, when db or
// cfg.Gateway is missing or a setting is out of range. Nothing runs until Start.
func NewClient(db DB, vk valkey.Client, cfg *Config) (*Client, error) {
	if err := core.FirstError(core.Required("db", db == nil), cfg.validate()); err != nil {
		return nil, fmt.Errorf("curhat.NewClient: %w", err)
	}
	c := newClient(cfg)
	c.valkey = vk
	var cache availability.Cache
	bus := c.cfg.Bus
	if vk != nil {
		cache = availability.NewValkeyCache(vk, availability.CacheConfig{Names: c.cfg.KeyNames, UseClientCache: c.cfg.ValkeyClientCache})
		if bus == nil {
			vb, err := NewValkeyBus(vk, c.cfg.KeyNames, &BusConfig{Logger: c.log})
			if err != nil {
				return nil, fmt.Errorf("curhat.NewClient: %w", err)
			}
			bus = vb
		}
	}
	err := c.build(stores{
		config:  NewPostgresConfigStore(db),
		bus:     bus,
		avail:   availability.NewPostgresStore(db),
		cache:   cache,
		prices:  pricing.NewPostgresStore(db),
		pays:    payment.NewPostgresStore(db),
		ledger:  ledger.NewPostgresStore(db),
		payouts: payout.NewPostgresStore(db),
		pairing: pairing.NewPostgresStore(db),
		queue:   queueIndex(vk, c.cfg.KeyNames),
		exts:    extension.NewPostgresStore(db),
		chat:    chat.NewPostgresStore(db),
		limiter: chatLimiter(vk, c.cfg.KeyNames),
		reports: safety.NewPostgresReportStore(db),
		alerts:  safety.NewPostgresAlertStore(db),
	})
	if err != nil {
		return nil, fmt.Errorf("curhat.NewClient: %w", err)
	}
	return c, nil
}

// chatLimiter counts the senders' messages in Valkey, across instances (nil without Valkey:
// each instance counts its own).
func chatLimiter(vk valkey.Client, names KeyNames) chat.RateLimiter {
	if vk == nil {
		return nil
	}
	return chat.NewValkeyRateLimiter(vk, chat.ValkeyRateLimiterConfig{Names: names})
}

// queueIndex is the pairing queue's index in Valkey (nil without Valkey).
func queueIndex(vk valkey.Client, names KeyNames) pairing.QueueIndex {
	if vk == nil {
		return nil
	}
	return pairing.NewValkeyQueueIndex(vk, pairing.ValkeyQueueConfig{Names: names})
}

func newClient(cfg *Config) *Client {
	c := &Client{cfg: cfg.withDefaults(), life: lifecycle.New()}
	c.log = c.cfg.Logger
	return c
}

// Start runs what must hold before the first request and starts the background work, in
// this order: the runtime config subscription; the chat-session and pairing timers,
// restored from the store (one already past its time is ended now); the Valkey seed and
// the pairing queue's index (a failure is logged, not returned: reads fall back to
// Postgres, the mirror's watchdog reseeds and the timeouts sweep rebuilds the index when
// Valkey answers); the mirror's watchdog; the sweeps. ctx bounds the
// start-up work only: the background work runs until Stop. A failure stops what started
// and is returned; a Client starts once.
func (c *Client) Start(ctx context.Context) error {
	bg, ok := c.life.Start(context.WithoutCancel(ctx))
	if !ok {
		return errors.New("curhat: Client already started or stopped")
	}
	go c.awaitStopped(bg)
	if err := c.start(ctx, bg); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return errors.Join(fmt.Errorf("curhat: start: %w", err), c.Stop(stopCtx))
	}
	return nil
}

// awaitStopped is the Client's background work as its lifecycle sees it: it ends once Stop
// cancelled bg and every service it started has stopped.
func (c *Client) awaitStopped(bg context.Context) {
	defer c.life.Finished()
	<-bg.Done()
	for _, ch := range c.servicesStopped() {
		<-ch
	}
}

// servicesStopped are the Stopped channels of what Start starts.
func (c *Client) servicesStopped() []<-chan struct{} {
	done := make([]<-chan struct{}, 0, len(c.sweeps)+4)
	for _, s := range c.sweeps {
		done = append(done, s.Stopped())
	}
	return append(done, c.mirror.Stopped(), c.pairer.Stopped(), c.exts.Stopped(), c.runtime.Stopped())
}

func (c *Client) start(ctx, bg context.Context) error {
	if err := c.runtime.Start(bg); err != nil {
		return fmt.Errorf("runtime config: %w", err)
	}
	// The timers come back before the seed: a session already past its end is ended now,
	// and the seed then sees the right capacities.
	if err := c.pairer.Start(ctx); err != nil {
		return fmt.Errorf("restore chat session timers: %w", err)
	}
	if _, err := c.mirror.SeedFromPostgres(ctx); err != nil {
		c.log.WarnContext(ctx, "initial Valkey seed failed; serving from Postgres until Valkey answers", "err", err)
	}
	if err := c.pairer.RebuildQueueIndex(ctx); err != nil {
		c.log.WarnContext(ctx, "initial build of the queue index failed; queue positions come from Postgres until it is rebuilt", "err", err)
	}
	if err := c.mirror.Start(bg); err != nil {
		return fmt.Errorf("availability watchdog: %w", err)
	}
	for _, s := range c.sweeps {
		if err := s.Start(bg); err != nil {
			return err
		}
	}
	return nil
}

// Stop ends the sweeps, the mirror's watchdog, the in-process timers and the runtime
// config subscription, and waits for them (or for ctx). It is idempotent and safe before
// Start. The services keep answering calls afterwards (nothing runs in the background).
// The Client closes neither db nor the Valkey client: they are the host's.
func (c *Client) Stop(ctx context.Context) error {
	// The services stop one after the other, the sweeps first (their runs use the others),
	// before the Client's lifecycle cancels what may be left.
	var errs []error
	for _, s := range c.sweeps {
		errs = append(errs, s.Stop(ctx))
	}
	errs = append(errs, c.mirror.Stop(ctx), c.pairer.Stop(ctx), c.exts.Stop(ctx), c.runtime.Stop(ctx))
	lifeErr := c.life.Stop(ctx)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("curhat: stop: %w", err)
	}
	return lifeErr
}

// Stopped is closed once Stop has ended all the background work (at once by a Stop before
// Start).
func (c *Client) Stopped() <-chan struct{} { return c.life.Stopped() }

// Bus is the pub/sub bus the Client's runtime config uses (Config.Bus), for the host's
// own messages between instances: its topics must not be "config:invalidate".
func (c *Client) Bus() Bus { return c.bus }

// Runtime is the operator-editable settings.
func (c *Client) Runtime() *RuntimeConfig { return c.runtime }

// Availability is the mitra availability mirror.
func (c *Client) Availability() *availability.Mirror { return c.mirror }

// Pricing is the price tiers, the first-session discount and quotes.
func (c *Client) Pricing() *pricing.PricingStore { return c.pricing }

// Payments is the payment sessions, the webhook side (MarkPaid, MarkFailed) and refunds.
func (c *Client) Payments() *payment.Service { return c.payments }

// Ledger is the earnings ledger: balances, a mitra's earnings and statement, clearance and
// the invariants (ledger.Store).
func (c *Client) Ledger() ledger.Store { return c.ledger }

// Payouts is the mitras' payout destinations and the payout runs.
func (c *Client) Payouts() *payout.Service { return c.payouts }

// Pairing is blasts, "Curhat lagi", chat sessions and failed pairings.
func (c *Client) Pairing() *pairing.Pairer { return c.pairer }

// Extensions is the extensions of running chat sessions.
func (c *Client) Extensions() *extension.Service { return c.exts }

// Chat is the messages of chat sessions between their client and mitra (send, history,
// read receipts), and the activity a host with its own chat reports instead.
func (c *Client) Chat() *chat.Service { return c.chat }

// Reports returns the parties' reports of their chat sessions and their resolution
// (safety.Reports; its Store serves the retention sweep and the erasure of a client).
func (c *Client) Reports() *safety.Reports { return c.reports }

// SafetyAlerts is the operators' queue of crisis messages (list, acknowledge), and what
// acts on them: the client's resources event, the alert, the operators' notification.
func (c *Client) SafetyAlerts() *safety.Alerts { return c.alerts }

// Sweeps are the background sweeps the Client runs (none when SweepsConfig.Disabled),
// for RunOnce (an operator's "run now", a test) and their names and cadences.
func (c *Client) Sweeps() []*sweeps.Sweep { return append([]*sweeps.Sweep(nil), c.sweeps...) }
