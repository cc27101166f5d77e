package curhat_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/sweeps"
)

// events records what the Client notifies.
type events struct {
	mu   sync.Mutex
	list []pairing.Event
}

func (e *events) Notify(_ context.Context, ev pairing.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

func (e *events) kinds(recipient uuid.UUID) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.list {
		if (ev.ClientID != nil && *ev.ClientID == recipient) || (ev.MitraID != nil && *ev.MitraID == recipient) {
			out = append(out, ev.Kind())
		}
	}
	return out
}

// clientBundle is a started Client with what a test needs around it.
type clientBundle struct {
	c       *curhat.Client
	gateway *payment.FakeGateway
	events  *events
	clock   *curhat.FakeClock
}

// newClient registers a new client, as a host does at its sign-up, and returns its id.
func (b clientBundle) newClient(t *testing.T) uuid.UUID {
	t.Helper()
	c, err := b.c.RegisterClient(context.Background(), pairing.RegisterClientParams{DisplayName: "Dewi"})
	require.NoError(t, err)
	return c.ID
}

func testConfig() (*curhat.Config, *payment.FakeGateway, *events, *curhat.FakeClock) {
	gw, ev := payment.NewFakeGateway(), &events{}
	clk := curhat.NewFakeClock(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	return &curhat.Config{Gateway: gw, Notifier: ev, Clock: clk, Sweeps: curhat.SweepsConfig{Disabled: true}}, gw, ev, clk
}

func startClient(t *testing.T, c *curhat.Client) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		require.NoError(t, c.Stop(ctx))
		<-c.Stopped()
	})
}

func newMemoryBundle(t *testing.T) clientBundle {
	cfg, gw, ev, clk := testConfig()
	c, err := curhat.NewMemoryClient(cfg)
	require.NoError(t, err)
	startClient(t, c)
	return clientBundle{c: c, gateway: gw, events: ev, clock: clk}
}

// eachBundle runs fn on a Client in memory and one over Postgres + Valkey, in parallel.
func eachBundle(t *testing.T, fn func(t *testing.T, b clientBundle)) {
	t.Helper()
	for name, open := range map[string]func(*testing.T) clientBundle{"memory": newMemoryBundle, "postgres+valkey": newPostgresBundle} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

// sessionTierAnd creates a 30-minute session tier and sets the runtime settings.
func (b clientBundle) sessionTierAnd(t *testing.T, settings map[string]string) {
	t.Helper()
	ctx := context.Background()
	_, err := b.c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "op"})
	require.NoError(t, err)
	for key, value := range settings {
		_, err := b.c.Runtime().Set(ctx, key, json.RawMessage(value), "op")
		require.NoError(t, err)
	}
}

// paidBlast starts a 30-minute blast for a new client, pays it, and returns it as it is now.
func (b clientBundle) paidBlast(t *testing.T) pairing.Pairing {
	t.Helper()
	ctx := context.Background()
	pr, pay, err := b.c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: b.newClient(t), Minutes: 30})
	require.NoError(t, err)
	_, err = b.c.Payments().MarkPaid(ctx, pay.ID, "fake_ch_"+pay.ID.String())
	require.NoError(t, err)
	pr, err = b.c.Pairing().GetPairing(ctx, pr.ID)
	require.NoError(t, err)
	return pr
}

func newPostgresBundle(t *testing.T) clientBundle {
	db := testenv.Postgres(t)
	vk := testenv.NewValkey(t)
	cfg, gw, ev, clk := testConfig()
	cfg.KeyNames = vk.Names()
	c, err := curhat.NewClient(db.Pool, vk.Client, cfg)
	require.NoError(t, err)
	startClient(t, c)
	return clientBundle{c: c, gateway: gw, events: ev, clock: clk}
}

