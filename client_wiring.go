package curhat

import (
	"context"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/safety"
)

// The ports one domain declares for another, satisfied by the other's service as it is.
// The shim below (the mirror's FindOptions) is the only glue left.
var (
	_ pairing.Payments       = (*payment.Service)(nil)
	_ pairing.Quoter         = (*pricing.PricingStore)(nil)
	_ pairing.Extensions     = (*extension.Service)(nil)
	_ pairing.Settings       = (*RuntimeConfig)(nil)
	_ pairing.Policies       = (*RuntimeConfig)(nil)
	_ pairing.Away           = (*availability.Mirror)(nil)
	_ payment.Handler        = (*pairing.Pairer)(nil)
	_ payment.Handler        = (*extension.Service)(nil)
	_ extension.Sessions     = (*pairing.Pairer)(nil)
	_ extension.Payments     = (*payment.Service)(nil)
	_ extension.Quoter       = (*pricing.PricingStore)(nil)
	_ extension.Reachability = (*availability.Mirror)(nil)
	_ extension.Settings     = (*RuntimeConfig)(nil)
	_ chat.Settings          = (*RuntimeConfig)(nil)
	_ pairing.NoShowSettings = (*RuntimeConfig)(nil)
	_ chat.RetentionSettings = (*RuntimeConfig)(nil)
	_ safety.Settings        = (*RuntimeConfig)(nil)
	_ chat.FlagHandler       = (*safety.Alerts)(nil)
)

// stores are what a Client is built over: Postgres (and Valkey) or in memory.
type stores struct {
	config  ConfigStore
	bus     Bus // nil: a MemoryBus
	avail   availability.Store
	cache   availability.Cache // nil: Postgres only
	prices  pricing.Store
	pays    payment.Store
	ledger  ledger.Store
	payouts payout.Store
	pairing pairing.Store
	// queue indexes the pairing queue in Valkey (nil: positions come from the store).
	queue pairing.QueueIndex
	exts  extension.Store
	chat  chat.Store
	// limiter counts the chat senders' messages across instances (nil: each instance
	// counts its own).
	limiter chat.RateLimiter
	reports safety.ReportStore
	alerts  safety.AlertStore
}

