package curhat

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/sweeps"
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
)

// stores are what a Client is built over: Postgres (and Valkey) or in memory.
type stores struct {
	config  ConfigStore
	bus     Bus // nil: a MemoryBus
	avail   availability.Store
	cache   availability.Cache // nil: Postgres only
	prices  pricing.Store
	pays    payment.Store
	pairing pairing.Store
	// queue indexes the pairing queue in Valkey (nil: positions come from the store).
	queue pairing.QueueIndex
	exts  extension.Store
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
	if c.runtime, err = NewRuntimeConfig(s.config, s.bus, &RuntimeConfigOptions{Logger: log, Clock: clk}); err != nil {
		return err
	}
	if c.mirror, err = availability.NewMirror(s.avail, s.cache, &availability.Config{
		Logger: log, Clock: clk, StaleThreshold: cfg.StaleThreshold, ReconnectGrace: cfg.ReconnectGrace,
		DefaultMaxSessions: c.runtime.MitraMaxConcurrentSessions, Hooks: cfg.AvailabilityHooks,
	}); err != nil {
		return err
	}
	if c.pricing, err = pricing.NewPricingStore(s.prices, &pricing.Config{Logger: log, Clock: clk, Currency: cfg.Currency}); err != nil {
		return err
	}
	if c.payments, err = payment.NewService(s.pays, cfg.Gateway, &payment.Config{
		Logger: log, Clock: clk, TTL: c.runtime.PaymentSessionTTL, Hooks: cfg.PaymentHooks,
		RefundRetryBase: max(cfg.Sweeps.RefundRetry, 0),
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

// minSweepRunTimeout is the least time one run of a sweep gets, however short its
// interval: a run cut short at every cycle (a loaded database, a slow gateway) would never
// get through its first due row, and the rows behind it would wait forever. With a Lock the
// run is still capped by the lock's TTL.
const minSweepRunTimeout = 2 * time.Second

// buildSweeps makes the sweeps at their cadences (none when disabled).
func (c *Client) buildSweeps() error {
	sc := c.cfg.Sweeps
	if sc.Disabled {
		return nil
	}
	var errs []error
	add := func(name string, every time.Duration, job sweeps.Job) {
		if every < 0 {
			return // SweepOff
		}
		s, err := sweeps.New(job, sweeps.Config{
			Name: name, Interval: every, Timeout: max(every, minSweepRunTimeout),
			Logger: c.log, Hooks: c.cfg.SweepHooks, Lock: sc.Lock, Clock: c.cfg.Clock,
		})
		errs = append(errs, err)
		if err == nil {
			c.sweeps = append(c.sweeps, s)
		}
	}
	add("auto_offline", sc.AutoOffline, func(ctx context.Context) (sweeps.Report, error) {
		r, err := c.mirror.AutoOffline(ctx)
		return sweeps.Report{Counts: map[string]int{"offlined": r.Offlined}}, err
	})
	add("heartbeat_mirror", sc.HeartbeatMirror, func(ctx context.Context) (sweeps.Report, error) {
		r, err := c.mirror.MirrorHeartbeats(ctx)
		return sweeps.Report{Counts: map[string]int{"updated": r.Updated}}, err
	})
	add("online_mirror_reseed", sc.OnlineMirrorReseed, func(ctx context.Context) (sweeps.Report, error) {
		r, err := c.mirror.SeedFromPostgres(ctx)
		// The pairing queue's index is as disposable as the mirror: rebuilt with it.
		return sweeps.Report{Counts: map[string]int{"mitras": r.Mitras}}, errors.Join(err, c.pairer.RebuildQueueIndex(ctx))
	})
	add("stale_payments", sc.StalePayments, func(ctx context.Context) (sweeps.Report, error) {
		r, err := c.payments.ExpireStale(ctx)
		return sweeps.Report{Counts: map[string]int{"expired": r.Expired, "handler_errors": r.HandlerErrors}}, err
	})
	add("refund_retry", sc.RefundRetry, func(ctx context.Context) (sweeps.Report, error) {
		r, err := c.payments.RetryRefunds(ctx)
		// Failure rows whose refunds went through while the notice was lost say so now.
		n, syncErr := c.pairer.SyncFailureRefunds(ctx)
		return sweeps.Report{Counts: map[string]int{
			"attempted": r.Attempted, "succeeded": r.Succeeded, "failed": r.Failed, "gave_up": r.GaveUp,
			"failure_rows_refunded": n,
		}}, errors.Join(err, syncErr)
	})
	add("timeouts", sc.Timeouts, func(ctx context.Context) (sweeps.Report, error) {
		r, err := c.pairer.SweepTimeouts(ctx)
		n, extErr := c.exts.SweepExpired(ctx)
		return sweeps.Report{Counts: map[string]int{
			"pairings_timed_out": r.PairingsTimedOut, "sessions_expired": r.SessionsExpired,
			"abandoned": r.Abandoned, "orphans": r.Orphans, "extensions_expired": n,
			"rings_added": r.RingsAdded, "queued_offers_lapsed": r.OffersLapsed,
		}}, errors.Join(err, extErr)
	})
	return errors.Join(errs...)
}