func TestClient_PaidBlastEndToEnd(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) clientBundle{"memory": newMemoryBundle, "postgres+valkey": newPostgresBundle} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			c, ctx := b.c, context.Background()

			_, err := c.Pricing().CreateTier(ctx, pricing.CreateTierParams{
				Mode: pricing.ModeSession, Minutes: 30, Price: 25000, Label: "30 menit", ChangedBy: "op",
			})
			require.NoError(t, err)
			m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
			require.NoError(t, err)
			require.NoError(t, c.SetMitraOnline(ctx, m.ID))
			online, err := c.Availability().Heartbeat(ctx, m.ID)
			require.NoError(t, err)
			require.True(t, online)

			client := b.newClient(t)
			pr, pay, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 30})
			require.NoError(t, err)
			require.Equal(t, pairing.StatusAwaitingPayment, pr.Status)
			require.Equal(t, int64(25000), pay.Amount)
			require.Len(t, b.gateway.Charges(), 1, "the fake provider was asked for the charge")
			d, err := c.DashboardCounts(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, d.PendingPayments, "the blast's payment waits for the client")
			require.Zero(t, d.AwaitingPaymentSessions, "no chat session yet")

			// The provider confirms: the payment handler the Client registered starts the search.
			paid, err := c.Payments().MarkPaid(ctx, pay.ID, pay.ProviderRef)
			require.NoError(t, err)
			require.Equal(t, payment.StatusPaid, paid.Status)
			offers, err := c.Pairing().ListOffers(ctx, m.ID)
			require.NoError(t, err)
			require.Len(t, offers, 1)
			require.Equal(t, pr.ID, offers[0].PairingID)

			session, err := c.Pairing().Accept(ctx, m.ID, pr.ID)
			require.NoError(t, err)
			require.Equal(t, pairing.SessionActive, session.Status)
			require.Equal(t, []string{pairing.EventPaymentPaid, pairing.EventPairingMatched, pairing.EventSessionStarted},
				b.events.kinds(client))

			d, err = c.Dashboard(ctx)
			require.NoError(t, err)
			require.Equal(t, curhat.Dashboard{OnlineCount: 1, AvailableCount: 0, BusyCount: 1, ActiveSessions: 1}, d,
				"the mitra is online but busy; the paid chat is delivered (nothing unsettled)")
			// The capacity the pairer recomputed is mirrored: the mitra is not available.
			ids, err := c.Availability().FindAvailable(ctx, availability.FindOptions{})
			require.NoError(t, err)
			require.Empty(t, ids)

			// The chat expires on the Client's clock; the mitra is available again.
			b.clock.Advance(31 * time.Minute)
			got, err := c.Pairing().GetChatSession(ctx, session.ID)
			require.NoError(t, err)
			require.Equal(t, pairing.EndExpired, got.EndReason)
		})
	}
}

func TestClient_DeactivatingABusyMitraContinuesItsChatAndRefundsWhatNobodyTakes(t *testing.T) {
	t.Parallel()
	b := newMemoryBundle(t)
	c, ctx := b.c, context.Background()
	_, err := c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 30000, ChangedBy: "op"})
	require.NoError(t, err)
	m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
	require.NoError(t, err)
	require.NoError(t, c.SetMitraOnline(ctx, m.ID))
	client := b.newClient(t)
	pr, pay, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 30})
	require.NoError(t, err)
	_, err = c.Payments().MarkPaid(ctx, pay.ID, pay.ProviderRef)
	require.NoError(t, err)
	session, err := c.Pairing().Accept(ctx, m.ID, pr.ID)
	require.NoError(t, err)
	b.clock.Advance(10 * time.Minute)

	deactivated, err := c.SetMitraActive(ctx, m.ID, false)
	require.NoError(t, err)
	require.False(t, deactivated.IsActive)
	ended, err := c.Pairing().GetChatSession(ctx, session.ID)
	require.NoError(t, err)
	require.Equal(t, pairing.EndMitraDeactivated, ended.EndReason)
	// Nobody else is online: the prepaid blast that continues the chat fails at once and
	// gives back the 20 unused minutes of 30.
	require.Equal(t, int64(20000), b.gateway.RefundedAmount(pay.ID))
	d, err := c.Dashboard(ctx)
	require.NoError(t, err)
	require.Zero(t, d.UnsettledPayments)
}

func TestClient_OwnsEverySweepAtItsDefaultCadenceUnlessTheHostSaysOtherwise(t *testing.T) {
	t.Parallel()
	cadences := func(c *curhat.Client) map[string]time.Duration {
		out := map[string]time.Duration{}
		for _, s := range c.Sweeps() {
			out[s.Name()] = s.Interval()
		}
		return out
	}
	c, err := curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway()})
	require.NoError(t, err)
	require.Equal(t, map[string]time.Duration{
		"auto_offline":         sweeps.DefaultAutoOfflineInterval,
		"heartbeat_mirror":     sweeps.DefaultHeartbeatMirrorInterval,
		"online_mirror_reseed": sweeps.DefaultOnlineMirrorReseedInterval,
		"stale_payments":       sweeps.DefaultPaymentSweepInterval,
		"timeouts":             sweeps.DefaultTimeoutsSweepInterval,
		"refund_retry":         sweeps.DefaultPaymentRefundRetryInterval,
		"earnings_clearance":   sweeps.DefaultEarningsClearanceInterval,
		"payout_retry":         sweeps.DefaultPayoutRetryInterval,
		"no_show":              sweeps.DefaultNoShowInterval,
		"chat_retention":       sweeps.DefaultChatRetentionInterval,
	}, cadences(c))
	require.NoError(t, c.Stop(context.Background()), "never started: Stop is safe")

	c, err = curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway(), Sweeps: curhat.SweepsConfig{
		Timeouts: 5 * time.Second, HeartbeatMirror: curhat.SweepOff,
	}})
	require.NoError(t, err)
	got := cadences(c)
	require.Equal(t, 5*time.Second, got["timeouts"])
	require.NotContains(t, got, "heartbeat_mirror")
	require.Len(t, got, 9)

	c, err = curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway(), Sweeps: curhat.SweepsConfig{Disabled: true}})
	require.NoError(t, err)
	require.Empty(t, c.Sweeps())
}

