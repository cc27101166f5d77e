package main

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/payment/xendit"
	"github.com/curhat/curhat/sweeps"
)

// Config is the server configuration; main fills it from the environment.
type Config struct {
	Addr                 string        // ADDR, default ":8080"
	DatabaseURL          string        // DATABASE_URL; empty with VALKEY_URL empty → in-memory mode
	ValkeyURL            string        // VALKEY_URL
	ValkeyCluster        bool          // VALKEY_CLUSTER=1: cluster mode, hash-tagged key names
	ValkeyKeyPrefix      string        // VALKEY_KEY_PREFIX
	ValkeyClientCache    bool          // VALKEY_CLIENT_CACHE (default on): server-assisted client-side caching
	OperatorToken        string        // OPERATOR_TOKEN; ≥ 32 bytes with DATABASE_URL, generated and printed in memory mode
	PaymentGateway       string        // PAYMENT_GATEWAY: GatewayFake or GatewayXendit; default fake in memory mode, required with DATABASE_URL
	PaymentWebhookSecret string        // PAYMENT_WEBHOOK_SECRET: signs the fake gateway's webhook and checkout links; same rule as OPERATOR_TOKEN
	XenditSecretKey      string        // XENDIT_SECRET_KEY: the Xendit account's secret API key; required with PAYMENT_GATEWAY=xendit
	XenditCallbackToken  string        // XENDIT_CALLBACK_TOKEN: the Xendit account's callback verification token; required with PAYMENT_GATEWAY=xendit
	XenditAPIURL         string        // XENDIT_API_URL: default xendit.DefaultAPIURL
	AuthCacheTTL         time.Duration // AUTH_CACHE_SECONDS (30)
	DemoData             bool          // DEMO_DATA (default: on in memory mode)
	DemoMitras           string        // DEMO_MITRAS: auto (default with demo data: the demo mitras heartbeat and accept offers) or off
	PublicURL            string        // PUBLIC_URL: how clients reach this server (the fake gateway's checkout links); default http://localhost<ADDR's port>
	Sweeps               bool          // SWEEPS (default on)
	FanoutCap            int           // PAIRING_FANOUT_CAP: most mitras a blast is offered to (0 = every available mitra)
	CORSAllowedOrigins   []string      // CORS_ALLOWED_ORIGINS: origins of a console served elsewhere (comma-separated; empty = same origin only)

	HeartbeatStale          time.Duration // MITRA_HEARTBEAT_STALE_SECONDS (90)
	ReconnectGrace          time.Duration // MITRA_RECONNECT_GRACE_SECONDS (20): a mitra whose last event stream dropped stays reachable that long
	AutoOfflineInterval     time.Duration // MITRA_AUTO_OFFLINE_SWEEP_SECONDS (30)
	HeartbeatMirrorEvery    time.Duration // HEARTBEAT_MIRROR_INTERVAL_SECONDS (60)
	OnlineMirrorReseed      time.Duration // VALKEY_ONLINE_MIRROR_SWEEP_SECONDS (300)
	PaymentSweepInterval    time.Duration // PAYMENT_SESSION_SWEEP_SECONDS (60)
	TimeoutsSweepInterval   time.Duration // PAIRING_SWEEP_SECONDS (1)
	PaymentRefundRetry      time.Duration // PAYMENT_REFUND_RETRY_SECONDS (60): refund retry sweep, base of its backoff
	EarningsClearance       time.Duration // EARNINGS_CLEARANCE_SWEEP_SECONDS (300): earnings clearance sweep
	PayoutRetry             time.Duration // PAYOUT_RETRY_SECONDS (60): sends again the payouts whose send was cut short
	NoShowSweep             time.Duration // NO_SHOW_SWEEP_SECONDS (15): ends the sessions whose mitra never showed up (mitra_first_reply_seconds)
	ChatRetentionSweep      time.Duration // CHAT_RETENTION_SWEEP_SECONDS (3600): deletes the messages older than chat_message_retention_days
	ShutdownGrace           time.Duration // SHUTDOWN_GRACE_SECONDS (10)
	ReadTimeout             time.Duration // HTTP_READ_TIMEOUT_SECONDS (10): headers and body of a request
	MetricsAddr             string        // METRICS_ADDR: serve GET /metrics there instead of on ADDR
	SSEMaxStreamsPerSubject int           // SSE_MAX_STREAMS_PER_SUBJECT (5): open event streams of one client or mitra, per instance
	SSEMaxStreams           int           // SSE_MAX_STREAMS (20000): open event streams of an instance
	InMemory                bool          // derived: no DATABASE_URL and no VALKEY_URL
	OperatorTokenGenerated  bool          // derived
	WebhookSecretGenerated  bool          // derived
}

