package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/testenv"
)

// The chaos test drives the client and mitra flows across three instances while it kills,
// restarts and freezes Valkey and restarts Postgres (private servers on free loopback
// ports: the shared ones are never touched), then checks that nothing was lost or charged
// twice (SPEC §16).
//
// Load duration: CURHAT_CHAOS_DURATION (a Go duration, e.g. 10m) when set; otherwise 30 s,
// or 12 s with -short. Setup, draining and the final checks add 20–40 s.

const (
	chaosDefaultLoad = 30 * time.Second
	chaosShortLoad   = 12 * time.Second

	chaosClients = 6 // concurrent client agents
	chaosMitras  = 4 // mitra agents

	chaosFaultHold = 2 * time.Second         // how long a fault lasts
	chaosFaultGap  = 2500 * time.Millisecond // healthy time between faults
	// chaosPGGrace: after Postgres is back, a pool may still hand out a connection that
	// died with the old server; a 503 that soon after is still the outage's.
	chaosPGGrace = 3 * time.Second
	// chaosBlastTimeout: a searching blast nobody accepts fails (and is refunded) quickly.
	chaosBlastTimeout = 4
)

func chaosLoadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("CURHAT_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "CURHAT_CHAOS_DURATION")
		return d
	}
	if testing.Short() {
		return chaosShortLoad
	}
	return chaosDefaultLoad
}

// chaos is the run: the fleet, the private servers, and what was observed.
type chaos struct {
	t  *testing.T
	f  *fleet
	pg *testenv.PGServer
	vk *testenv.RedisServer

	pgDown    atomic.Bool
	pgBackAt  atomic.Int64 // unix nanos of the last Postgres start
	mu        sync.Mutex
	statuses  map[int]int    // HTTP status → count
	unexp503  map[string]int // 503s outside Postgres outages, by route
	errs      map[string]int // transport errors by route
	internal  map[string]int // 5xx other than 503, by route and body
	faults    map[string]int
	scenarios map[string]int
}

func newChaos(t *testing.T) *chaos {
	c := &chaos{t: t, statuses: map[int]int{}, unexp503: map[string]int{}, errs: map[string]int{},
		internal: map[string]int{}, faults: map[string]int{}, scenarios: map[string]int{}}
	c.pg = testenv.StartPostgres(t)
	c.vk = testenv.StartRedis(t)
	c.f = newFleet(t, fleetOptions{DatabaseURL: c.pg.URL(), ValkeyURL: c.vk.URL(), Configure: func(cfg *Config) {
		cfg.HeartbeatStale = 3 * time.Second
	}})
	return c
}

// routeOf names a request for the counts: method and path with ids elided.
func routeOf(method, path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if _, err := uuid.Parse(p); err == nil {
			parts[i] = "{id}"
		}
	}
	return method + " " + strings.Join(parts, "/")
}

// record counts one answer. A 503 is expected while Postgres is down or just back.
func (c *chaos) record(route string, began time.Time, r fleetResp, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs[route]++
		return
	}
	c.statuses[r.Status]++
	if r.Status >= 500 && r.Status != 503 {
		c.internal[fmt.Sprintf("%s answered %d %s", route, r.Status, r.Raw)]++
	}
	if r.Status == 503 && !c.pgDown.Load() {
		back := time.Unix(0, c.pgBackAt.Load())
		if began.After(back.Add(chaosPGGrace)) {
			c.unexp503[route+" "+r.code()]++
		}
	}
}

