package main

// Hostile input: fuzz targets that send arbitrary bodies, query strings and path ids to the
// real handlers (in memory, through Server.ServeHTTP, with a valid token) and require that
// nothing answers 5xx — the handler wrapper turns a panic into a 500, so a panic fails too —
// and that every 4xx carries an error code. `go test` runs the committed seed corpus
// (testdata/fuzz/<Target>/); `go test -fuzz=FuzzPricingBodies -fuzztime=30s` explores.
//
// Placeholders in an input ("@mitra", "@session", "@tier", "@updated", …) are replaced by
// ids and tokens of the fixture before the request is sent, so that the fuzzer reaches the
// code behind the id checks. "@pairing" and "@payment" follow the latest pairing and
// payment that any answer returned.
//
// CURHAT_FUZZ_BACKEND=postgres fuzzes against Postgres + Valkey instead, and
// TestFuzzCorpus_HoldsOnPostgresAndValkey replays the committed corpus there on every run.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pricing"
)

// fuzzSlowRequest: an answer slower than this fails the invariant (in memory a request
// takes microseconds; Postgres and -race keep well under it).
const fuzzSlowRequest = 3 * time.Second

// fuzzServer is an in-memory server shared by the iterations of one fuzz target.
type fuzzServer struct {
	app                     *App
	srv                     *Server
	h                       http.Handler // srv, every exchange checked against openapi.json
	problems                []string     // what the check found since the last fs.check
	op, clientTok, mitraTok string
	secret                  string
	ids                     map[string]string // placeholder → value
}

// fuzzRoute is a route a target may hit; {x} in path is replaced by the fuzzed value or
// by a placeholder.
type fuzzRoute struct {
	method, path string
	who          role
}

func newFuzzServer(tb testing.TB, b backend) *fuzzServer {
	tb.Helper()
	cfg, err := configFromEnv(func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DemoData, cfg.Sweeps = false, false
	opts := appOptions{Clock: clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))}
	if b == realBackend {
		db, vk := testenv.Postgres(tb), testenv.NewValkey(tb)
		cfg.InMemory, cfg.DatabaseURL, cfg.ValkeyURL, cfg.ValkeyKeyPrefix = false, db.URL, vk.URL, vk.Prefix
		opts.Pool = db.Pool
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := NewApp(ctx, cfg, slog.New(slog.DiscardHandler), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { app.Close(context.Background()) })
	if err := app.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	fs := &fuzzServer{app: app, srv: NewServer(app), op: cfg.OperatorToken, secret: cfg.PaymentWebhookSecret, ids: map[string]string{}}
	fs.h = checkedHandler(mustContract(tb), fs.srv, func(problem string) { fs.problems = append(fs.problems, problem) })
	fs.buildFixture(tb)
	if len(fs.problems) > 0 {
		tb.Fatal(strings.Join(fs.problems, "\n"))
	}
	return fs
}

