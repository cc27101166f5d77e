package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/sweeps"
)

// Several reference-server instances over one Postgres and one Valkey, all with their
// sweeps on, on the real clock (every sweep is safe to run in several instances at once).
// Each instance is an App behind its own httptest server; a "fleet" is the set of them.

// fleetSweepTimings are short so that the sweeps race each other many times per test.
var fleetSweepTimings = func(c *Config) {
	c.HeartbeatStale = 2 * time.Second
	c.AutoOfflineInterval = 200 * time.Millisecond
	c.HeartbeatMirrorEvery = 300 * time.Millisecond
	c.OnlineMirrorReseed = 2 * time.Second
	c.PaymentSweepInterval = 200 * time.Millisecond
	c.TimeoutsSweepInterval = 100 * time.Millisecond
	c.PaymentRefundRetry = 200 * time.Millisecond
}

// fleetOptions shape a fleet. Zero values: 3 instances, a fresh schema on the shared
// Postgres, a fresh prefix on the shared Valkey.
type fleetOptions struct {
	Instances int
	// Cluster runs on the package's private 3-master Redis Cluster (hash-tagged names).
	Cluster bool
	// DatabaseURL and ValkeyURL point at private servers (chaos); the schema is migrated
	// by the first instance and the key prefix is then empty.
	DatabaseURL, ValkeyURL string
	// Configure adjusts the shared Config after the fleet's defaults.
	Configure func(*Config)
}

// fleet is the instances, the shared secrets and direct access to both stores.
type fleet struct {
	t      *testing.T
	nodes  []*fleetNode
	cfg    Config
	db     *pgxpool.Pool // the test's own pool, for SQL assertions
	valkey valkey.Client // the test's own client, for inspection
	names  valkeyutil.Names
	// gateway is the fake payment provider every instance talks to (one provider, as in
	// production: a refund it made once is not made again under the same refund id).
	gateway *payment.FakeGateway
}

// fleetNode is one instance.
type fleetNode struct {
	i     int
	app   *App
	srv   *httptest.Server
	tally *fleetTally
}

// fleetTally counts what the instance's sweeps report (sums of Report.Counts per
// "sweep/count", and errors per sweep); everything else goes to the App's own hooks.
type fleetTally struct {
	metrics
	mu     sync.Mutex
	counts map[string]int
	errs   map[string]int
}