// do sends a request to a random instance, retrying 503s and transport errors (as an app
// or a payment provider would) until another answer or the end of ctx.
func (c *chaos) do(ctx context.Context, rng *rand.Rand, method, path, token string, body any, header ...string) (fleetResp, bool) {
	route := routeOf(method, path)
	backoff := 50 * time.Millisecond
	for {
		node := c.f.node(rng.IntN(len(c.f.nodes)))
		began := time.Now()
		r, err := node.call(ctx, method, path, token, body, header...)
		if ctx.Err() != nil {
			return r, false
		}
		c.record(route, began, r, err)
		if err == nil && r.Status != 503 {
			return r, true
		}
		select {
		case <-ctx.Done():
			return r, false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// webhook delivers a payment outcome like a provider: retried until acknowledged, and
// sometimes sent twice at once to different instances.
func (c *chaos) webhook(ctx context.Context, rng *rand.Rand, paymentID, status string) bool {
	copies := 1 + rng.IntN(2)
	var wg sync.WaitGroup
	var delivered atomic.Bool
	for range copies {
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			backoff := 50 * time.Millisecond
			for ctx.Err() == nil {
				node := c.f.node(rng.IntN(len(c.f.nodes)))
				began := time.Now()
				r, err := node.webhook(ctx, paymentID, status)
				if ctx.Err() != nil {
					return
				}
				c.record("POST /api/payments/webhook", began, r, err)
				if err == nil && r.Status == 200 {
					delivered.Store(true)
					return
				}
				if err == nil && r.Status != 503 {
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, time.Second)
			}
		}()
	}
	wg.Wait()
	return delivered.Load()
}

func (c *chaos) scenario(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scenarios[name]++
}

// newClient creates a client and a token (retrying through outages).
func (c *chaos) newClient(ctx context.Context, rng *rand.Rand) (string, bool) {
	r, ok := c.do(ctx, rng, "POST", "/api/internal/clients", c.f.op(), map[string]any{"display_name": "chaos client"})
	if !ok || r.Status != 201 {
		return "", false
	}
	r, ok = c.do(ctx, rng, "POST", "/api/internal/tokens", c.f.op(), map[string]any{"subject_kind": "client", "subject_id": r.Body["id"]})
	if !ok || r.Status != 201 {
		return "", false
	}
	return r.Body["token"].(string), true
}

// clientAgent runs client scenarios until load ends; the scenario under way finishes
// within ctx.
func (c *chaos) clientAgent(load, ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	for load.Err() == nil {
		c.clientScenario(ctx, rng)
	}
}

func (c *chaos) clientScenario(ctx context.Context, rng *rand.Rand) {
	tok, ok := c.newClient(ctx, rng)
	if !ok {
		return
	}
	// A retried start carries the same Idempotency-Key: one pairing, one payment.
	start, ok := c.do(ctx, rng, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30},
		"Idempotency-Key", uuid.NewString())
	if !ok || start.Status != 201 {
		c.scenario("start refused")
		return
	}
	pid := fleetObj(start.Body, "pairing")["id"].(string)
	payID := fleetObj(start.Body, "payment")["id"].(string)
	switch k := rng.IntN(10); {
	case k == 0:
		c.scenario("cancel before paying")
		c.do(ctx, rng, "POST", "/api/client/chat/cancel", tok, map[string]any{"pairing_id": pid})
		return
	case k == 1:
		c.scenario("payment failed")
		c.webhook(ctx, rng, payID, "failed")
		return
	case k == 2:
		c.scenario("never paid")
		return
	case k == 3:
		c.scenario("cancel right after paying")
		c.webhook(ctx, rng, payID, "paid")
		c.do(ctx, rng, "POST", "/api/client/chat/cancel", tok, map[string]any{"pairing_id": pid})
		return
	}
	if !c.webhook(ctx, rng, payID, "paid") {
		return
	}
	// Wait (polling) for a mitra to accept, or the blast to fail.
	deadline := time.Now().Add((chaosBlastTimeout + 6) * time.Second)
	var session map[string]any
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r, ok := c.do(ctx, rng, "GET", "/api/client/pairings/"+pid, tok, nil)
		if !ok || r.Status != 200 {
			return
		}
		st := fleetObj(r.Body, "pairing")["status"]
		if st == "matched" {
			session = fleetObj(r.Body, "chat_session")
			break
		}
		if st == "failed" || st == "cancelled" {
			c.scenario("paid blast failed or cancelled")
			return
		}
		time.Sleep(150 * time.Millisecond) // app polling interval
	}
	if session == nil || session["status"] != "active" {
		c.scenario("paid blast undecided or session not active")
		return
	}
	sid := session["id"].(string)
	if rng.IntN(3) > 0 {
		ext, ok := c.do(ctx, rng, "POST", "/api/client/chat-sessions/"+sid+"/extensions", tok, map[string]any{"minutes": 10})
		if ok && ext.Status == 201 {
			if pay := fleetObj(ext.Body, "payment"); pay != nil {
				c.scenario("extension charged")
				c.webhook(ctx, rng, pay["id"].(string), "paid")
			} else {
				c.scenario("extension rejected")
			}
		}
	}
	if rng.IntN(4) > 0 {
		c.scenario("session ended by client")
		c.do(ctx, rng, "POST", "/api/client/chat-sessions/"+sid+"/end", tok, nil)
	} else {
		c.scenario("session left running")
	}
}