// buildFixture: tiers, a client with an ended and an active session with an online mitra,
// another client's declined "Curhat lagi" (a failure row), a pending payment.
func (fs *fuzzServer) buildFixture(f testing.TB) {
	must := func(status int, method, path, tok string, body any) map[string]any {
		f.Helper()
		rec := fs.serve(method, path, tok, jsonBody(body), nil)
		if rec.Code != status {
			f.Fatalf("fixture %s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return out
	}
	id := func(m map[string]any, keys ...string) string {
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		return m[keys[len(keys)-1]].(string)
	}
	token := func(kind, subject string) string {
		return id(must(201, "POST", "/api/internal/tokens", fs.op, map[string]any{"subject_kind": kind, "subject_id": subject}), "token")
	}
	pay := func(paymentID string) {
		raw := jsonBody(map[string]any{"payment_id": paymentID, "status": "paid"})
		rec := fs.serve("POST", "/api/payments/webhook", "", raw, map[string]string{"X-Signature": signBody(fs.secret, raw)})
		if rec.Code != 200 {
			f.Fatalf("fixture webhook: %d %s", rec.Code, rec.Body)
		}
	}
	tier := must(201, "POST", tiersPath, fs.op, map[string]any{"mode": "session", "minutes": 30, "price": 25000})
	must(201, "POST", tiersPath, fs.op, map[string]any{"mode": "session", "minutes": 60, "price": 45000})
	must(201, "POST", tiersPath, fs.op, map[string]any{"mode": "extension", "minutes": 10, "price": 8000})
	fs.ids["@tier"] = id(tier, "id")

	mitra := id(must(201, "POST", "/api/internal/mitras", fs.op, map[string]any{"display_name": "Ayu", "max_concurrent_sessions": 100}), "id")
	fs.ids["@mitra"], fs.mitraTok = mitra, token("mitra", mitra)
	fs.ids["@mitra2"] = id(must(201, "POST", "/api/internal/mitras", fs.op, map[string]any{"display_name": "Sari"}), "id")
	must(200, "POST", "/api/mitra/status/online", fs.mitraTok, nil)

	session := func(tok string) (pairingID, sessionID string) {
		start := must(201, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30})
		pay(id(start, "payment", "id"))
		pairingID = id(start, "pairing", "id")
		return pairingID, id(must(200, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", fs.mitraTok, nil), "chat_session", "id")
	}
	client := id(must(201, "POST", "/api/internal/clients", fs.op, map[string]any{"display_name": "Dewi"}), "id")
	fs.ids["@client"], fs.clientTok = client, token("client", client)
	_, ended := session(fs.clientTok)
	must(200, "POST", "/api/client/chat-sessions/"+ended+"/end", fs.clientTok, nil)
	fs.ids["@ended"] = ended
	fs.ids["@pairing"], fs.ids["@session"] = session(fs.clientTok)

	// Another client's declined "Curhat lagi": a failure row, and a pairing to fall back from.
	other := id(must(201, "POST", "/api/internal/clients", fs.op, map[string]any{"display_name": "Rina"}), "id")
	otherTok := token("client", other)
	_, s := session(otherTok)
	must(200, "POST", "/api/client/chat-sessions/"+s+"/end", otherTok, nil)
	targeted := id(must(201, "POST", "/api/client/chat/returning", otherTok, map[string]any{"mitra_id": mitra, "minutes": 30}), "pairing", "id")
	must(200, "POST", "/api/mitra/pairing-offers/"+targeted+"/decline", fs.mitraTok, nil)
	failures := must(200, "GET", "/api/internal/failed-pairings", fs.op, nil)["items"].([]any)
	fs.ids["@failure"] = failures[0].(map[string]any)["id"].(string)

	// A pending payment for the webhook, from a third client.
	third := id(must(201, "POST", "/api/internal/clients", fs.op, map[string]any{"display_name": "Tari"}), "id")
	fs.ids["@payment"] = id(must(201, "POST", "/api/client/chat/start", token("client", third), map[string]any{"minutes": 60}), "payment", "id")
}

func jsonBody(v any) []byte {
	if v == nil {
		return nil
	}
	raw, _ := json.Marshal(v)
	return raw
}

// expand replaces the placeholders of s; "@updated" and "@promo_updated" are the current
// optimistic-lock tokens of "@tier" and of the first-session discount.
func (fs *fuzzServer) expand(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	ctx := context.Background()
	if strings.Contains(s, "@promo_updated") {
		pr, _ := fs.app.pricing.GetFirstSessionDiscount(ctx)
		s = strings.ReplaceAll(s, "@promo_updated", pr.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	if strings.Contains(s, "@updated") {
		tiers, _ := fs.app.pricing.ListTiers(ctx, pricing.ListTiersParams{IncludeInactive: true})
		for _, t := range tiers {
			if t.ID.String() == fs.ids["@tier"] {
				s = strings.ReplaceAll(s, "@updated", t.UpdatedAt.UTC().Format(time.RFC3339Nano))
			}
		}
	}
	// Longest first: "@mitra2" is not "@mitra" followed by a 2.
	keys := slices.SortedFunc(maps.Keys(fs.ids), func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, fs.ids[k])
	}
	return s
}

func (fs *fuzzServer) token(who role) string {
	switch who {
	case roleAdmin:
		return fs.op
	case roleClient:
		return fs.clientTok
	case roleMitra:
		return fs.mitraTok
	}
	return ""
}

// serve sends one request through the server's handler.
func (fs *fuzzServer) serve(method, target, tok string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	fs.problems = nil // what an earlier iteration left, already reported
	req := httptest.NewRequest(method, target, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	rec := httptest.NewRecorder()
	began := time.Now()
	fs.h.ServeHTTP(rec, req)
	if d := time.Since(began); d > fuzzSlowRequest {
		// A request that hangs on hostile input is a denial of service: answer it as a 5xx
		// so that check fails.
		rec = httptest.NewRecorder()
		rec.WriteHeader(599)
		fmt.Fprintf(rec.Body, "took %v", d)
	}
	return rec
}

// check is the invariant: no 5xx, a JSON error with a code on every 4xx, valid JSON on
// every 2xx. It also follows the latest pairing and payment answered.
func (fs *fuzzServer) check(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	if problems := fs.problems; len(problems) > 0 {
		fs.problems = nil
		t.Fatalf("%s: %s", what, strings.Join(problems, "\n"))
	}
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: %d with a body that is not a JSON object (%v): %q", what, rec.Code, err, rec.Body)
	}
	if rec.Code >= 400 {
		e, _ := body["error"].(map[string]any)
		if code, _ := e["code"].(string); code == "" {
			t.Fatalf("%s: %d without error.code: %s", what, rec.Code, rec.Body)
		}
		return
	}
	for _, k := range []string{"pairing", "payment"} {
		if m, ok := body[k].(map[string]any); ok {
			if id, ok := m["id"].(string); ok {
				fs.ids["@"+k] = id
			}
		}
	}
}

// pick chooses a route by the fuzzed selector.
func pick(routes []fuzzRoute, sel uint8) fuzzRoute { return routes[int(sel)%len(routes)] }

func fuzzPath(path, value string) string {
	return strings.NewReplacer("{id}", value, "{pairing_id}", value, "{key}", value).Replace(path)
}

// fuzzTarget is one fuzz target: run checks one input (the arguments of its f.Fuzz
// function, in order) against a server. The Fuzz functions run it in memory; the corpus
// replay runs it against Postgres + Valkey.
type fuzzTarget struct {
	run func(t *testing.T, fs *fuzzServer, args []any)
	// seed is one input of the right types, for f.Add (the corpus files hold the rest).
	seed []any
}

var fuzzTargets = map[string]fuzzTarget{
	"FuzzOperatorBodies": bodyTarget([]fuzzRoute{
		{"POST", "/api/internal/mitras", roleAdmin},
		{"PATCH", "/api/internal/mitras/@mitra2/status", roleAdmin},
		{"POST", "/api/internal/clients", roleAdmin},
		{"POST", "/api/internal/tokens", roleAdmin},
		{"PUT", "/api/internal/config/pairing_blast_timeout_seconds", roleAdmin},
		{"PUT", "/api/internal/config/pairing_targeted_timeout_seconds", roleAdmin},
		{"PUT", "/api/internal/config/payment_session_ttl_seconds", roleAdmin},
		{"PUT", "/api/internal/config/extension_auto_approve", roleAdmin},
		{"PUT", "/api/internal/config/mitra_max_concurrent_sessions", roleAdmin},
		{"POST", "/api/internal/fake-gateway/refund-failures", roleAdmin},
		{"POST", "/api/internal/payouts/run", roleAdmin},
		{"PUT", "/api/internal/mitras/@mitra2/payout-destination", roleAdmin},
		{"PUT", "/api/mitra/payout-destination", roleMitra},
		{"POST", "/api/internal/fake-gateway/payout-failures", roleAdmin},
	}, nil),
	"FuzzPricingBodies": bodyTarget([]fuzzRoute{
		{"POST", tiersPath, roleAdmin},
		{"PATCH", tiersPath + "/@tier", roleAdmin},
		{"POST", tiersPath + "/@tier/deactivate", roleAdmin},
		{"POST", tiersPath + "/@tier/reactivate", roleAdmin},
		{"POST", tiersPath + "/reorder", roleAdmin},
		{"PUT", promoPath, roleAdmin},
	}, nil),
	"FuzzPairingBodies": bodyTarget([]fuzzRoute{
		{"POST", "/api/client/chat/start", roleClient},
		{"POST", "/api/client/chat/returning", roleClient},
		{"POST", "/api/client/chat/cancel", roleClient},
		{"POST", "/api/client/chat/fallback-to-blast", roleClient},
		{"POST", "/api/client/chat-sessions/@session/extensions", roleClient},
		{"POST", "/api/internal/failed-pairings/@failure/actions", roleAdmin},
	}, func(extra string) map[string]string {
		if extra == "" {
			return nil
		}
		return map[string]string{"Idempotency-Key": extra}
	}),
	"FuzzPaymentWebhook": {seed: []any{[]byte(`{"payment_id":"@payment","status":"paid"}`), false}, run: runWebhook},
	"FuzzQueryStrings":   {seed: []any{uint8(0), "page=1"}, run: runQuery},
	"FuzzPathIDs":        {seed: []any{uint8(0), "@mitra"}, run: runPathID},
}

// bodyTarget fuzzes the JSON bodies of routes: arguments (selector uint8, extra string,
// body []byte). extra is a header value where header says which (the Idempotency-Key of a
// chat start); the other targets ignore it.
func bodyTarget(routes []fuzzRoute, header func(extra string) map[string]string) fuzzTarget {
	return fuzzTarget{seed: []any{uint8(0), "", []byte("{}")}, run: func(t *testing.T, fs *fuzzServer, args []any) {
		sel, extra, body := args[0].(uint8), args[1].(string), args[2].([]byte)
		r := pick(routes, sel)
		target := fs.expand(r.path)
		var h map[string]string
		if header != nil {
			h = header(fs.expand(extra))
		}
		rec := fs.serve(r.method, target, fs.token(r.who), []byte(fs.expand(string(body))), h)
		fs.check(t, rec, r.method+" "+target+" "+string(body))
	}}
}

// runWebhook: (body []byte, badSignature bool) — the body is signed with the right secret
// so that it is parsed, or with a wrong one, which must be refused.
func runWebhook(t *testing.T, fs *fuzzServer, args []any) {
	raw, bad := []byte(fs.expand(string(args[0].([]byte)))), args[1].(bool)
	sig := signBody(fs.secret, raw)
	if bad {
		sig = signBody("not the secret", raw)
	}
	rec := fs.serve("POST", "/api/payments/webhook", "", raw, map[string]string{"X-Signature": sig})
	fs.check(t, rec, "webhook "+string(raw))
	if bad && rec.Code != http.StatusUnauthorized {
		t.Fatalf("a wrong signature was accepted: %d %s", rec.Code, rec.Body)
	}
}

var queryRoutes = []fuzzRoute{
	{"GET", "/api/internal/failed-pairings", roleAdmin},
	{"GET", "/api/mitra/chat-sessions", roleMitra},
	{"GET", tiersPath, roleAdmin},
	{"GET", "/api/internal/refunds", roleAdmin},
	{"GET", "/api/internal/payouts", roleAdmin},
}

// runQuery: (selector uint8, query string) — the filters of failed pairings, a mitra's
// sessions, the tier list, refunds and payouts.
func runQuery(t *testing.T, fs *fuzzServer, args []any) {
	r, query := pick(queryRoutes, args[0].(uint8)), fs.expand(args[1].(string))
	// A raw query as a client would send it; one that is not a valid request target is
	// refused by net/http before any handler, so it is escaped as a whole then.
	target := r.path + "?" + query
	if _, err := url.ParseRequestURI(target); err != nil || strings.ContainsAny(query, " #\x7f") || hasControl(query) {
		target = r.path + "?" + url.QueryEscape(query)
	}
	rec := fs.serve(r.method, target, fs.token(r.who), nil, nil)
	fs.check(t, rec, r.method+" "+target)
}

// runPathID: (selector uint8, value string) — every route with a path parameter, with the
// value in it.
func runPathID(t *testing.T, fs *fuzzServer, args []any) {
	var routes []fuzzRoute
	for _, r := range fs.srv.routes {
		if strings.Contains(r.Path, "{") {
			routes = append(routes, fuzzRoute{r.Method, r.Path, r.Role})
		}
	}
	r := pick(routes, args[0].(uint8))
	target := fuzzPath(r.path, url.PathEscape(fs.expand(args[1].(string))))
	var body []byte
	if r.method != "GET" {
		body = []byte("{}")
	}
	rec := fs.serve(r.method, target, fs.token(r.who), body, nil)
	if rec.Code == http.StatusNotFound && !json.Valid(rec.Body.Bytes()) {
		return // the mux's own 404 (an empty segment): no route, no handler ran
	}
	if rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect {
		return // the mux cleaning the path ("..", "//"): no handler ran
	}
	fs.check(t, rec, r.method+" "+target)
}

// fuzzBackend is where the Fuzz functions run: in memory, or against Postgres + Valkey
// with CURHAT_FUZZ_BACKEND=postgres (slower; finds what only the real stores refuse).
func fuzzBackend() backend {
	if os.Getenv("CURHAT_FUZZ_BACKEND") == "postgres" {
		return realBackend
	}
	return memoryBackend
}

// FuzzOperatorBodies: mitras, mitra status, clients, tokens, runtime config, the fake
// gateway's switches, payout destinations and payout runs.
func FuzzOperatorBodies(f *testing.F) {
	fs, run := newFuzzServer(f, fuzzBackend()), fuzzTargets["FuzzOperatorBodies"].run
	f.Fuzz(func(t *testing.T, sel uint8, extra string, body []byte) { run(t, fs, []any{sel, extra, body}) })
}

// FuzzPricingBodies: tier create, update, deactivate, reactivate, reorder and the
// first-session discount — the validation of pricing.
func FuzzPricingBodies(f *testing.F) {
	fs, run := newFuzzServer(f, fuzzBackend()), fuzzTargets["FuzzPricingBodies"].run
	f.Fuzz(func(t *testing.T, sel uint8, extra string, body []byte) { run(t, fs, []any{sel, extra, body}) })
}

// FuzzPairingBodies: chat start (with its Idempotency-Key), "Curhat lagi", cancel,
// fallback, extensions and failed-pairing actions.
func FuzzPairingBodies(f *testing.F) {
	fs, run := newFuzzServer(f, fuzzBackend()), fuzzTargets["FuzzPairingBodies"].run
	f.Fuzz(func(t *testing.T, sel uint8, extra string, body []byte) { run(t, fs, []any{sel, extra, body}) })
}

// FuzzPaymentWebhook: the webhook body, signed.
func FuzzPaymentWebhook(f *testing.F) {
	fs, run := newFuzzServer(f, fuzzBackend()), fuzzTargets["FuzzPaymentWebhook"].run
	f.Fuzz(func(t *testing.T, body []byte, badSignature bool) { run(t, fs, []any{body, badSignature}) })
}

// FuzzQueryStrings: the query strings of the list routes.
func FuzzQueryStrings(f *testing.F) {
	fs, run := newFuzzServer(f, fuzzBackend()), fuzzTargets["FuzzQueryStrings"].run
	f.Fuzz(func(t *testing.T, sel uint8, query string) { run(t, fs, []any{sel, query}) })
}

// FuzzPathIDs: the path parameters of every route that has one.
func FuzzPathIDs(f *testing.F) {
	fs, run := newFuzzServer(f, fuzzBackend()), fuzzTargets["FuzzPathIDs"].run
	f.Fuzz(func(t *testing.T, sel uint8, value string) { run(t, fs, []any{sel, value}) })
}

// TestFuzzCorpus_HoldsOnPostgresAndValkey replays every committed fuzz input against the
// Postgres + Valkey server: the stores there refuse what the in-memory ones accept (a NUL
// in a text column, for one).
func TestFuzzCorpus_HoldsOnPostgresAndValkey(t *testing.T) {
	t.Parallel()
	for _, name := range slices.Sorted(maps.Keys(fuzzTargets)) {
		target := fuzzTargets[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
			require.NoError(t, err)
			require.NotEmpty(t, files, "no committed corpus for %s", name)
			fs := newFuzzServer(t, realBackend)
			for _, file := range files {
				args := readCorpusFile(t, file)
				require.Len(t, args, len(target.seed), file)
				t.Run(filepath.Base(file), func(t *testing.T) { target.run(t, fs, args) })
			}
		})
	}
}

// readCorpusFile parses a "go test fuzz v1" file (the types the targets use).
func readCorpusFile(t *testing.T, path string) []any {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	require.Equal(t, "go test fuzz v1", lines[0], path)
	var out []any
	for _, line := range lines[1:] {
		typ, val, ok := strings.Cut(line, "(")
		require.True(t, ok, "%s: %q", path, line)
		val = strings.TrimSuffix(val, ")")
		switch typ {
		case "uint8", "byte":
			if strings.HasPrefix(val, "'") { // byte('\x01'), as go test writes them
				s, err := strconv.Unquote(val)
				require.NoError(t, err, "%s: %q", path, line)
				r, _ := utf8.DecodeRuneInString(s)
				out = append(out, uint8(r))
				continue
			}
			n, err := strconv.ParseUint(val, 0, 8)
			require.NoError(t, err, "%s: %q", path, line)
			out = append(out, uint8(n))
		case "bool":
			b, err := strconv.ParseBool(val)
			require.NoError(t, err, "%s: %q", path, line)
			out = append(out, b)
		case "string", "[]byte":
			s, err := strconv.Unquote(val)
			require.NoError(t, err, "%s: %q", path, line)
			if typ == "string" {
				out = append(out, s)
			} else {
				out = append(out, []byte(s))
			}
		default:
			t.Fatalf("%s: unsupported corpus type %q", path, typ)
		}
	}
	return out
}

func hasControl(s string) bool {
	for _, c := range s {
		if c < 0x20 {
			return true
		}
	}
	return false
}