// configFromEnv maps environment variables to Config. getenv is os.Getenv in main.
func configFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:                 cmp.Or(getenv("ADDR"), ":8080"),
		DatabaseURL:          getenv("DATABASE_URL"),
		ValkeyURL:            getenv("VALKEY_URL"),
		ValkeyKeyPrefix:      getenv("VALKEY_KEY_PREFIX"),
		OperatorToken:        getenv("OPERATOR_TOKEN"),
		PaymentWebhookSecret: getenv("PAYMENT_WEBHOOK_SECRET"),
		XenditSecretKey:      strings.TrimSpace(getenv("XENDIT_SECRET_KEY")),
		XenditCallbackToken:  strings.TrimSpace(getenv("XENDIT_CALLBACK_TOKEN")),
		XenditAPIURL:         strings.TrimRight(strings.TrimSpace(getenv("XENDIT_API_URL")), "/"),
	}
	c.InMemory = c.DatabaseURL == "" && c.ValkeyURL == ""
	if c.DatabaseURL == "" && c.ValkeyURL != "" {
		return c, fmt.Errorf("VALKEY_URL is set but DATABASE_URL is not: Valkey only mirrors Postgres; set both, or neither for in-memory mode")
	}
	// Which gateway takes the money is never guessed for a server whose data outlives it:
	// the fake one marks payments paid for nothing.
	c.PaymentGateway = strings.ToLower(strings.TrimSpace(getenv("PAYMENT_GATEWAY")))
	if c.PaymentGateway == "" && c.InMemory {
		c.PaymentGateway = GatewayFake
	}
	if c.PaymentGateway == GatewayXendit && c.XenditAPIURL == "" {
		c.XenditAPIURL = xendit.DefaultAPIURL
	}
	if err := c.validateGateway(); err != nil {
		return c, err
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
		{"MITRA_RECONNECT_GRACE_SECONDS", &c.ReconnectGrace, availability.DefaultReconnectGrace},
		{"MITRA_AUTO_OFFLINE_SWEEP_SECONDS", &c.AutoOfflineInterval, sweeps.DefaultAutoOfflineInterval},
		{"HEARTBEAT_MIRROR_INTERVAL_SECONDS", &c.HeartbeatMirrorEvery, sweeps.DefaultHeartbeatMirrorInterval},
		{"VALKEY_ONLINE_MIRROR_SWEEP_SECONDS", &c.OnlineMirrorReseed, sweeps.DefaultOnlineMirrorReseedInterval},
		{"PAYMENT_SESSION_SWEEP_SECONDS", &c.PaymentSweepInterval, sweeps.DefaultPaymentSweepInterval},
		{"PAIRING_SWEEP_SECONDS", &c.TimeoutsSweepInterval, sweeps.DefaultTimeoutsSweepInterval},
		{"PAYMENT_REFUND_RETRY_SECONDS", &c.PaymentRefundRetry, sweeps.DefaultPaymentRefundRetryInterval},
		{"EARNINGS_CLEARANCE_SWEEP_SECONDS", &c.EarningsClearance, sweeps.DefaultEarningsClearanceInterval},
		{"PAYOUT_RETRY_SECONDS", &c.PayoutRetry, sweeps.DefaultPayoutRetryInterval},
		{"NO_SHOW_SWEEP_SECONDS", &c.NoShowSweep, sweeps.DefaultNoShowInterval},
		{"CHAT_RETENTION_SWEEP_SECONDS", &c.ChatRetentionSweep, sweeps.DefaultChatRetentionInterval},
		{"SHUTDOWN_GRACE_SECONDS", &c.ShutdownGrace, 10 * time.Second},
		{"HTTP_READ_TIMEOUT_SECONDS", &c.ReadTimeout, DefaultReadTimeout},
	}
	for _, d := range durations {
		if *d.dst, err = envSeconds(getenv, d.name, d.def); err != nil {
			return c, err
		}
	}
	ints := []struct {
		name     string
		dst      *int
		def      int
		min, max int
		hint     string
	}{
		{"PAIRING_FANOUT_CAP", &c.FanoutCap, 0, 0, 100_000, " (0 = no cap)"},
		{"SSE_MAX_STREAMS_PER_SUBJECT", &c.SSEMaxStreamsPerSubject, DefaultSSEMaxStreamsPerSubject, 1, 1000, ""},
		{"SSE_MAX_STREAMS", &c.SSEMaxStreams, DefaultSSEMaxStreams, 1, 1_000_000, ""},
	}
	for _, n := range ints {
		if *n.dst, err = envInt(getenv, n.name, n.def, n.min, n.max, n.hint); err != nil {
			return c, err
		}
	}
	switch c.DemoMitras = strings.ToLower(cmp.Or(strings.TrimSpace(getenv("DEMO_MITRAS")), DemoMitrasAuto)); c.DemoMitras {
	case DemoMitrasAuto, DemoMitrasOff:
	default:
		return c, fmt.Errorf("DEMO_MITRAS=%q: want auto (the demo mitras heartbeat and accept offers) or off (drive them yourself)", c.DemoMitras)
	}
	if c.PublicURL, err = publicURL(getenv("PUBLIC_URL"), c.Addr); err != nil {
		return c, err
	}
	if c.CORSAllowedOrigins, err = parseCORSOrigins(getenv("CORS_ALLOWED_ORIGINS")); err != nil {
		return c, err
	}
	c.MetricsAddr = strings.TrimSpace(getenv("METRICS_ADDR"))
	if c.MetricsAddr != "" && c.MetricsAddr == c.Addr {
		return c, fmt.Errorf("METRICS_ADDR=%q is ADDR: give the metrics their own address, or leave METRICS_ADDR unset to serve them on ADDR", c.MetricsAddr)
	}
	if !c.InMemory {
		// Generated secrets are printed at start and change at every restart: fine for a
		// demo in memory, not for a server whose tokens and webhooks outlive it.
		for _, s := range c.secrets() {
			if s.value == "" {
				return c, fmt.Errorf("%s is required with DATABASE_URL (at least %d bytes, e.g. `openssl rand -base64 32`)", s.name, minSecretBytes)
			}
		}
	}
	if c.OperatorToken == "" {
		c.OperatorToken = newToken()
		c.OperatorTokenGenerated = true
	}
	if c.PaymentWebhookSecret == "" {
		c.PaymentWebhookSecret = newToken()
		c.WebhookSecretGenerated = true
	}
	return c, c.validate()
}