// mitraAgent pings, accepts most offers, declines some, and ends some of its sessions,
// until ctx ends.
func (c *chaos) mitraAgent(ctx context.Context, tok string, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	c.do(ctx, rng, "POST", "/api/mitra/status/online", tok, nil)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		if r, ok := c.do(ctx, rng, "POST", "/api/mitra/status/heartbeat", tok, nil); ok && r.Status == 200 && r.Body["online"] == false {
			c.do(ctx, rng, "POST", "/api/mitra/status/online", tok, nil) // auto-offlined: come back
		}
		if r, ok := c.do(ctx, rng, "GET", "/api/mitra/pairing-offers", tok, nil); ok && r.Status == 200 {
			offers, _ := r.Body["offers"].([]any)
			for _, o := range offers {
				pid := o.(map[string]any)["pairing_id"].(string)
				if rng.IntN(10) == 0 {
					c.do(ctx, rng, "POST", "/api/mitra/pairing-offers/"+pid+"/decline", tok, nil)
				} else {
					c.do(ctx, rng, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", tok, nil)
				}
			}
		}
		if rng.IntN(12) == 0 {
			if r, ok := c.do(ctx, rng, "GET", "/api/mitra/chat-sessions?status=active", tok, nil); ok && r.Status == 200 {
				if list, _ := r.Body["chat_sessions"].([]any); len(list) > 0 {
					sid := list[rng.IntN(len(list))].(map[string]any)["id"].(string)
					c.do(ctx, rng, "POST", "/api/mitra/chat-sessions/"+sid+"/end", tok, nil)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// inject cycles through the faults until ctx ends, and always leaves both servers up.
func (c *chaos) inject(ctx context.Context) {
	hold := func() {
		select {
		case <-ctx.Done():
		case <-time.After(chaosFaultHold):
		}
	}
	faults := []struct {
		name string
		run  func() error
	}{
		{"valkey stopped and restarted (data lost)", func() error {
			if err := c.vk.Stop(); err != nil {
				return err
			}
			hold()
			return c.vk.Start()
		}},
		{"valkey frozen (SIGSTOP) and thawed (SIGCONT)", func() error {
			if err := c.vk.Pause(); err != nil {
				return err
			}
			hold()
			return c.vk.Resume()
		}},
		{"postgres restarted (fast shutdown)", func() error { return c.pgOutage(c.pg.Stop, hold) }},
		{"postgres crashed and restarted (immediate shutdown)", func() error { return c.pgOutage(c.pg.Crash, hold) }},
	}
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(chaosFaultGap):
		}
		fault := faults[i%len(faults)]
		c.t.Logf("chaos: %s", fault.name)
		if err := fault.run(); err != nil {
			c.t.Errorf("fault %q: %v", fault.name, err)
			return
		}
		c.mu.Lock()
		c.faults[fault.name]++
		c.mu.Unlock()
	}
}

func (c *chaos) pgOutage(stop func() error, hold func()) error {
	c.pgDown.Store(true)
	defer func() {
		c.pgBackAt.Store(time.Now().UnixNano())
		c.pgDown.Store(false)
	}()
	if err := stop(); err != nil {
		return err
	}
	hold()
	return c.pg.Start()
}

// violations lists every broken invariant (empty when all hold).
func (c *chaos) violations() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	list := func(what, sql string) {
		rows, err := c.f.db.Query(ctx, sql)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: query failed: %v", what, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				out = append(out, fmt.Sprintf("%s: %v", what, err))
				return
			}
			out = append(out, fmt.Sprintf("%s: %v", what, vals))
		}
		if err := rows.Err(); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", what, err))
		}
	}
	// Every paid chat_start has exactly one outcome: a chat session, or a refund.
	list("paid chat_start without exactly one outcome", `
		SELECT p.id::text, p.status, pr.status,
			(SELECT count(*) FROM chat_sessions cs WHERE cs.pairing_id = pr.id) AS sessions
		FROM payment_sessions p JOIN pairings pr ON pr.id = p.pairing_id
		WHERE p.purpose = 'chat_start' AND p.paid_at IS NOT NULL
		AND NOT (
			(p.status = 'paid' AND pr.status = 'matched' AND pr.payment_session_id = p.id AND
				(SELECT count(*) FROM chat_sessions cs WHERE cs.pairing_id = pr.id AND cs.status IN ('active', 'ended')) = 1)
			OR (p.status = 'refunded' AND pr.status IN ('failed', 'cancelled') AND
				NOT EXISTS (SELECT 1 FROM chat_sessions cs WHERE cs.pairing_id = pr.id AND cs.status IN ('active', 'ended'))))`)
	// Every paid extension either grew its session or was refunded.
	list("paid extension without exactly one outcome", `
		SELECT p.id::text, p.status, e.status FROM payment_sessions p JOIN extensions e ON e.id = p.extension_id
		WHERE p.purpose = 'extension' AND p.paid_at IS NOT NULL
		AND NOT ((p.status = 'paid' AND e.status = 'paid') OR (p.status = 'refunded' AND e.status <> 'paid'))`)
	// Nothing started or grew without a payment.
	list("chat session started without a paid chat_start", `
		SELECT cs.id::text, cs.status FROM chat_sessions cs JOIN pairings pr ON pr.id = cs.pairing_id
		WHERE cs.status IN ('active', 'ended')
		AND NOT EXISTS (SELECT 1 FROM payment_sessions p WHERE p.pairing_id = pr.id AND p.purpose = 'chat_start' AND p.status = 'paid')`)
	list("extension applied without a paid payment", `
		SELECT e.id::text FROM extensions e LEFT JOIN payment_sessions p ON p.id = e.payment_session_id
		WHERE e.status = 'paid' AND p.status IS DISTINCT FROM 'paid'`)
	// Nobody charged twice: one paid chat_start per pairing, one session per pairing.
	list("pairing with two paid chat_start payments", `
		SELECT pairing_id::text, count(*) FROM payment_sessions WHERE purpose = 'chat_start' AND status = 'paid'
		GROUP BY pairing_id HAVING count(*) > 1`)
	list("pairing with two chat sessions", `
		SELECT pairing_id::text, count(*) FROM chat_sessions GROUP BY pairing_id HAVING count(*) > 1`)
	list("refund failed", `SELECT id::text FROM payment_sessions WHERE status = 'refund_failed'`)
	list("paid blast still searching", `
		SELECT pr.id::text FROM pairings pr JOIN payment_sessions p ON p.id = pr.payment_session_id
		WHERE pr.status = 'searching' AND p.status = 'paid'`)

	// Refunds at the gateways: exactly one per refunded payment, none for the others.
	rows, err := c.f.db.Query(ctx, `SELECT id, status FROM payment_sessions`)
	if err == nil {
		for rows.Next() {
			var id uuid.UUID
			var status string
			if err := rows.Scan(&id, &status); err != nil {
				break
			}
			want := 0
			if status == "refunded" {
				want = 1
			}
			if got := c.f.refundsFor(id); got != want {
				out = append(out, fmt.Sprintf("payment %s (%s) refunded %d times at the gateways", id, status, got))
			}
		}
		rows.Close()
	}
	if err != nil || rows.Err() != nil {
		out = append(out, fmt.Sprintf("list payments: %v %v", err, rows.Err()))
	}

	// Capacity in Valkey equals Postgres, read directly; and the mirror reports no drift.
	caps, err := c.f.db.Query(ctx, `SELECT m.id, count(cs.id) FILTER (WHERE cs.status IN ('active', 'pending_payment'))
		FROM mitras m LEFT JOIN chat_sessions cs ON cs.mitra_id = m.id GROUP BY m.id`)
	if err != nil {
		out = append(out, fmt.Sprintf("capacity query: %v", err))
	} else {
		for caps.Next() {
			var id uuid.UUID
			var n int
			if err := caps.Scan(&id, &n); err != nil {
				break
			}
			vctx, vcancel := context.WithTimeout(ctx, time.Second)
			v, err := c.f.valkey.Do(vctx, c.f.valkey.B().Get().Key(c.f.names.Capacity(id.String())).Build()).ToString()
			vcancel()
			if err != nil && !strings.Contains(err.Error(), "nil") {
				out = append(out, fmt.Sprintf("capacity of %s: valkey: %v", id, err))
				continue
			}
			if (v == "" && n != 0) || (v != "" && v != fmt.Sprint(n)) {
				out = append(out, fmt.Sprintf("capacity of %s: valkey %q, postgres %d", id, v, n))
			}
		}
		caps.Close()
	}
	for _, node := range c.f.nodes {
		rep, err := node.app.mirror.Drift(ctx)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("instance %d drift check: %v", node.i, err))
		case !rep.Seeded:
			out = append(out, fmt.Sprintf("instance %d: mirror not seeded", node.i))
		case len(rep.Differences) > 0:
			out = append(out, fmt.Sprintf("instance %d: drift %+v", node.i, rep.Differences))
		}
	}
	return out
}

