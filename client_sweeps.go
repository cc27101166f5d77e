package curhat

import (
	"context"
	"errors"
	"time"

	"github.com/curhat/curhat/sweeps"
)

// clientSweep is one background sweep of the Client.
type clientSweep struct {
	// name identifies the sweep in logs, metrics (sweeps.Hooks) and lock keys.
	name string
	// doc says what one run does.
	doc string
	// interval is the default cadence, used when the sweep's SweepsConfig field is 0.
	interval time.Duration
	// every is the sweep's field of SweepsConfig (its cadence, or SweepOff).
	every func(*SweepsConfig) *time.Duration
	// run is one pass. Like every sweeps.Job it is idempotent and safe to run in several
	// instances at once.
	run func(ctx context.Context, c *Client) (sweeps.Report, error)
}

// clientSweeps are every sweep the Client runs, in the order they start: the one list of
// them (the package docs and the README point here). withDefaults fills each cadence from
// it and buildSweeps builds a sweeps.Sweep per row.
var clientSweeps = []clientSweep{
	{
		name:     "auto_offline",
		doc:      "sets offline the mitras whose heartbeat went stale",
		interval: sweeps.DefaultAutoOfflineInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.AutoOffline },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			r, err := c.mirror.AutoOffline(ctx)
			return sweeps.Report{Counts: map[string]int{"offlined": r.Offlined}}, err
		},
	},
	{
		name:     "heartbeat_mirror",
		doc:      "copies the heartbeats held in Valkey to Postgres",
		interval: sweeps.DefaultHeartbeatMirrorInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.HeartbeatMirror },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			r, err := c.mirror.MirrorHeartbeats(ctx)
			return sweeps.Report{Counts: map[string]int{"updated": r.Updated}}, err
		},
	},
	{
		name:     "online_mirror_reseed",
		doc:      "rebuilds the Valkey availability mirror and the pairing queue's index from Postgres (drift repair)",
		interval: sweeps.DefaultOnlineMirrorReseedInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.OnlineMirrorReseed },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			r, err := c.mirror.SeedFromPostgres(ctx)
			// The pairing queue's index is as disposable as the mirror: rebuilt with it.
			return sweeps.Report{Counts: map[string]int{"mitras": r.Mitras}}, errors.Join(err, c.pairer.RebuildQueueIndex(ctx))
		},
	},
	{
		name:     "stale_payments",
		doc:      "expires unpaid payment sessions and redelivers outcomes whose handler failed",
		interval: sweeps.DefaultPaymentSweepInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.StalePayments },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			r, err := c.payments.ExpireStale(ctx)
			return sweeps.Report{Counts: map[string]int{"expired": r.Expired, "handler_errors": r.HandlerErrors}}, err
		},
	},
	{
		name:     "refund_retry",
		doc:      "retries refused and unsent refunds, and marks refunded the failed pairings whose refund went through",
		interval: sweeps.DefaultPaymentRefundRetryInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.RefundRetry },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			r, err := c.payments.RetryRefunds(ctx)
			// Failure rows whose refunds went through while the notice was lost say so now.
			n, syncErr := c.pairer.SyncFailureRefunds(ctx)
			return sweeps.Report{Counts: map[string]int{
				"attempted": r.Attempted, "succeeded": r.Succeeded, "failed": r.Failed, "gave_up": r.GaveUp,
				"failure_rows_refunded": n,
			}}, errors.Join(err, syncErr)
		},
	},
	{
		name:     "timeouts",
		doc:      "applies pairing deadlines, chat session expiry and extension deadlines (backing up the in-process timers)",
		interval: sweeps.DefaultTimeoutsSweepInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.Timeouts },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			r, err := c.pairer.SweepTimeouts(ctx)
			n, extErr := c.exts.SweepExpired(ctx)
			return sweeps.Report{Counts: map[string]int{
				"pairings_timed_out": r.PairingsTimedOut, "sessions_expired": r.SessionsExpired,
				"abandoned": r.Abandoned, "orphans": r.Orphans, "extensions_expired": n,
				"rings_added": r.RingsAdded, "queued_offers_lapsed": r.OffersLapsed,
				"wrapups_ended": r.WrapupsEnded,
			}}, errors.Join(err, extErr)
		},
	},
	{
		name:     "earnings_clearance",
		doc:      "makes available the mitras' earnings whose clearance is due, settling what they owe first",
		interval: sweeps.DefaultEarningsClearanceInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.EarningsClearance },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			n, err := c.ledger.Clear(ctx, c.cfg.Clock.Now(), clearanceBatch)
			return sweeps.Report{Counts: map[string]int{"cleared": n}}, err
		},
	},
	{
		name:     "payout_retry",
		doc:      "sends again the payouts whose send was cut short (the provider down, a crash)",
		interval: sweeps.DefaultPayoutRetryInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.PayoutRetry },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			n, err := c.payouts.RetryPending(ctx, 0)
			return sweeps.Report{Counts: map[string]int{"sent": n}}, err
		},
	},
	{
		name:     "no_show",
		doc:      "ends mitra_no_show, refunding the client in full, the chat sessions whose mitra showed no activity within mitra_first_reply_seconds",
		interval: sweeps.DefaultNoShowInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.NoShow },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			n, err := c.pairer.SweepNoShows(ctx)
			return sweeps.Report{Counts: map[string]int{"ended": n}}, err
		},
	},
	{
		name:     "chat_retention",
		doc:      "deletes the chat messages older than chat_message_retention_days, but those open reports hold",
		interval: sweeps.DefaultChatRetentionInterval,
		every:    func(s *SweepsConfig) *time.Duration { return &s.ChatRetention },
		run: func(ctx context.Context, c *Client) (sweeps.Report, error) {
			n, err := c.chat.SweepRetention(ctx)
			return sweeps.Report{Counts: map[string]int{"deleted": n}}, err
		},
	},
}

// clearanceBatch bounds the earnings one clearance run makes available; the next run takes
// the rest.
const clearanceBatch = 1000

// minSweepRunTimeout is the least time one run of a sweep gets, however short its
// interval: a run cut short at every cycle (a loaded database, a slow gateway) would never
// get through its first due row, and the rows behind it would wait forever. With a Lock the
// run is still capped by the lock's TTL.
const minSweepRunTimeout = 2 * time.Second

// buildSweeps makes a sweeps.Sweep of every row of clientSweeps at its cadence, but for
// the ones turned off (none when SweepsConfig.Disabled).
func (c *Client) buildSweeps() error {
	sc := c.cfg.Sweeps
	if sc.Disabled {
		return nil
	}
	var errs []error
	for _, sw := range clientSweeps {
		every := *sw.every(&sc)
		if every < 0 {
			continue // SweepOff
		}
		s, err := sweeps.New(func(ctx context.Context) (sweeps.Report, error) { return sw.run(ctx, c) }, sweeps.Config{
			Name: sw.name, Interval: every, Timeout: max(every, minSweepRunTimeout),
			Logger: c.log, Hooks: c.cfg.SweepHooks, Lock: sc.Lock, Clock: c.cfg.Clock,
		})
		errs = append(errs, err)
		if err == nil {
			c.sweeps = append(c.sweeps, s)
		}
	}
	return errors.Join(errs...)
}
