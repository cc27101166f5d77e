package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// readmeWalk returns the shell blocks of the "Walk through it" section of this
// directory's README.md.
func readmeWalk(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(raw), "\n## Walk through it\n")
	require.True(t, ok, "README.md has no \"Walk through it\" section")
	section, _, _ = strings.Cut(section, "\n## ")
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	require.GreaterOrEqual(t, len(blocks), 2)
	return blocks
}

// The walk of examples/server/README.md, run as written: its first block starts the
// server, which the test does in process with the same settings; every other block (the
// wait for /healthz included) runs in bash with curl, jq and openssl against it, and every
// request it makes is checked against openapi.json.
func TestReadme_WalkThroughIt(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CURHAT_REQUIRE_SERVICES") == "1" {
				t.Fatalf("the README walk needs %s", tool)
			}
			t.Skipf("the README walk needs %s (CURHAT_REQUIRE_SERVICES=1 makes this a failure)", tool)
		}
	}
	blocks := readmeWalk(t)
	start := blocks[0]
	require.Contains(t, start, "go run ./examples/server")
	secret := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	op, webhookSecret := secret(), secret()

	// The server as the first block starts it: its variables on the go run line.
	startLine := regexp.MustCompile(`(?m)^(.*)go run ./examples/server`).FindStringSubmatch(start)[1]
	env := map[string]string{}
	for _, kv := range strings.Fields(startLine) {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok, "%q on the go run line", kv)
		env[k] = strings.NewReplacer("$OP", op, "$SECRET", webhookSecret).Replace(v)
	}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.True(t, cfg.InMemory)
	ts := newTestServer(t, memoryBackend, func(c *Config) {
		c.OperatorToken, c.PaymentWebhookSecret = cfg.OperatorToken, cfg.PaymentWebhookSecret
		c.DemoData, c.DemoMitras = cfg.DemoData, cfg.DemoMitras
	})
	if cfg.DemoData {
		require.NoError(t, ts.app.seedDemo(t.Context(), io.Discard, defaultDemoPace))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := "set -euo pipefail\n" + strings.Join(blocks[1:], "\n")
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append(os.Environ(), "OP="+op, "SECRET="+webhookSecret, "BASE="+ts.http.URL)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the README walk failed:\n%s", out)
	t.Logf("the README walk:\n%s", out)

	// What the walk did, as the server sees it.
	for _, want := range []string{`"status":"paid"`, `"pairing":"matched","session":"active"`, `"minutes":40`,
		`"end_reason":"client_ended"`, `"status":"pending_payment"`, `"end_reason":"mitra_ended"`,
		`"type":"blast","status":"awaiting_payment"`} {
		require.Contains(t, string(out), want)
	}
	require.Regexp(t, `(?m)^\{"status":"active","ends_at":"[^"]+"\}$`, string(out), "the fallback blast is taken")
}

// The "Pairing policies" examples of examples/server/README.md, run as written against a
// server: each sets the key it shows, and the config list then serves the values.
func TestReadme_PairingPolicyExamples(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CURHAT_REQUIRE_SERVICES") == "1" {
				t.Fatalf("the README's examples need %s", tool)
			}
			t.Skipf("the README's examples need %s (CURHAT_REQUIRE_SERVICES=1 makes this a failure)", tool)
		}
	}
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(raw), "\n## Pairing policies\n")
	require.True(t, ok, "README.md has no \"Pairing policies\" section")
	section, _, _ = strings.Cut(section, "\n## ")
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		script.WriteString(m[1])
	}
	ts := newTestServer(t, memoryBackend)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Env = append(os.Environ(), "OP="+ts.op, "BASE="+ts.http.URL)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the README's examples failed:\n%s", out)

	got := map[string]string{}
	for _, it := range ts.must(200, "GET", "/api/internal/config", ts.op, nil)["items"].([]any) {
		m := it.(map[string]any)
		got[m["key"].(string)] = fmt.Sprint(m["value"])
	}
	require.Equal(t, map[string]string{"pairing_queue_enabled": "true", "pairing_queue_max_wait_seconds": "600",
		"pairing_queue_max_length": "500", "pairing_offer_policy": "ring", "pairing_ring_size": "2",
		"pairing_ring_interval_seconds": "15", "mitra_missed_offers_before_away": "3"},
		map[string]string{"pairing_queue_enabled": got["pairing_queue_enabled"], "pairing_queue_max_wait_seconds": got["pairing_queue_max_wait_seconds"],
			"pairing_queue_max_length": got["pairing_queue_max_length"], "pairing_offer_policy": got["pairing_offer_policy"],
			"pairing_ring_size": got["pairing_ring_size"], "pairing_ring_interval_seconds": got["pairing_ring_interval_seconds"],
			"mitra_missed_offers_before_away": got["mitra_missed_offers_before_away"]})
}