// outcomes summarises the database after the run.
func (c *chaos) outcomes() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	for _, q := range []struct{ name, sql string }{
		{"pairings", `SELECT status || coalesce('/' || failure_reason, ''), count(*) FROM pairings GROUP BY 1 ORDER BY 1`},
		{"payments", `SELECT purpose || '/' || status, count(*) FROM payment_sessions GROUP BY 1 ORDER BY 1`},
		{"chat sessions", `SELECT status || coalesce('/' || end_reason, ''), count(*) FROM chat_sessions GROUP BY 1 ORDER BY 1`},
		{"extensions", `SELECT status, count(*) FROM extensions GROUP BY 1 ORDER BY 1`},
	} {
		rows, err := c.f.db.Query(ctx, q.sql)
		if err != nil {
			fmt.Fprintf(&b, "  %s: %v\n", q.name, err)
			continue
		}
		var parts []string
		for rows.Next() {
			var k string
			var n int
			if rows.Scan(&k, &n) == nil {
				parts = append(parts, fmt.Sprintf("%s=%d", k, n))
			}
		}
		rows.Close()
		fmt.Fprintf(&b, "  %s: %s\n", q.name, strings.Join(parts, " "))
	}
	refunds := 0
	for _, node := range c.f.nodes {
		refunds += len(node.app.fakeGateway.Refunds())
	}
	fmt.Fprintf(&b, "  gateway refunds: %d", refunds)
	return b.String()
}