func (s *fleetTally) SweepRun(name string, r sweeps.Report, err error) {
	s.metrics.SweepRun(name, r, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range r.Counts {
		s.counts[name+"/"+k] += v
	}
	if err != nil {
		s.errs[name]++
	}
}

// ServeHTTP keeps GET /metrics served by the App's own hooks.
func (s *fleetTally) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := s.metrics.(http.Handler); ok {
		h.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

func (s *fleetTally) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[key]
}

// fleetLogger discards logs unless CURHAT_TEST_LOG is debug, info, warn or error.
func fleetLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("CURHAT_TEST_LOG"))); err != nil || os.Getenv("CURHAT_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newFleet starts the instances one after the other (each restores timers and seeds
// before it serves, as in production) and stops them when the test ends.
func newFleet(t *testing.T, o fleetOptions) *fleet {
	t.Helper()
	n := o.Instances
	if n == 0 {
		n = 3
	}
	cfg, err := configFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	cfg.InMemory, cfg.DemoData, cfg.Sweeps = false, false, true
	fleetSweepTimings(&cfg)

	f := &fleet{t: t, gateway: payment.NewFakeGateway()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg.DatabaseURL = o.DatabaseURL
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = testenv.Postgres(t).URL
	}
	switch {
	case o.ValkeyURL != "":
		cfg.ValkeyURL = o.ValkeyURL
		c, err := valkeyutil.NewClient(valkeyutil.Options{URL: o.ValkeyURL, Cluster: o.Cluster, DisableCache: true,
			DialTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		f.valkey = c
	case o.Cluster:
		v := testenv.StartCluster(t).NewValkey(t)
		cfg.ValkeyURL, cfg.ValkeyKeyPrefix, f.valkey = v.URL, v.Prefix, v.Client
	default:
		v := testenv.NewValkey(t)
		cfg.ValkeyURL, cfg.ValkeyKeyPrefix, f.valkey = v.URL, v.Prefix, v.Client
	}
	cfg.ValkeyCluster = o.Cluster
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	f.cfg = cfg
	f.names = valkeyutil.NewNames(cfg.ValkeyKeyPrefix, cfg.ValkeyCluster)

	f.db, err = pgxpool.New(ctx, cfg.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(f.db.Close)

	for i := range n {
		app, err := NewApp(ctx, cfg, fleetLogger(), appOptions{Gateway: f.gateway})
		require.NoError(t, err, "instance %d", i)
		tally := &fleetTally{metrics: app.hooks, counts: map[string]int{}, errs: map[string]int{}}
		app.hooks = tally
		node := &fleetNode{i: i, app: app, tally: tally}
		require.NoError(t, app.Start(ctx), "instance %d", i)
		node.srv = httptest.NewServer(contractHandler(t, NewServer(app)))
		f.nodes = append(f.nodes, node)
		require.Eventually(t, app.busFollowed, 10*time.Second, time.Millisecond, "instance %d: bus subscriptions up", i)
	}
	t.Cleanup(func() {
		for _, node := range f.nodes {
			node.srv.CloseClientConnections()
			node.srv.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, node := range f.nodes {
			node.app.Close(ctx)
		}
	})
	return f
}

// node returns instance i modulo the fleet size.
func (f *fleet) node(i int) *fleetNode { return f.nodes[i%len(f.nodes)] }

// fleetResp is a decoded answer.
type fleetResp struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

func (r fleetResp) code() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// fleetRequestTimeout bounds every request of these tests: a hung request fails the test
// instead of hanging it.
const fleetRequestTimeout = 20 * time.Second

// call sends a request to the instance. It never fails the test itself, so that goroutines
// may use it; body is nil, raw []byte, or a value sent as JSON. header is name, value, ….
func (n *fleetNode) call(ctx context.Context, method, path, token string, body any, header ...string) (fleetResp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return fleetResp{}, err
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(ctx, fleetRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.srv.URL+path, rd)
	if err != nil {
		return fleetResp{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		return fleetResp{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fleetResp{}, err
	}
	out := fleetResp{Status: resp.StatusCode, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			return out, fmt.Errorf("decode %s %s: %w: %s", method, path, err, raw)
		}
	}
	return out, nil
}

// webhook posts a signed payment confirmation to the instance.
func (n *fleetNode) webhook(ctx context.Context, paymentID, status string) (fleetResp, error) {
	// The fake gateway's reference of the charge: a different one is refused (409).
	body, err := json.Marshal(map[string]any{"payment_id": paymentID, "status": status, "provider_ref": "fake_ch_" + paymentID})
	if err != nil {
		return fleetResp{}, err
	}
	return n.call(ctx, "POST", "/api/payments/webhook", "", body, "X-Signature", signBody(n.app.cfg.PaymentWebhookSecret, body))
}

// must sends a request to instance i and requires the status.
func (f *fleet) must(i, status int, method, path, token string, body any) map[string]any {
	f.t.Helper()
	r, err := f.node(i).call(context.Background(), method, path, token, body)
	require.NoError(f.t, err)
	require.Equal(f.t, status, r.Status, "instance %d: %s %s: %s", i%len(f.nodes), method, path, r.Raw)
	return r.Body
}

// op is the bootstrap operator token shared by the instances.
func (f *fleet) op() string { return f.cfg.OperatorToken }

// newMitra creates a mitra through instance i and returns its id and a token.
func (f *fleet) newMitra(i int, name string) (uuid.UUID, string) {
	f.t.Helper()
	m := f.must(i, 201, "POST", "/api/internal/mitras", f.op(), map[string]any{"display_name": name})
	id := uuid.MustParse(m["id"].(string))
	tok := f.must(i+1, 201, "POST", "/api/internal/tokens", f.op(), map[string]any{"subject_kind": "mitra", "subject_id": id.String()})
	return id, tok["token"].(string)
}

// newClient creates a client through instance i and returns its id and a token.
func (f *fleet) newClient(i int, name string) (uuid.UUID, string) {
	f.t.Helper()
	c := f.must(i, 201, "POST", "/api/internal/clients", f.op(), map[string]any{"display_name": name})
	id := uuid.MustParse(c["id"].(string))
	tok := f.must(i+1, 201, "POST", "/api/internal/tokens", f.op(), map[string]any{"subject_kind": "client", "subject_id": id.String()})
	return id, tok["token"].(string)
}

// tiers creates a 30-minute session tier and a 10-minute extension tier.
func (f *fleet) tiers() {
	f.t.Helper()
	f.must(0, 201, "POST", "/api/internal/pricing/tiers", f.op(), map[string]any{"mode": "session", "minutes": 30, "price": 25000})
	f.must(1, 201, "POST", "/api/internal/pricing/tiers", f.op(), map[string]any{"mode": "extension", "minutes": 10, "price": 10000})
}

// pinger keeps mitras alive: each token pings a rotating instance every 250 ms until
// the returned stop is called (also at the end of the test).
func (f *fleet) pinger(tokens ...string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for k, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for i := k; ctx.Err() == nil; i++ {
				_, _ = f.node(i).call(ctx, "POST", "/api/mitra/status/heartbeat", tok, nil)
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		}()
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	f.t.Cleanup(stop)
	return stop
}

// onlineMitra creates a mitra, puts it online through instance i and keeps it pinging.
func (f *fleet) onlineMitra(i int, name string) (uuid.UUID, string) {
	f.t.Helper()
	id, tok := f.newMitra(i, name)
	f.must(i, 200, "POST", "/api/mitra/status/online", tok, nil)
	f.pinger(tok)
	return id, tok
}

// scalar runs a one-value SQL query against the shared database.
func (f *fleet) scalar(sql string, args ...any) int {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	require.NoError(f.t, f.db.QueryRow(ctx, sql, args...).Scan(&n), sql)
	return n
}

// sumTally sums a sweep count over the instances.
func (f *fleet) sumTally(key string) int {
	n := 0
	for _, node := range f.nodes {
		n += node.tally.count(key)
	}
	return n
}

// refundsFor counts the refunds the provider made of a payment, whichever instance asked.
func (f *fleet) refundsFor(paymentID uuid.UUID) int { return f.gateway.RefundsFor(paymentID) }

// unsettled is payment.Reconcile with no grace, as instance 0 sees it (nil when it fails).
func (f *fleet) unsettled() []payment.Unsettled {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := f.nodes[0].app.payments.Reconcile(ctx, 0)
	if err != nil {
		f.t.Logf("reconcile: %v", err)
		return []payment.Unsettled{{}}
	}
	return out
}

// requireFleetSettled requires that every paid amount ends in what it paid for or a
// refund: Reconcile is empty (polled: a refund may still be on its way).
func requireFleetSettled(t *testing.T, f *fleet) {
	t.Helper()
	fleetEventually(t, 20*time.Second, "every paid amount has an outcome (Reconcile is empty)", func() bool {
		return len(f.unsettled()) == 0
	})
}

// fleetEventually polls cond every 20 ms until it holds, failing the test after within.
func fleetEventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

// fleetEvent is one event read from a stream.
type fleetEvent struct {
	Kind string
	Data string
}

// openEvents opens the caller's event stream on instance i; events arrive on the channel
// until the test ends.
func (f *fleet) openEvents(i int, path, token string) <-chan fleetEvent {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", f.node(i).srv.URL+path, nil)
	require.NoError(f.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.node(i).srv.Client().Do(req)
	require.NoError(f.t, err)
	require.Equal(f.t, 200, resp.StatusCode)
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	require.NoError(f.t, err)
	require.Contains(f.t, line, "connected")

	out := make(chan fleetEvent, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var kind string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				select {
				case out <- fleetEvent{Kind: kind, Data: strings.TrimPrefix(line, "data: ")}:
				default:
				}
			}
		}
	}()
	f.t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return out
}

// fleetAwaitEvent reads events until one of kind mentions contains, or fails after within.
func fleetAwaitEvent(t *testing.T, events <-chan fleetEvent, within time.Duration, kind, contains string) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case e := <-events:
			if e.Kind == kind && strings.Contains(e.Data, contains) {
				return
			}
		case <-timer.C:
			t.Fatalf("no %s event mentioning %s within %v", kind, contains, within)
		}
	}
}

// paidBlast starts a blast for the client through instance i and pays it through i+1.
func (f *fleet) paidBlast(i int, clientTok string) (pairingID, paymentID string) {
	f.t.Helper()
	start := f.must(i, 201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	pairingID, paymentID = fleetObj(start, "pairing")["id"].(string), fleetObj(start, "payment")["id"].(string)
	r, err := f.node(i+1).webhook(context.Background(), paymentID, "paid")
	require.NoError(f.t, err)
	require.Equal(f.t, 200, r.Status, "%s", r.Raw)
	return pairingID, paymentID
}

// forFleets runs fn on a single Valkey node and on a Valkey Cluster.
func forFleets(t *testing.T, fn func(t *testing.T, cluster bool)) {
	for _, cluster := range []bool{false, true} {
		name := "valkey"
		if cluster {
			name = "valkey_cluster"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, cluster)
		})
	}
}

func TestMultiInstance_AutoOfflineHappensOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster})
		const silent = 6
		ids := make([]uuid.UUID, silent)
		for k := range ids {
			var tok string
			ids[k], tok = f.newMitra(k, fmt.Sprint("silent ", k))
			f.must(k+2, 200, "POST", "/api/mitra/status/online", tok, nil)
		}
		_, aliveTok := f.onlineMitra(0, "alive")

		fleetEventually(t, 20*time.Second, "every silent mitra offline in Postgres", func() bool {
			return f.scalar(`SELECT count(*) FROM mitras WHERE id = ANY($1) AND is_online`, ids) == 0
		})
		fleetEventually(t, 5*time.Second, "the sweeps reported the offlines", func() bool {
			return f.sumTally("auto_offline/offlined") >= silent
		})
		r := f.must(1, 200, "GET", "/api/mitra/status", aliveTok, nil)
		require.Equal(t, true, r["online"], "a mitra that keeps pinging stays online")
		requireFleetNoDrift(t, f)
		require.Equal(t, silent, f.sumTally("auto_offline/offlined"),
			"each mitra was offlined by exactly one instance's sweep")
		requireFleetSettled(t, f)
	})
}

