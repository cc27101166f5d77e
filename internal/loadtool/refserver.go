package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// refServer is the reference server running as a child process over a dataset, its
// Postgres behind the counting proxy.
type refServer struct {
	*child
	addr, base    string
	opToken       string
	webhookSecret string
	hc            *http.Client
	tr            *http.Transport
}

// startServer starts the reference server over d (sweeps off, demo data off) with env
// added, and waits for /healthz.
func (t *tool) startServer(ctx context.Context, d *dataset, label string, env ...string) (*refServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	proxied, err := withHost(d.schemaURL, t.proxy.addr())
	if err != nil {
		return nil, err
	}
	if proxied, err = withParams(proxied, "sslmode", "disable"); err != nil {
		return nil, err
	}
	s := &refServer{addr: "127.0.0.1:" + strconv.Itoa(port), opToken: randomHex(16), webhookSecret: randomHex(16)}
	s.base = "http://" + s.addr
	logf("starting the reference server on %s (%s)", s.addr, label)
	base := []string{
		"ADDR=" + s.addr, "DATABASE_URL=" + proxied, "VALKEY_URL=" + t.o.valkeyURL, "VALKEY_KEY_PREFIX=" + d.prefix,
		"SWEEPS=0", "DEMO_DATA=0", "OPERATOR_TOKEN=" + s.opToken, "PAYMENT_WEBHOOK_SECRET=" + s.webhookSecret,
		"PAYMENT_GATEWAY=fake", // the blasts are paid through the fake gateway's signed webhook
	}
	if s.child, err = startChild("reference server", t.dir+"/server-"+label+".log", append(base, env...), t.serverBin); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, s.child, s.base+"/healthz", 120*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	s.tr = &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, DisableCompression: true, IdleConnTimeout: time.Minute}
	s.hc = &http.Client{Transport: s.tr, Timeout: 30 * time.Second}
	return s, nil
}

func (s *refServer) close() {
	if s == nil {
		return
	}
	s.tr.CloseIdleConnections()
	s.stop()
}

// call sends a request with a JSON body (nil: none) and returns the status and the
// decoded answer (nil when it is not JSON).
func (s *refServer) call(ctx context.Context, method, path, token string, body any, header ...string) (int, map[string]any, error) {
	var rd io.Reader
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return resp.StatusCode, m, nil
}

// must is call expecting status want.
func (s *refServer) must(ctx context.Context, want int, method, path, token string, body any) (map[string]any, error) {
	code, m, err := s.call(ctx, method, path, token, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %v", method, path, code, want, m)
	}
	return m, nil
}

// sessionTier creates the 30-minute session tier the blasts buy.
func (s *refServer) sessionTier(ctx context.Context) error {
	_, err := s.must(ctx, http.StatusCreated, "POST", "/api/internal/pricing/tiers", s.opToken,
		map[string]any{"mode": "session", "minutes": blastMinutes, "price": 25000})
	if err != nil && strings.Contains(err.Error(), "DUPLICATE_TIER") {
		return nil
	}
	return err
}

const blastMinutes = 30

// startBlast posts chat/start for a client and returns the pairing and payment ids.
func (s *refServer) startBlast(ctx context.Context, clientTok string) (pairingID, paymentID string, err error) {
	m, err := s.must(ctx, http.StatusCreated, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": blastMinutes})
	if err != nil {
		return "", "", err
	}
	pairingID, _ = field(m, "pairing", "id").(string)
	paymentID, _ = field(m, "payment", "id").(string)
	if pairingID == "" || paymentID == "" {
		return "", "", fmt.Errorf("chat/start: no pairing or payment id in %v", m)
	}
	return pairingID, paymentID, nil
}

// pay confirms a payment through the fake gateway's signed webhook.
func (s *refServer) pay(ctx context.Context, paymentID string) error {
	raw, _ := json.Marshal(map[string]any{"payment_id": paymentID, "status": "paid", "provider_ref": "fake_ch_" + paymentID})
	req, err := http.NewRequestWithContext(ctx, "POST", s.base+"/api/payments/webhook", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, []byte(s.webhookSecret))
	m.Write(raw)
	req.Header.Set("X-Signature", hex.EncodeToString(m.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook: status %d: %s", resp.StatusCode, out)
	}
	return nil
}

// cancel cancels a client's pairing.
func (s *refServer) cancel(ctx context.Context, clientTok, pairingID string) error {
	_, err := s.must(ctx, http.StatusOK, "POST", "/api/client/chat/cancel", clientTok, map[string]any{"pairing_id": pairingID})
	return err
}

// warm verifies every token once (the server then trusts it from memory for
// AUTH_CACHE_SECONDS), from a few goroutines.
func (s *refServer) warm(ctx context.Context, path string, toks []string) error {
	return inParallel(len(toks), 16, func(i int) error {
		_, err := s.must(ctx, http.StatusOK, "GET", path, toks[i], nil)
		return err
	})
}

// field reads m[k0][k1]….
func field(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// metrics reads the named untyped samples (no labels) from the server's /metrics.
func (s *refServer) metrics(ctx context.Context, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	out := parseMetrics(string(raw), names...)
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return out, fmt.Errorf("/metrics has no %s", n)
		}
	}
	return out, nil
}

// parseMetrics reads "name value" lines of the Prometheus text format for the names asked.
func parseMetrics(text string, names ...string) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		for _, n := range names {
			if name == n {
				if f, err := strconv.ParseFloat(strings.Fields(value)[0], 64); err == nil {
					out[n] = f
				}
			}
		}
	}
	return out
}
