package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/sweeps"
)

// Config is the server configuration; main fills it from the environment (SPEC §13).
type Config struct {
	Addr                 string        // ADDR, default ":8080"
	DatabaseURL          string        // DATABASE_URL; empty with VALKEY_URL empty → in-memory mode
	ValkeyURL            string        // VALKEY_URL
	ValkeyCluster        bool          // VALKEY_CLUSTER=1: cluster mode, hash-tagged key names
	ValkeyKeyPrefix      string        // VALKEY_KEY_PREFIX
	ValkeyClientCache    bool          // VALKEY_CLIENT_CACHE (default on): server-assisted client-side caching
	OperatorToken        string        // OPERATOR_TOKEN; generated and printed when empty
	PaymentWebhookSecret string        // PAYMENT_WEBHOOK_SECRET; generated and printed when empty
	AuthCacheTTL         time.Duration // AUTH_CACHE_SECONDS (30)
	DemoData             bool          // DEMO_DATA (default: on in memory mode)
	Sweeps               bool          // SWEEPS (default on)
	FanoutCap            int           // PAIRING_FANOUT_CAP: most mitras a blast is offered to (0 = every available mitra)

	HeartbeatStale         time.Duration // MITRA_HEARTBEAT_STALE_SECONDS (90)
	AutoOfflineInterval    time.Duration // MITRA_AUTO_OFFLINE_SWEEP_SECONDS (30)
	HeartbeatMirrorEvery   time.Duration // HEARTBEAT_MIRROR_INTERVAL_SECONDS (60)
	OnlineMirrorReseed     time.Duration // VALKEY_ONLINE_MIRROR_SWEEP_SECONDS (300)
	PaymentSweepInterval   time.Duration // PAYMENT_SESSION_SWEEP_SECONDS (60)
	TimeoutsSweepInterval  time.Duration // PAIRING_SWEEP_SECONDS (1)
	PaymentRefundRetry     time.Duration // PAYMENT_REFUND_RETRY_SECONDS (60): refund retry sweep, base of its backoff
	ShutdownGrace          time.Duration // SHUTDOWN_GRACE_SECONDS (10)
	InMemory               bool          // derived: no DATABASE_URL and no VALKEY_URL
	OperatorTokenGenerated bool          // derived
	WebhookSecretGenerated bool          // derived
}

// configFromEnv maps environment variables to Config. getenv is os.Getenv in main.
func configFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:                 or(getenv("ADDR"), ":8080"),
		DatabaseURL:          getenv("DATABASE_URL"),
		ValkeyURL:            getenv("VALKEY_URL"),
		ValkeyKeyPrefix:      getenv("VALKEY_KEY_PREFIX"),
		OperatorToken:        getenv("OPERATOR_TOKEN"),
		PaymentWebhookSecret: getenv("PAYMENT_WEBHOOK_SECRET"),
	}
	c.InMemory = c.DatabaseURL == "" && c.ValkeyURL == ""
	if c.DatabaseURL == "" && c.ValkeyURL != "" {
		return c, fmt.Errorf("VALKEY_URL is set but DATABASE_URL is not: Valkey only mirrors Postgres; set both, or neither for in-memory mode")
	}
	var err error
	bools := []struct {
		name string
		dst  *bool
		def  bool
	}{
		{"VALKEY_CLUSTER", &c.ValkeyCluster, false},
		{"VALKEY_CLIENT_CACHE", &c.ValkeyClientCache, true},
		{"DEMO_DATA", &c.DemoData, c.InMemory},
		{"SWEEPS", &c.Sweeps, true},
	}
	for _, b := range bools {
		if *b.dst, err = envBool(getenv, b.name, b.def); err != nil {
			return c, err
		}
	}
	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"AUTH_CACHE_SECONDS", &c.AuthCacheTTL, DefaultAuthCacheTTL},
		{"MITRA_HEARTBEAT_STALE_SECONDS", &c.HeartbeatStale, availability.DefaultStaleThreshold},
		{"MITRA_AUTO_OFFLINE_SWEEP_SECONDS", &c.AutoOfflineInterval, sweeps.DefaultAutoOfflineInterval},
		{"HEARTBEAT_MIRROR_INTERVAL_SECONDS", &c.HeartbeatMirrorEvery, sweeps.DefaultHeartbeatMirrorInterval},
		{"VALKEY_ONLINE_MIRROR_SWEEP_SECONDS", &c.OnlineMirrorReseed, sweeps.DefaultOnlineMirrorReseedInterval},
		{"PAYMENT_SESSION_SWEEP_SECONDS", &c.PaymentSweepInterval, sweeps.DefaultPaymentSweepInterval},
		{"PAIRING_SWEEP_SECONDS", &c.TimeoutsSweepInterval, sweeps.DefaultTimeoutsSweepInterval},
		{"PAYMENT_REFUND_RETRY_SECONDS", &c.PaymentRefundRetry, sweeps.DefaultPaymentRefundRetryInterval},
		{"SHUTDOWN_GRACE_SECONDS", &c.ShutdownGrace, 10 * time.Second},
	}
	for _, d := range durations {
		if *d.dst, err = envSeconds(getenv, d.name, d.def); err != nil {
			return c, err
		}
	}
	if v := strings.TrimSpace(getenv("PAIRING_FANOUT_CAP")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100_000 {
			return c, fmt.Errorf("PAIRING_FANOUT_CAP=%q: want an integer in 0..100000 (0 = no cap)", v)
		}
		c.FanoutCap = n
	}
	if c.OperatorToken == "" {
		c.OperatorToken = newToken()
		c.OperatorTokenGenerated = true
	}
	if c.PaymentWebhookSecret == "" {
		c.PaymentWebhookSecret = newToken()
		c.WebhookSecretGenerated = true
	}
	return c, nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func envBool(getenv func(string) string, name string, def bool) (bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true/false/1/0", name, v)
	}
	return b, nil
}

func envSeconds(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f > 86400 {
		return 0, fmt.Errorf("%s=%q: want a number of seconds in (0, 86400]", name, v)
	}
	return time.Duration(f * float64(time.Second)), nil
}