// build makes every service over s and wires them to each other: the runtime settings
// into every service, the pairer and the extension service as the payment handlers of
// their purposes, the pairer as the extension service's chat sessions, and the sweeps.
func (c *Client) build(s stores) error {
	cfg, log, clk := c.cfg, c.cfg.Logger, c.cfg.Clock
	var err error
	if s.bus == nil {
		s.bus = NewMemoryBus()
	}
	c.bus = s.bus
	c.ledger = s.ledger
	if c.runtime, err = NewRuntimeConfig(s.config, s.bus, &RuntimeConfigOptions{Logger: log, Clock: clk}); err != nil {
		return err
	}
	if c.mirror, err = availability.NewMirror(s.avail, s.cache, &availability.Config{
		Logger: log, Clock: clk, StaleThreshold: cfg.StaleThreshold, ReconnectGrace: cfg.ReconnectGrace,
		DefaultMaxSessions: c.runtime.MitraMaxConcurrentSessions, Hooks: cfg.AvailabilityHooks,
		Wrapup: c.runtime.MitraWrapup,
	}); err != nil {
		return err
	}
	if c.pricing, err = pricing.NewPricingStore(s.prices, &pricing.Config{Logger: log, Clock: clk, Currency: cfg.Currency}); err != nil {
		return err
	}
	if c.payments, err = payment.NewService(s.pays, cfg.Gateway, &payment.Config{
		Logger: log, Clock: clk, TTL: c.runtime.PaymentSessionTTL, FeePercent: c.runtime.PlatformFeePercent,
		Hooks:           cfg.PaymentHooks,
		RefundRetryBase: max(cfg.Sweeps.RefundRetry, 0),
	}); err != nil {
		return err
	}
	if c.payouts, err = payout.NewService(s.payouts, cfg.Payouts, &payout.Config{
		Logger: log, Clock: clk, Minimum: c.runtime.PayoutMinimum, Currency: cfg.Currency,
	}); err != nil {
		return err
	}
	if c.pairer, err = pairing.NewPairer(s.pairing, pairing.Deps{
		Availability: pairingAvailability{c.mirror},
		Payments:     c.payments,
		Quoter:       c.pricing,
		Settings:     c.runtime,
		Notifier:     cfg.Notifier,
		Extensions:   laterExtensions{c},
		Away:         c.mirror,
		QueueIndex:   s.queue,
		Labels:       pairingLabels{c.mirror},
	}, &pairing.Config{Logger: log, Clock: clk, FanoutCap: cfg.FanoutCap, Hooks: cfg.PairingHooks}); err != nil {
		return err
	}
	if c.exts, err = extension.NewService(s.exts, extension.Deps{
		Sessions:     c.pairer,
		Reachability: c.mirror,
		Payments:     c.payments,
		Quoter:       c.pricing,
		Settings:     c.runtime,
		Notifier:     cfg.Notifier,
	}, &extension.Config{Logger: log, Clock: clk}); err != nil {
		return err
	}
	// The screening: the host's screener, or the SDK's; the alerts follow the crisis flag
	// whichever screener set it.
	if c.alerts, err = safety.NewAlerts(s.alerts, safety.AlertsDeps{Settings: c.runtime, Notifier: cfg.Notifier},
		&safety.AlertsConfig{Logger: log, Clock: clk}); err != nil {
		return err
	}
	screener := cfg.Screener
	switch screener {
	case nil:
		screener = safety.NewScreener(c.runtime)
	case ScreeningOff:
		screener = nil
	}
	if c.chat, err = chat.NewService(s.chat, chat.Deps{
		Settings: c.runtime,
		Notifier: cfg.Notifier,
		Limiter:  s.limiter,
		Screener: screener,
		Flagged:  c.alerts,
	}, &chat.Config{Logger: log, Clock: clk}); err != nil {
		return err
	}
	if c.reports, err = safety.NewReports(s.reports, safety.ReportsDeps{
		Notifier: cfg.Notifier,
		Acts:     cfg.ReportActs,
	}, &safety.ReportsConfig{Logger: log, Clock: clk}); err != nil {
		return err
	}
	c.payments.SetHandler(payment.PurposeChatStart, c.pairer)
	c.payments.SetHandler(payment.PurposeExtension, c.exts)
	// A refund the retry sweep made settles the failure row of the pairing that owed it.
	c.payments.SetRefundListener(func(ctx context.Context, r payment.Refund) {
		if err := c.pairer.RefundSucceeded(ctx, r.Cause); err != nil {
			log.WarnContext(ctx, "record a refund on its failed pairing", "refund_id", r.ID, "err", err)
		}
	})
	return c.buildSweeps()
}

// pairingLabels is the routing steps' view of the mirror's labels.
type pairingLabels struct{ m *availability.Mirror }

func (a pairingLabels) MatchingMitras(ctx context.Context, p pairing.Preferences, match pairing.RouteMatch, ids []uuid.UUID, limit int) ([]uuid.UUID, error) {
	if match == pairing.MatchAny {
		return ids, nil
	}
	return a.m.FilterByLabels(ctx, ids, limit, func(l availability.Labels) bool {
		return p.Matches(match, l.Languages, l.Topics, l.Gender)
	})
}

// pairingAvailability is the pairer's view of the mirror (its FindAvailable takes options).
type pairingAvailability struct{ m *availability.Mirror }

func (a pairingAvailability) FindAvailable(ctx context.Context, limit int, exclude []uuid.UUID) ([]uuid.UUID, error) {
	return a.m.FindAvailable(ctx, availability.FindOptions{Limit: limit, Exclude: exclude})
}

func (a pairingAvailability) IsReachable(ctx context.Context, id uuid.UUID) (bool, error) {
	return a.m.IsReachable(ctx, id)
}

func (a pairingAvailability) RecomputeCapacity(ctx context.Context, id uuid.UUID) (int, error) {
	return a.m.RecomputeCapacity(ctx, id)
}

// laterExtensions is the pairer's view of the extension service, which is built after the
// pairer (the pairer is its chat sessions).
type laterExtensions struct{ c *Client }

func (l laterExtensions) PaidExtensions(ctx context.Context, chatSessionID uuid.UUID) ([]pairing.PaidExtension, error) {
	return l.c.exts.PaidExtensions(ctx, chatSessionID)
}