// minSecretBytes is the shortest OPERATOR_TOKEN and PAYMENT_WEBHOOK_SECRET accepted with
// DATABASE_URL: 256 bits, as long as the tokens the server mints.
const minSecretBytes = 32

// PAYMENT_GATEWAY values.
const (
	// GatewayFake is paymenttest's fake gateway behind this server's own checkout page and
	// signed webhook: nothing is charged, and anyone with a checkout link can mark its
	// payment paid. For demos and tests.
	GatewayFake = "fake"
	// GatewayXendit is Xendit (payment/xendit): invoices, refunds and payouts through its
	// API, confirmed by its callbacks (routes_xendit.go).
	GatewayXendit = "xendit"
)

// validateGateway checks PaymentGateway: required with DATABASE_URL, one of the known
// values, with the settings that gateway needs.
func (c Config) validateGateway() error {
	switch c.PaymentGateway {
	case GatewayFake:
		return nil
	case GatewayXendit:
		return c.validateXendit()
	case "":
		if c.InMemory {
			return nil // configFromEnv fills in the default
		}
		return fmt.Errorf("PAYMENT_GATEWAY is required with DATABASE_URL: set PAYMENT_GATEWAY=%s to take payments through Xendit, "+
			"or %s to take them through the fake gateway (nothing is charged; for demos and tests)", GatewayXendit, GatewayFake)
	}
	return fmt.Errorf("PAYMENT_GATEWAY=%q: want %s (Xendit) or %s (the fake gateway; nothing is charged)", c.PaymentGateway, GatewayXendit, GatewayFake)
}