func TestClient_TheSweepsRunOnTheClientsClock(t *testing.T) {
	t.Parallel()
	clk := curhat.NewFakeClock(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	ran := make(chan string, 16)
	c, err := curhat.NewMemoryClient(&curhat.Config{
		Gateway: payment.NewFakeGateway(), Clock: clk,
		SweepHooks: sweeps.Hooks{SweepRun: func(name string, _ sweeps.Report, err error) {
			if err == nil {
				ran <- name
			}
		}},
		Sweeps: curhat.SweepsConfig{Timeouts: time.Minute, AutoOffline: curhat.SweepOff, HeartbeatMirror: curhat.SweepOff,
			OnlineMirrorReseed: curhat.SweepOff, StalePayments: curhat.SweepOff, RefundRetry: curhat.SweepOff,
			EarningsClearance: curhat.SweepOff, PayoutRetry: curhat.SweepOff, NoShow: curhat.SweepOff,
			ChatRetention: curhat.SweepOff},
	})
	require.NoError(t, err)
	startClient(t, c)
	// The sweep arms its timer when its loop starts: advance until it has run, on the
	// Client's clock only.
	for done := false; !done; {
		clk.Advance(2 * time.Minute)
		select {
		case name := <-ran:
			require.Equal(t, "timeouts", name)
			done = true
		default:
		}
	}
}

func TestClient_StartReturnsItsErrorAndStopsWhatStarted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A pool whose server does not exist: building it connects nowhere, restoring the
	// timers at Start needs the database.
	cfg, err := pgxpool.ParseConfig("postgres://127.0.0.1:1/none?connect_timeout=1")
	require.NoError(t, err)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()
	c, err := curhat.NewClient(pool, nil, &curhat.Config{Gateway: payment.NewFakeGateway()})
	require.NoError(t, err)

	err = c.Start(ctx)
	require.Error(t, err)
	require.ErrorIs(t, err, curhat.ErrUnavailable, "the database's error, not swallowed")
	select {
	case <-c.Stopped():
	case <-ctx.Done():
		t.Fatal("a failed Start left background work running")
	}
	require.Error(t, c.Start(ctx), "a Client starts once")
	require.NoError(t, c.Stop(ctx))
}

func TestClient_StopIsIdempotentAndSafeBeforeStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway()})
	require.NoError(t, err)
	require.NoError(t, c.Stop(ctx))
	require.NoError(t, c.Stop(ctx))
	<-c.Stopped()
	require.Error(t, c.Start(ctx), "a stopped Client does not start")

	c, err = curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway()})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx)) // sweeps on, at their default cadences
	require.NoError(t, c.Stop(ctx))
	require.NoError(t, c.Stop(ctx))
	<-c.Stopped()
	// The services keep answering: nothing runs in the background any more.
	_, err = c.Pricing().ListTiers(ctx, pricing.ListTiersParams{})
	require.NoError(t, err)
}

func TestClient_RefusesAMissingGatewayOrDatabaseByName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		build func() error
		field string
	}{
		{"memory without a gateway", func() error { _, err := curhat.NewMemoryClient(&curhat.Config{}); return err }, "Config.Gateway"},
		{"memory with a nil config", func() error { _, err := curhat.NewMemoryClient(nil); return err }, "Config.Gateway"},
		{"postgres without a database", func() error {
			_, err := curhat.NewClient(nil, nil, &curhat.Config{Gateway: payment.NewFakeGateway()})
			return err
		}, "db"},
		{"a negative stale threshold", func() error {
			_, err := curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway(), StaleThreshold: -time.Second})
			return err
		}, "Config.StaleThreshold"},
		{"a currency a domain refuses", func() error {
			_, err := curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway(), Currency: "idr"})
			return err
		}, "Config.Currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ve *curhat.ValidationError
			err := tc.build()
			require.True(t, errors.As(err, &ve), "got %v", err)
			require.Equal(t, tc.field, ve.Field)
		})
	}
}
