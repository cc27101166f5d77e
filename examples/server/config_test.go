package main

import (
	"context"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/sweeps"
)

func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestConfig_RequiresStrongSecretsWithDatabase(t *testing.T) {
	t.Parallel()
	strong := strings.Repeat("s", minSecretBytes)
	db := "postgres://127.0.0.1:5432/test"
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string // "" = starts
	}{
		{"memory mode generates both", map[string]string{}, ""},
		{"database without operator token", map[string]string{"DATABASE_URL": db, "PAYMENT_WEBHOOK_SECRET": strong}, "OPERATOR_TOKEN is required"},
		{"database without webhook secret", map[string]string{"DATABASE_URL": db, "OPERATOR_TOKEN": strong}, "PAYMENT_WEBHOOK_SECRET is required"},
		{"database without either", map[string]string{"DATABASE_URL": db}, "OPERATOR_TOKEN is required"},
		{"short operator token", map[string]string{"DATABASE_URL": db, "OPERATOR_TOKEN": strong[1:], "PAYMENT_WEBHOOK_SECRET": strong}, "OPERATOR_TOKEN must be at least 32 bytes"},
		{"short webhook secret", map[string]string{"DATABASE_URL": db, "OPERATOR_TOKEN": strong, "PAYMENT_WEBHOOK_SECRET": "secret"}, "PAYMENT_WEBHOOK_SECRET must be at least 32 bytes"},
		{"database with both", map[string]string{"DATABASE_URL": db, "OPERATOR_TOKEN": strong, "PAYMENT_WEBHOOK_SECRET": strong}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.env["DATABASE_URL"] != "" {
				c.env["PAYMENT_GATEWAY"] = GatewayFake // TestConfig_RefusesPostgresModeWithoutPaymentGateway covers its absence
			}
			cfg, err := configFromEnv(envOf(c.env))
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				require.NotContains(t, err.Error(), strong[1:], "the error must not echo the secret")
				return
			}
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(cfg.OperatorToken), minSecretBytes)
			require.GreaterOrEqual(t, len(cfg.PaymentWebhookSecret), minSecretBytes)
			require.Equal(t, cfg.InMemory, cfg.OperatorTokenGenerated, "secrets are generated in memory mode only")
			require.Equal(t, cfg.InMemory, cfg.WebhookSecretGenerated)
		})
	}

	// A Config built in code gets the same check before anything connects.
	cfg, err := configFromEnv(envOf(nil))
	require.NoError(t, err)
	cfg.InMemory, cfg.DatabaseURL, cfg.OperatorToken = false, db, "short"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = NewApp(ctx, cfg, slog.New(slog.DiscardHandler), appOptions{})
	require.ErrorContains(t, err, "OPERATOR_TOKEN must be at least 32 bytes")
}

// The gateway decides whether payments take money, so a server whose data outlives it
// never guesses it: with DATABASE_URL it refuses to start until PAYMENT_GATEWAY names one.
func TestConfig_RefusesPostgresModeWithoutPaymentGateway(t *testing.T) {
	t.Parallel()
	strong := strings.Repeat("s", minSecretBytes)
	postgres := map[string]string{"DATABASE_URL": "postgres://127.0.0.1:5432/test", "OPERATOR_TOKEN": strong, "PAYMENT_WEBHOOK_SECRET": strong}
	with := func(kv ...string) map[string]string {
		env := maps.Clone(postgres)
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	cases := []struct {
		name    string
		env     map[string]string
		want    string // the gateway, when it starts
		wantErr string
	}{
		{"memory mode defaults to the fake", map[string]string{}, GatewayFake, ""},
		{"memory mode, named", map[string]string{"PAYMENT_GATEWAY": "fake"}, GatewayFake, ""},
		{"postgres without it", postgres, "", "PAYMENT_GATEWAY is required with DATABASE_URL"},
		{"postgres with blanks", with("PAYMENT_GATEWAY", "  "), "", "PAYMENT_GATEWAY is required with DATABASE_URL"},
		{"postgres with the fake", with("PAYMENT_GATEWAY", "fake"), GatewayFake, ""},
		{"case does not matter", with("PAYMENT_GATEWAY", " Fake "), GatewayFake, ""},
		{"postgres with xendit", with("PAYMENT_GATEWAY", "xendit", "XENDIT_SECRET_KEY", "xnd_development_k", "XENDIT_CALLBACK_TOKEN", "cb"), GatewayXendit, ""},
		{"unknown value", with("PAYMENT_GATEWAY", "stripe"), "", `PAYMENT_GATEWAY="stripe": want xendit (Xendit) or fake`},
		{"unknown value in memory", map[string]string{"PAYMENT_GATEWAY": "paypal"}, "", `PAYMENT_GATEWAY="paypal": want xendit (Xendit) or fake`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := configFromEnv(envOf(c.env))
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, cfg.PaymentGateway)
		})
	}

	// A Config built in code gets the same check before anything connects.
	cfg, err := configFromEnv(envOf(nil))
	require.NoError(t, err)
	cfg.InMemory, cfg.DatabaseURL, cfg.OperatorToken, cfg.PaymentGateway = false, postgres["DATABASE_URL"], strong, ""
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = NewApp(ctx, cfg, slog.New(slog.DiscardHandler), appOptions{})
	require.ErrorContains(t, err, "PAYMENT_GATEWAY is required with DATABASE_URL")
}