// validateXendit checks the settings of PAYMENT_GATEWAY=xendit. The errors name the
// variable, never its value.
func (c Config) validateXendit() error {
	switch {
	case c.XenditSecretKey == "":
		return fmt.Errorf("XENDIT_SECRET_KEY is required with PAYMENT_GATEWAY=%s: the secret API key from Xendit's dashboard "+
			"(Settings → API keys), with the money-in and money-out permissions", GatewayXendit)
	case c.XenditCallbackToken == "":
		return fmt.Errorf("XENDIT_CALLBACK_TOKEN is required with PAYMENT_GATEWAY=%s: the callback verification token from Xendit's "+
			"dashboard (Settings → Webhooks); callbacks without it are refused", GatewayXendit)
	}
	if c.XenditAPIURL != "" {
		u, err := url.Parse(c.XenditAPIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("XENDIT_API_URL=%q: want an absolute http(s) URL (unset: %s)", c.XenditAPIURL, xendit.DefaultAPIURL)
		}
	}
	return nil
}

// secrets are the secrets the configuration needs: the operator token, and the webhook
// secret while the fake gateway (whose webhook and checkout links it signs) is in use.
func (c Config) secrets() []struct{ name, value string } {
	out := []struct{ name, value string }{{"OPERATOR_TOKEN", c.OperatorToken}}
	if c.PaymentGateway == GatewayFake {
		out = append(out, struct{ name, value string }{"PAYMENT_WEBHOOK_SECRET", c.PaymentWebhookSecret})
	}
	return out
}

// Defaults of the server's own settings.
const (
	// DefaultReadTimeout bounds the read of a request, headers and body: a body trickled
	// byte by byte cannot hold a connection longer. Event streams clear it.
	DefaultReadTimeout = 10 * time.Second
	// DefaultSSEMaxStreamsPerSubject is how many event streams one client or mitra may hold
	// open on one instance (an app reconnecting leaves a few half-closed ones behind).
	DefaultSSEMaxStreamsPerSubject = 5
	// DefaultSSEMaxStreams bounds the event streams of one instance (each holds a
	// connection, a goroutine and a buffered channel).
	DefaultSSEMaxStreams = 20_000
)

// validate reports a configuration the server must not start with. NewApp calls it too, so
// a Config built in code gets the same checks as one read from the environment.
func (c Config) validate() error {
	if err := c.validateGateway(); err != nil {
		return err
	}
	if !c.InMemory {
		for _, s := range c.secrets() {
			if len(s.value) < minSecretBytes {
				return fmt.Errorf("%s must be at least %d bytes with DATABASE_URL (it is %d)", s.name, minSecretBytes, len(s.value))
			}
		}
	}
	if c.SSEMaxStreamsPerSubject < 0 || c.SSEMaxStreams < 0 {
		return fmt.Errorf("SSE_MAX_STREAMS_PER_SUBJECT and SSE_MAX_STREAMS must not be negative")
	}
	return nil
}

func envInt(getenv func(string) string, name string, def, min, max int, hint string) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s=%q: want an integer in %d..%d%s", name, v, min, max, hint)
	}
	return n, nil
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

// DEMO_MITRAS values.
const (
	DemoMitrasAuto = "auto"
	DemoMitrasOff  = "off"
)

// publicURL is PUBLIC_URL without its trailing slash, or http://localhost with the port of
// addr.
func publicURL(v, addr string) (string, error) {
	if v = strings.TrimRight(strings.TrimSpace(v), "/"); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("PUBLIC_URL=%q: want an absolute http(s) URL such as https://api.example.com", v)
		}
		return v, nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		port = "8080"
	}
	return "http://localhost:" + port, nil
}