func formatCounts[K comparable](m map[K]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b K) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%v=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func TestChaos_FlowsAcrossInstancesSurviveValkeyAndPostgresFaults(t *testing.T) {
	t.Parallel()
	load := chaosLoadDuration(t)
	began := time.Now()
	c := newChaos(t)
	f := c.f
	f.tiers()
	f.must(0, 200, "PUT", "/api/internal/config/pairing_blast_timeout_seconds", f.op(), map[string]any{"value": chaosBlastTimeout})
	f.must(1, 200, "PUT", "/api/internal/config/mitra_max_concurrent_sessions", f.op(), map[string]any{"value": 2})
	var mitraToks []string
	for k := range chaosMitras {
		_, tok := f.newMitra(k, fmt.Sprint("chaos mitra ", k))
		mitraToks = append(mitraToks, tok)
	}

	// Mitras run until the clients are done; clients start scenarios until the load ends
	// and finish the one under way within the drain bound.
	loadCtx, stopLoad := context.WithTimeout(context.Background(), load)
	defer stopLoad()
	drainCtx, stopDrain := context.WithTimeout(context.Background(), load+90*time.Second)
	defer stopDrain()
	mitraCtx, stopMitras := context.WithCancel(drainCtx)
	defer stopMitras()
	var mitras, clients, faults sync.WaitGroup
	for k, tok := range mitraToks {
		mitras.Add(1)
		go func() { defer mitras.Done(); c.mitraAgent(mitraCtx, tok, uint64(k)) }()
	}
	faults.Add(1)
	go func() { defer faults.Done(); c.inject(loadCtx) }()
	for k := range chaosClients {
		clients.Add(1)
		go func() { defer clients.Done(); c.clientAgent(loadCtx, drainCtx, uint64(100+k)) }()
	}
	faults.Wait() // the injector leaves both servers up
	clients.Wait()
	stopMitras()
	mitras.Wait()
	drained := drainCtx.Err() == nil
	loadEnded := time.Now()

	// The system heals by itself: the watchdog reseeds, the sweeps settle what the
	// outages left (blast deadlines, refunds). Poll until every invariant holds.
	var last []string
	healDeadline := time.Now().Add(60 * time.Second)
	for {
		if last = c.violations(); len(last) == 0 || time.Now().After(healDeadline) {
			break
		}
		time.Sleep(500 * time.Millisecond) // polling interval, not a wait for an outcome
	}

	c.mu.Lock()
	t.Logf("chaos: load %v, healed in %v, total %v", load, time.Since(loadEnded).Round(time.Millisecond), time.Since(began).Round(time.Second))
	t.Logf("chaos: requests by status: %s", formatCounts(c.statuses))
	t.Logf("chaos: 503s outside Postgres outages: %s", formatCounts(c.unexp503))
	t.Logf("chaos: transport errors: %s", formatCounts(c.errs))
	t.Logf("chaos: 5xx other than 503: %s", formatCounts(c.internal))
	t.Logf("chaos: faults injected: %s", formatCounts(c.faults))
	t.Logf("chaos: client scenarios: %s", formatCounts(c.scenarios))
	unexp, errs, internal, nFaults := maps.Clone(c.unexp503), maps.Clone(c.errs), maps.Clone(c.internal), len(c.faults)
	statuses := maps.Clone(c.statuses)
	c.mu.Unlock()
	t.Logf("chaos: outcomes:\n%s", c.outcomes())

	require.True(t, drained, "the scenarios under way finished within the drain bound")
	require.Empty(t, last, "invariants still broken %v after the load ended", 60*time.Second)
	require.Positive(t, nFaults, "faults were injected")
	require.Empty(t, internal, "no 500: a Postgres or Valkey outage must surface as 503 UNAVAILABLE "+
		"(a 500 here is a driver error that escaped translation to curhat.ErrUnavailable)")
	for _, status := range []int{400, 401, 403} {
		require.Zero(t, statuses[status], "requests answered %d: an outage must not look like bad input or a bad token", status)
	}
	require.Empty(t, errs, "every request got an answer")
	require.Empty(t, unexp, "503 only while Postgres was down")
}