func TestMultiInstance_ExpiryAndRefundHappenOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster})
		ctx := context.Background()
		f.tiers()

		// Expiry: sessions whose end is moved into the past are ended by whichever
		// instance's timeouts sweep gets there first, once.
		const sessions = 4
		var sids []uuid.UUID
		for k := range sessions {
			_, mtok := f.onlineMitra(k, fmt.Sprint("mitra ", k))
			_, ctok := f.newClient(k, fmt.Sprint("client ", k))
			pid, _ := f.paidBlast(k, ctok)
			cs := fleetObj(f.must(k+2, 200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", mtok, nil), "chat_session")
			require.Equal(t, "active", cs["status"])
			sids = append(sids, uuid.MustParse(cs["id"].(string)))
		}
		require.Equal(t, sessions, f.scalar(`SELECT count(*) FROM chat_sessions WHERE status = 'active'`))
		_, err := f.db.Exec(ctx, `UPDATE chat_sessions SET ends_at = now() - interval '1 second' WHERE id = ANY($1)`, sids)
		require.NoError(t, err)
		fleetEventually(t, 10*time.Second, "every session expired", func() bool {
			return f.scalar(`SELECT count(*) FROM chat_sessions WHERE id = ANY($1) AND status = 'ended' AND end_reason = 'expired'`, sids) == sessions
		})
		fleetEventually(t, 5*time.Second, "the sweeps reported the expiries", func() bool {
			return f.sumTally("timeouts/sessions_expired") >= sessions
		})
		fleetEventually(t, 10*time.Second, "capacity released in Valkey", func() bool { return fleetDrift(t, f) == 0 })

		// Refund after a blast timeout: the deadline fires on the paying instance's timer
		// and on every instance's sweep; one of them fails the pairing and refunds, once.
		f.must(0, 200, "PUT", "/api/internal/config/pairing_blast_timeout_seconds", f.op(), map[string]any{"value": 1})
		for _, node := range f.nodes {
			fleetEventually(t, 3*time.Second, "every instance uses the new blast timeout", func() bool {
				return node.app.runtime.BlastTimeout(ctx) == time.Second
			})
		}
		var timedOut []string
		var timedOutPay []uuid.UUID
		for k := range 3 {
			_, ctok := f.newClient(k, fmt.Sprint("waiting client ", k))
			pid, payID := f.paidBlast(k, ctok)
			timedOut, timedOutPay = append(timedOut, pid), append(timedOutPay, uuid.MustParse(payID))
		}
		// A payment confirmed after its session expired is refunded, once, however many
		// instances receive the (duplicated) webhook at the same moment.
		_, lateTok := f.newClient(2, "late client")
		start := f.must(1, 201, "POST", "/api/client/chat/start", lateTok, map[string]any{"minutes": 30})
		latePay := fleetObj(start, "payment")["id"].(string)
		_, err = f.db.Exec(ctx, `UPDATE payment_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, latePay)
		require.NoError(t, err)
		fleetEventually(t, 10*time.Second, "the stale payment expired", func() bool {
			return f.scalar(`SELECT count(*) FROM payment_sessions WHERE id = $1 AND status = 'expired'`, latePay) == 1
		})
		var wg sync.WaitGroup
		statuses := make([]int, 3*len(f.nodes))
		for k := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.node(k).webhook(ctx, latePay, "paid")
				if err == nil {
					statuses[k] = r.Status
				}
			}()
		}
		wg.Wait()
		for _, s := range statuses {
			require.Equal(t, 200, s, "a duplicate webhook is a no-op, never an error")
		}

		fleetEventually(t, 15*time.Second, "the timed-out blasts failed and refunded", func() bool {
			return f.scalar(`SELECT count(*) FROM pairings WHERE id = ANY($1) AND status = 'failed' AND failure_reason = 'timeout'`, timedOut) == len(timedOut) &&
				f.scalar(`SELECT count(*) FROM payment_sessions WHERE id = ANY($1) AND status = 'refunded'`, timedOutPay) == len(timedOutPay)
		})
		fleetEventually(t, 5*time.Second, "the late payment refunded", func() bool {
			return f.scalar(`SELECT count(*) FROM payment_sessions WHERE id = $1 AND status = 'refunded'`, latePay) == 1
		})
		fleetEventually(t, 5*time.Second, "the sweeps reported the expired payment", func() bool {
			return f.sumTally("stale_payments/expired") >= 1
		})

		// Every instance had several more sweep cycles by now: nothing was done twice.
		require.Equal(t, sessions, f.sumTally("timeouts/sessions_expired"), "each session was expired by exactly one instance")
		require.Equal(t, 1, f.sumTally("stale_payments/expired"), "the payment was expired by exactly one instance")
		for k, pid := range timedOut {
			require.Equal(t, 1, f.scalar(`SELECT count(*) FROM pairing_failures WHERE pairing_id = $1`, pid), "one failure row")
			require.Equal(t, 1, f.refundsFor(timedOutPay[k]), "refunded exactly once over all instances")
		}
		require.Equal(t, 1, f.refundsFor(uuid.MustParse(latePay)), "the late payment refunded exactly once")
		require.Zero(t, f.scalar(`SELECT count(*) FROM chat_sessions WHERE pairing_id = $1`, fleetObj(start, "pairing")["id"]),
			"a late payment never starts anything")
		requireFleetSettled(t, f)
	})
}

func TestMultiInstance_ConfigChangeIsSeenByEveryInstance(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster})
		_, tok := f.newMitra(0, "Ayu")
		// Every instance caches the default (the cache lives a minute without a message).
		for i := range f.nodes {
			require.Equal(t, float64(1), f.must(i, 200, "GET", "/api/mitra/status", tok, nil)["max_concurrent_sessions"])
		}
		for k, want := range []int{3, 2, 5} {
			f.must(k, 200, "PUT", "/api/internal/config/mitra_max_concurrent_sessions", f.op(), map[string]any{"value": want})
			for i := range f.nodes {
				fleetEventually(t, 3*time.Second, fmt.Sprintf("instance %d serves %d", i, want), func() bool {
					return f.must(i, 200, "GET", "/api/mitra/status", tok, nil)["max_concurrent_sessions"] == float64(want)
				})
			}
		}
		requireFleetSettled(t, f)
	})
}

func TestMultiInstance_OfferAcceptedExactlyOnceWhateverTheInstance(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster})
		f.tiers()
		var toks []string
		for k := range 3 {
			_, tok := f.onlineMitra(k, fmt.Sprint("mitra ", k))
			toks = append(toks, tok)
		}
		_, ctok := f.newClient(0, "Dewi")

		// acceptAll sends the accepts at once, accepter k through instance k.
		acceptAll := func(pid string, accepters []string) []fleetResp {
			out := make([]fleetResp, len(accepters))
			var wg sync.WaitGroup
			gate := make(chan struct{})
			for k, tok := range accepters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					r, err := f.node(k).call(context.Background(), "POST", "/api/mitra/pairing-offers/"+pid+"/accept", tok, nil)
					if err != nil {
						r = fleetResp{Raw: []byte(err.Error())}
					}
					out[k] = r
				}()
			}
			close(gate)
			wg.Wait()
			return out
		}
		requireOneSession := func(pid string) {
			t.Helper()
			require.Equal(t, 1, f.scalar(`SELECT count(*) FROM chat_sessions WHERE pairing_id = $1`, pid), "one chat session")
			require.Equal(t, 1, f.scalar(`SELECT count(*) FROM pairing_offers WHERE pairing_id = $1 AND status = 'accepted'`, pid))
		}
		offered := func(pid string, tok string) bool {
			for i := range f.nodes {
				offers := f.must(i, 200, "GET", "/api/mitra/pairing-offers", tok, nil)["offers"].([]any)
				if len(offers) != 1 || offers[0].(map[string]any)["pairing_id"] != pid {
					return false
				}
			}
			return true
		}

		// Three mitras, each through its own instance.
		pid, _ := f.paidBlast(0, ctok)
		for _, tok := range toks {
			fleetEventually(t, 5*time.Second, "the offer is listed on every instance", func() bool { return offered(pid, tok) })
		}
		won := 0
		for _, r := range acceptAll(pid, toks) {
			switch r.Status {
			case 200:
				won++
			case 409, 410:
			default:
				t.Fatalf("an accept answered %d: %s", r.Status, r.Raw)
			}
		}
		require.Equal(t, 1, won, "exactly one mitra wins")
		requireOneSession(pid)

		// One mitra through the three instances at once.
		_, ctok2 := f.newClient(1, "Eko")
		pid2, _ := f.paidBlast(1, ctok2)
		var free string
		fleetEventually(t, 5*time.Second, "a free mitra holds the new offer", func() bool {
			for _, tok := range toks {
				if offered(pid2, tok) {
					free = tok
					return true
				}
			}
			return false
		})
		// The same mitra's accept is idempotent: every instance answers with the one session.
		var sid any
		for _, r := range acceptAll(pid2, []string{free, free, free}) {
			require.Equal(t, 200, r.Status, "%s", r.Raw)
			cs := fleetObj(r.Body, "chat_session")
			if sid == nil {
				sid = cs["id"]
			}
			require.Equal(t, sid, cs["id"])
		}
		requireOneSession(pid2)
		requireFleetSettled(t, f)
	})
}

func TestMultiInstance_EventsReachSubscribersOnAnyInstance(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster})
		f.tiers()
		_, mtok := f.onlineMitra(0, "Ayu")
		_, ctok := f.newClient(1, "Dewi")
		mitraEvents := f.openEvents(2, "/api/mitra/events", mtok)
		clientEvents := f.openEvents(1, "/api/client/events", ctok)

		pid, _ := f.paidBlast(0, ctok) // created on instance 0, paid on instance 1
		fleetAwaitEvent(t, mitraEvents, 5*time.Second, "pairing_offer", pid)
		fleetAwaitEvent(t, clientEvents, 5*time.Second, "payment_paid", pid)
		f.must(0, 200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", mtok, nil)
		fleetAwaitEvent(t, clientEvents, 5*time.Second, "pairing_matched", pid)
		requireFleetSettled(t, f)
	})
}

func TestMultiInstance_RefusedRefundsAreRetriedAndMadeOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster})
		f.tiers()
		// Nobody is online: every paid blast fails at once and is refunded. The provider
		// refuses the first refunds; every instance's retry sweep races for the rest.
		f.must(0, 200, "POST", "/api/internal/fake-gateway/refund-failures", f.op(), map[string]any{"count": 8})
		var pays []uuid.UUID
		for k := range 4 {
			_, ctok := f.newClient(k, fmt.Sprint("client ", k))
			_, payID := f.paidBlast(k, ctok)
			pays = append(pays, uuid.MustParse(payID))
		}
		fleetEventually(t, 20*time.Second, "every refund went through", func() bool {
			return f.scalar(`SELECT count(*) FROM payment_refunds WHERE status = 'succeeded'`) == len(pays)
		})
		for _, id := range pays {
			require.Equal(t, 1, f.refundsFor(id), "refunded once")
			require.Equal(t, 1, f.scalar(`SELECT count(*) FROM payment_sessions WHERE id = $1 AND status = 'refunded'`, id))
		}
		// Each attempt claimed in the store is one call at the provider: no instance sent a
		// refund another one was sending.
		rows, err := f.db.Query(context.Background(), `SELECT id, attempts FROM payment_refunds`)
		require.NoError(t, err)
		defer rows.Close()
		calls := 0
		for rows.Next() {
			var id uuid.UUID
			var attempts int
			require.NoError(t, rows.Scan(&id, &attempts))
			require.Equal(t, attempts, f.gateway.RefundCalls(id), "refund %s: one provider call per attempt", id)
			calls += attempts
		}
		require.NoError(t, rows.Err())
		require.Equal(t, len(pays)+8, calls, "the refused attempts and one success each")
		fleetEventually(t, 5*time.Second, "the failure rows follow the retries", func() bool {
			return f.scalar(`SELECT count(*) FROM pairing_failures WHERE refund_status = 'refunded'`) == len(pays)
		})
		requireFleetSettled(t, f)
	})
}

// fleetDrift is the number of differences between the Valkey mirror and Postgres, as
// instance 0 sees them (-1 when the check fails).
func fleetDrift(t *testing.T, f *fleet) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := f.nodes[0].app.mirror.Drift(ctx)
	if err != nil || !rep.Seeded {
		return -1
	}
	return len(rep.Differences)
}

func requireFleetNoDrift(t *testing.T, f *fleet) {
	t.Helper()
	fleetEventually(t, 10*time.Second, "no drift between Valkey and Postgres", func() bool { return fleetDrift(t, f) == 0 })
}

// fleetObj returns body[key] as an object (nil when absent).
func fleetObj(body map[string]any, key string) map[string]any {
	v, _ := body[key].(map[string]any)
	return v
}

func TestMultiInstance_RevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster})
		const path = "/api/client/mitra-availability"
		clientID, tok := f.newClient(0, "Dewi")
		sibling := f.must(1, 201, "POST", "/api/internal/tokens", f.op(),
			map[string]any{"subject_kind": "client", "subject_id": clientID.String()})["token"].(string)
		for i := range f.nodes {
			f.must(i, 200, "GET", path, tok, nil) // cached on every instance (for 30 s)
			f.must(i, 200, "GET", path, sibling, nil)
		}
		refusedEverywhere := func(tok string) func() bool {
			return func() bool {
				for i := range f.nodes {
					r, err := f.node(i).call(context.Background(), "GET", path, tok, nil)
					if err != nil || r.Status != 401 {
						return false
					}
				}
				return true
			}
		}
		f.must(1, 204, "POST", "/api/client/logout", tok, nil)
		fleetEventually(t, 2*time.Second, "the signed-out token refused by every instance", refusedEverywhere(tok))
		for i := range f.nodes {
			f.must(i, 200, "GET", path, sibling, nil) // the subject's other token still passes
		}
		f.must(2, 204, "POST", "/api/internal/tokens/revoke", f.op(),
			map[string]any{"subject_kind": "client", "subject_id": clientID.String()})
		fleetEventually(t, 2*time.Second, "the subject's tokens refused by every instance", refusedEverywhere(sibling))
		requireFleetSettled(t, f)
	})
}

// TestMultiInstance_RevocationHoldsWhileValkeyIsDown: a revocation published while Valkey
// is down is lost, but no instance trusts a cached token for long meanwhile: losing the
// subscription dropped the cache, and a token verified while unsubscribed is asked for
// again after a second.
func TestMultiInstance_RevocationHoldsWhileValkeyIsDown(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	f := newFleet(t, fleetOptions{Instances: 2, ValkeyURL: srv.URL()})
	const path = "/api/client/mitra-availability"
	clientID, tok := f.newClient(0, "Dewi")
	for i := range f.nodes {
		f.must(i, 200, "GET", path, tok, nil)
	}

	require.NoError(t, srv.Stop())
	for i := range f.nodes {
		fleetEventually(t, 10*time.Second, "the lost subscription noticed", func() bool {
			return !f.node(i).app.auth.revocationsFollowed()
		})
	}
	f.must(1, 200, "GET", path, tok, nil) // verified again, and cached, while unsubscribed
	f.must(0, 204, "POST", "/api/client/logout", tok, nil)
	fleetEventually(t, 3*time.Second, "the other instance refuses the token within the short bound", func() bool {
		r, err := f.node(1).call(context.Background(), "GET", path, tok, nil)
		return err == nil && r.Status == 401
	})

	// Back: revocations flow again.
	require.NoError(t, srv.Start())
	for i := range f.nodes {
		fleetEventually(t, 15*time.Second, "resubscribed", f.node(i).app.auth.revocationsFollowed)
	}
	sibling := f.must(1, 201, "POST", "/api/internal/tokens", f.op(),
		map[string]any{"subject_kind": "client", "subject_id": clientID.String()})["token"].(string)
	f.must(1, 200, "GET", path, sibling, nil)
	f.must(0, 204, "POST", "/api/internal/tokens/revoke", f.op(),
		map[string]any{"subject_kind": "client", "subject_id": clientID.String()})
	fleetEventually(t, 2*time.Second, "the revocation reached the other instance", func() bool {
		r, err := f.node(1).call(context.Background(), "GET", path, sibling, nil)
		return err == nil && r.Status == 401
	})
}