func TestConfig_ServerSettingsFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := configFromEnv(envOf(nil))
	require.NoError(t, err)
	require.Equal(t, DefaultReadTimeout, cfg.ReadTimeout)
	require.Equal(t, DefaultSSEMaxStreamsPerSubject, cfg.SSEMaxStreamsPerSubject)
	require.Equal(t, DefaultSSEMaxStreams, cfg.SSEMaxStreams)
	require.Empty(t, cfg.MetricsAddr)
	require.Equal(t, availability.DefaultReconnectGrace, cfg.ReconnectGrace)

	cfg, err = configFromEnv(envOf(map[string]string{"HTTP_READ_TIMEOUT_SECONDS": "2.5", "SSE_MAX_STREAMS_PER_SUBJECT": "2",
		"SSE_MAX_STREAMS": "100", "METRICS_ADDR": "127.0.0.1:9090", "MITRA_RECONNECT_GRACE_SECONDS": "5"}))
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, cfg.ReconnectGrace)
	require.Equal(t, 2500*time.Millisecond, cfg.ReadTimeout)
	require.Equal(t, 2, cfg.SSEMaxStreamsPerSubject)
	require.Equal(t, 100, cfg.SSEMaxStreams)
	require.Equal(t, "127.0.0.1:9090", cfg.MetricsAddr)

	for env, want := range map[string]string{
		"HTTP_READ_TIMEOUT_SECONDS":     "HTTP_READ_TIMEOUT_SECONDS",
		"MITRA_RECONNECT_GRACE_SECONDS": "MITRA_RECONNECT_GRACE_SECONDS",
		"SSE_MAX_STREAMS_PER_SUBJECT":   "SSE_MAX_STREAMS_PER_SUBJECT",
		"SSE_MAX_STREAMS":               "SSE_MAX_STREAMS",
	} {
		for _, bad := range []string{"0", "-1", "x", "99999999999"} {
			_, err := configFromEnv(envOf(map[string]string{env: bad}))
			require.ErrorContains(t, err, want, "%s=%s", env, bad)
		}
	}
	_, err = configFromEnv(envOf(map[string]string{"ADDR": ":9000", "METRICS_ADDR": ":9000"}))
	require.ErrorContains(t, err, "METRICS_ADDR")
}

// Each sweep's cadence has its variable, with the SDK's default when unset; the App hands
// each to its sweep (TestEarningsRoutes_… checks the earnings clearance's end to end).
func TestConfig_SweepCadencesFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := configFromEnv(envOf(nil))
	require.NoError(t, err)
	cadences := []struct {
		env string
		got *time.Duration
		def time.Duration
	}{
		{"MITRA_AUTO_OFFLINE_SWEEP_SECONDS", &cfg.AutoOfflineInterval, sweeps.DefaultAutoOfflineInterval},
		{"HEARTBEAT_MIRROR_INTERVAL_SECONDS", &cfg.HeartbeatMirrorEvery, sweeps.DefaultHeartbeatMirrorInterval},
		{"VALKEY_ONLINE_MIRROR_SWEEP_SECONDS", &cfg.OnlineMirrorReseed, sweeps.DefaultOnlineMirrorReseedInterval},
		{"PAYMENT_SESSION_SWEEP_SECONDS", &cfg.PaymentSweepInterval, sweeps.DefaultPaymentSweepInterval},
		{"PAIRING_SWEEP_SECONDS", &cfg.TimeoutsSweepInterval, sweeps.DefaultTimeoutsSweepInterval},
		{"PAYMENT_REFUND_RETRY_SECONDS", &cfg.PaymentRefundRetry, sweeps.DefaultPaymentRefundRetryInterval},
		{"EARNINGS_CLEARANCE_SWEEP_SECONDS", &cfg.EarningsClearance, sweeps.DefaultEarningsClearanceInterval},
		{"PAYOUT_RETRY_SECONDS", &cfg.PayoutRetry, sweeps.DefaultPayoutRetryInterval},
		{"NO_SHOW_SWEEP_SECONDS", &cfg.NoShowSweep, sweeps.DefaultNoShowInterval},
		{"CHAT_RETENTION_SWEEP_SECONDS", &cfg.ChatRetentionSweep, sweeps.DefaultChatRetentionInterval},
	}
	for _, c := range cadences {
		require.Equal(t, c.def, *c.got, "%s unset", c.env)
	}
	require.Equal(t, 300*time.Second, cfg.EarningsClearance)
	require.Equal(t, 60*time.Second, cfg.PayoutRetry)
	require.Equal(t, 15*time.Second, cfg.NoShowSweep)
	require.Equal(t, time.Hour, cfg.ChatRetentionSweep)

	env := map[string]string{}
	for i, c := range cadences {
		env[c.env] = strconv.Itoa(i + 2)
	}
	cfg, err = configFromEnv(envOf(env))
	require.NoError(t, err)
	for i, c := range cadences {
		require.Equal(t, time.Duration(i+2)*time.Second, *c.got, c.env)
	}
	for _, c := range cadences {
		for _, bad := range []string{"0", "-1", "x", "86401"} {
			_, err := configFromEnv(envOf(map[string]string{c.env: bad}))
			require.ErrorContains(t, err, c.env, "%s=%s", c.env, bad)
		}
	}
}
