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
	"github.com/curhat/curhat/payment/ledger"
)

// The chaos test drives the client and mitra flows across three instances while it kills,
// restarts and freezes Valkey and restarts Postgres (private servers on free loopback
// ports: the shared ones are never touched), deactivates busy mitras (their chats continue
// as prepaid blasts, refunded in part when nobody takes them) and makes the payment
// provider refuse some refunds, then checks that nothing was lost or charged twice  and that every paid amount ended in what it paid for or in refunds adding up to it
// (payment.Reconcile is empty).
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
	// chaosRefusalGap: how often the payment provider is told to refuse a few refunds.
	chaosRefusalGap = 3 * time.Second
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

// refuseRefunds makes the payment provider refuse a few of the next refunds, every few
// seconds, until ctx ends (the refunds are retried by the sweeps).
func (c *chaos) refuseRefunds(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 4))
	for ctx.Err() == nil {
		// Between refusals, operators retry the refused refunds from every instance at once,
		// racing each other and the sweeps.
		gap := time.After(chaosRefusalGap)
	retries:
		for {
			select {
			case <-ctx.Done():
				return
			case <-gap:
				break retries
			case <-time.After(100 * time.Millisecond):
				c.retryFailedRefunds(ctx, rng)
			}
		}
		if r, ok := c.do(ctx, rng, "POST", "/api/internal/fake-gateway/refund-failures", c.f.op(),
			map[string]any{"count": 1 + rng.IntN(3)}); ok && r.Status == 200 {
			c.scenario("provider told to refuse refunds")
		}
	}
}

// deactivationAgent brings a fresh mitra online, lets it take a chat, and has an operator
// deactivate it: the chat continues as a prepaid blast (taken by another mitra, or
// refunded in part), until load ends.
func (c *chaos) deactivationAgent(load, ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 5))
	for load.Err() == nil {
		c.deactivateBusyMitra(ctx, rng)
	}
}

// chaosMitra creates a mitra that holds one chat at a time, and its token.
func (c *chaos) chaosMitra(ctx context.Context, rng *rand.Rand, name string) (id, tok string, ok bool) {
	m, ok := c.do(ctx, rng, "POST", "/api/internal/mitras", c.f.op(), map[string]any{"display_name": name, "max_concurrent_sessions": 1})
	if !ok || m.Status != 201 {
		return "", "", false
	}
	id = m.Body["id"].(string)
	t, ok := c.do(ctx, rng, "POST", "/api/internal/tokens", c.f.op(), map[string]any{"subject_kind": "mitra", "subject_id": id})
	if !ok || t.Status != 201 {
		return "", "", false
	}
	return id, t.Body["token"].(string), true
}

// acceptOne keeps the mitra pinging and accepts the first offer it gets (only want, when
// set) until within ends; it returns the chat session's id ("" when none).
func (c *chaos) acceptOne(ctx context.Context, rng *rand.Rand, tok, want string, within time.Duration) string {
	c.do(ctx, rng, "POST", "/api/mitra/status/online", tok, nil)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if r, ok := c.do(ctx, rng, "POST", "/api/mitra/status/heartbeat", tok, nil); ok && r.Status == 200 && r.Body["online"] == false {
			c.do(ctx, rng, "POST", "/api/mitra/status/online", tok, nil)
		}
		if r, ok := c.do(ctx, rng, "GET", "/api/mitra/pairing-offers", tok, nil); ok && r.Status == 200 {
			offers, _ := r.Body["offers"].([]any)
			for _, o := range offers {
				pid := o.(map[string]any)["pairing_id"].(string)
				if want != "" && pid != want {
					continue
				}
				if a, ok := c.do(ctx, rng, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", tok, nil); ok && a.Status == 200 {
					return fleetObj(a.Body, "chat_session")["id"].(string)
				}
			}
		}
		time.Sleep(200 * time.Millisecond) // app polling interval
	}
	return ""
}

func (c *chaos) deactivateBusyMitra(ctx context.Context, rng *rand.Rand) {
	id, tok, ok := c.chaosMitra(ctx, rng, "chaos mitra to deactivate")
	if !ok {
		return
	}
	deactivate := func() {
		// Its token is revoked now: the agent never uses it again.
		c.do(ctx, rng, "PATCH", "/api/internal/mitras/"+id+"/status", c.f.op(), map[string]any{"is_active": false})
	}
	sid := c.acceptOne(ctx, rng, tok, "", 10*time.Second)
	switch {
	case sid == "":
		c.scenario("idle mitra deactivated")
	case rng.IntN(2) == 0 && c.extensionRacesDeactivation(ctx, rng, tok, sid, deactivate):
		return
	default:
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond) // some of the chat happens
		c.scenario("busy mitra deactivated")
	}
	deactivate()
}

// extensionRacesDeactivation has the client of session sid buy an extension and the
// provider confirm its payment while an operator deactivates the session's mitra: the
// paid minutes end in the continuation (or in its refund), never lost. It reports whether
// the race ran (the extension was charged and deactivate was called).
func (c *chaos) extensionRacesDeactivation(ctx context.Context, rng *rand.Rand, mitraTok, sid string, deactivate func()) bool {
	r, ok := c.do(ctx, rng, "GET", "/api/mitra/chat-sessions?status=active", mitraTok, nil)
	if !ok || r.Status != 200 {
		return false
	}
	var clientID string
	list, _ := r.Body["chat_sessions"].([]any)
	for _, it := range list {
		if s := it.(map[string]any); s["id"] == sid {
			clientID, _ = s["client_id"].(string)
		}
	}
	if clientID == "" {
		return false
	}
	t, ok := c.do(ctx, rng, "POST", "/api/internal/tokens", c.f.op(), map[string]any{"subject_kind": "client", "subject_id": clientID})
	if !ok || t.Status != 201 {
		return false
	}
	ext, ok := c.do(ctx, rng, "POST", "/api/client/chat-sessions/"+sid+"/extensions", t.Body["token"].(string), map[string]any{"minutes": 10})
	if !ok || ext.Status != 201 {
		return false
	}
	pay := fleetObj(ext.Body, "payment")
	if pay == nil {
		return false
	}
	c.scenario("extension paid while its mitra is deactivated")
	var wg sync.WaitGroup
	wg.Add(2)
	seed := rng.Uint64()
	go func() { defer wg.Done(); c.webhook(ctx, rand.New(rand.NewPCG(seed, 8)), pay["id"].(string), "paid") }()
	go func() { defer wg.Done(); deactivate() }()
	wg.Wait()
	return true
}

// retryGivenUpRefunds has an operator retry, through the API, the refunds the sweeps
// stopped retrying (they used up their attempts while the provider refused).
func (c *chaos) retryGivenUpRefunds() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(1, 7))
	r, ok := c.do(ctx, rng, "GET", "/api/internal/refunds?status=failed&page_size=100", c.f.op(), nil)
	if !ok || r.Status != 200 {
		return
	}
	items, _ := r.Body["items"].([]any)
	for _, it := range items {
		if it := it.(map[string]any); it["next_attempt_at"] == nil {
			c.retryRefundConcurrently(ctx, rng, it["id"].(string))
		}
	}
}

// retryRefundConcurrently has operators on every instance retry one refund at once: one
// attempt goes to the provider, the others are told it is in flight (409).
func (c *chaos) retryRefundConcurrently(ctx context.Context, rng *rand.Rand, id string) {
	var wg sync.WaitGroup
	for range 2 * len(c.f.nodes) {
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.do(ctx, rand.New(rand.NewPCG(seed, 9)), "POST", "/api/internal/refunds/"+id+"/retry", c.f.op(), nil)
		}()
	}
	wg.Wait()
}

// retryFailedRefunds retries, concurrently from every instance, the refunds the provider
// refused that the sweeps would retry later anyway.
func (c *chaos) retryFailedRefunds(ctx context.Context, rng *rand.Rand) {
	r, ok := c.do(ctx, rng, "GET", "/api/internal/refunds?status=failed&page_size=20", c.f.op(), nil)
	if !ok || r.Status != 200 {
		return
	}
	items, _ := r.Body["items"].([]any)
	for _, it := range items {
		c.scenario("refund retried from every instance at once")
		c.retryRefundConcurrently(ctx, rng, it.(map[string]any)["id"].(string))
	}
}

// nobodyFree is the reroute that finds nobody: its client's payments and what they
// must have given back.
type nobodyFree struct {
	clientID, session, chatPay, extPay string
}

// rerouteToNobody runs once the mitra agents stopped: a fresh mitra takes a 30-minute chat,
// the client buys 10 more minutes, the provider is told to refuse the next refunds, and an
// operator deactivates the mitra. Nobody accepts the prepaid blast that continues the
// chat: it fails and refunds floor(35000 × remaining / 40), retried by the sweeps.
func (c *chaos) rerouteToNobody(ctx context.Context) (nobodyFree, bool) {
	rng := rand.New(rand.NewPCG(99, 6))
	id, mitraTok, ok := c.chaosMitra(ctx, rng, "chaos mitra, the last one")
	if !ok {
		return nobodyFree{}, false
	}
	cl, ok := c.do(ctx, rng, "POST", "/api/internal/clients", c.f.op(), map[string]any{"display_name": "chaos client, the last one"})
	if !ok || cl.Status != 201 {
		return nobodyFree{}, false
	}
	var out nobodyFree
	out.clientID = cl.Body["id"].(string)
	t, ok := c.do(ctx, rng, "POST", "/api/internal/tokens", c.f.op(), map[string]any{"subject_kind": "client", "subject_id": out.clientID})
	if !ok || t.Status != 201 {
		return nobodyFree{}, false
	}
	clientTok := t.Body["token"].(string)
	c.do(ctx, rng, "POST", "/api/mitra/status/online", mitraTok, nil)
	start, ok := c.do(ctx, rng, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30}, "Idempotency-Key", uuid.NewString())
	if !ok || start.Status != 201 {
		return nobodyFree{}, false
	}
	out.chatPay = fleetObj(start.Body, "payment")["id"].(string)
	if !c.webhook(ctx, rng, out.chatPay, "paid") {
		return nobodyFree{}, false
	}
	if out.session = c.acceptOne(ctx, rng, mitraTok, fleetObj(start.Body, "pairing")["id"].(string), 15*time.Second); out.session == "" {
		return nobodyFree{}, false
	}
	ext, ok := c.do(ctx, rng, "POST", "/api/client/chat-sessions/"+out.session+"/extensions", clientTok, map[string]any{"minutes": 10})
	if !ok || ext.Status != 201 || fleetObj(ext.Body, "payment") == nil {
		return nobodyFree{}, false
	}
	out.extPay = fleetObj(ext.Body, "payment")["id"].(string)
	if !c.webhook(ctx, rng, out.extPay, "paid") {
		return nobodyFree{}, false
	}
	c.do(ctx, rng, "POST", "/api/internal/fake-gateway/refund-failures", c.f.op(), map[string]any{"count": 2})
	r, ok := c.do(ctx, rng, "PATCH", "/api/internal/mitras/"+id+"/status", c.f.op(), map[string]any{"is_active": false})
	if !ok || r.Status != 200 {
		return nobodyFree{}, false
	}
	c.scenario("reroute that finds nobody")
	return out, true
}

// nobodyFreeViolations checks the reroute that found nobody: its prepaid blast failed and
// refunded floor(35000 × its minutes / 40) from the extension first, then the chat.
func (c *chaos) nobodyFreeViolations(ctx context.Context, nf nobodyFree) []string {
	var status string
	var minutes, total int
	var amount int64
	var refundStatus string
	err := c.f.db.QueryRow(ctx, `SELECT pr.status, pr.minutes, cs.minutes, COALESCE(f.amount, -1), COALESCE(f.refund_status, '')
		FROM pairings pr
		JOIN chat_sessions cs ON cs.id = $2
		LEFT JOIN pairing_failures f ON f.pairing_id = pr.id
		WHERE pr.client_id = $1 AND pr.prepaid`, nf.clientID, nf.session).Scan(&status, &minutes, &total, &amount, &refundStatus)
	if err != nil {
		return []string{fmt.Sprintf("the reroute that found nobody: %v", err)}
	}
	want := int64(35000) * int64(minutes) / int64(total)
	var out []string
	if status != "failed" || amount != want || refundStatus != "refunded" {
		out = append(out, fmt.Sprintf("the reroute that found nobody: prepaid blast %s, failure amount %d (%s); want failed, %d = floor(35000 × %d / %d), refunded",
			status, amount, refundStatus, want, minutes, total))
	}
	var ext, chat int64
	if err := c.f.db.QueryRow(ctx, `SELECT (SELECT refunded_amount FROM payment_sessions WHERE id = $1),
		(SELECT refunded_amount FROM payment_sessions WHERE id = $2)`, nf.extPay, nf.chatPay).Scan(&ext, &chat); err != nil {
		return append(out, fmt.Sprintf("the reroute that found nobody: %v", err))
	}
	if ext != min(want, 10000) || chat != want-min(want, 10000) {
		out = append(out, fmt.Sprintf("the reroute that found nobody: extension refunded %d, chat %d; want %d from the extension first", ext, chat, want))
	}
	return out
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
	// Every charged payment ends in what it paid for (a chat session started, the extension
	// applied) or in refunds adding up to it; a delivered one may be refunded in part (the
	// unused minutes of a chat whose mitra was deactivated with nobody to take over).
	list("paid payment without exactly one outcome", `
		WITH charged AS (
			SELECT p.id, p.purpose, p.status, p.amount, p.refunded_amount,
				CASE WHEN p.purpose = 'chat_start' THEN
					(SELECT count(*) FROM pairings pr JOIN chat_sessions cs ON cs.pairing_id = pr.id
					 WHERE pr.id = p.pairing_id AND pr.payment_session_id = p.id AND pr.status = 'matched'
					 AND cs.started_at IS NOT NULL) = 1
				ELSE EXISTS (SELECT 1 FROM extensions e WHERE e.id = p.extension_id AND e.payment_session_id = p.id AND e.status = 'paid')
				END AS delivered
			FROM payment_sessions p WHERE p.paid_at IS NOT NULL AND p.amount > 0)
		SELECT id::text, purpose, status, amount, refunded_amount, delivered FROM charged
		WHERE NOT ((delivered AND status IN ('paid', 'partially_refunded', 'refunded') AND refunded_amount <= amount)
			OR (NOT delivered AND status = 'refunded' AND refunded_amount = amount))`)
	list("refunds of a payment adding up to more than its amount", `
		SELECT p.id::text, p.amount, sum(r.amount) FROM payment_refunds r JOIN payment_sessions p ON p.id = r.payment_id
		GROUP BY p.id, p.amount HAVING sum(r.amount) > p.amount`)
	list("refund not gone through", `SELECT id::text, payment_id::text, status, attempts, last_error FROM payment_refunds WHERE status <> 'succeeded'`)
	list("a partial refund of a chat that was not rerouted", `
		SELECT p.id::text FROM payment_sessions p JOIN pairings pr ON pr.id = p.pairing_id
		JOIN chat_sessions cs ON cs.pairing_id = pr.id
		WHERE p.purpose = 'chat_start' AND p.status = 'partially_refunded'
		AND cs.end_reason IS DISTINCT FROM 'mitra_deactivated' AND cs.end_reason IS DISTINCT FROM 'rerouted'
		AND NOT EXISTS (SELECT 1 FROM chat_sessions later WHERE later.rerouted_from_id = cs.id)`)
	// Nothing started or grew without a payment.
	list("chat session started without a paid chat_start", `
		SELECT cs.id::text, cs.status FROM chat_sessions cs JOIN pairings pr ON pr.id = cs.pairing_id
		WHERE cs.status IN ('active', 'ended') AND NOT pr.prepaid
		AND NOT EXISTS (SELECT 1 FROM payment_sessions p WHERE p.pairing_id = pr.id AND p.purpose = 'chat_start' AND p.paid_at IS NOT NULL
			AND pr.payment_session_id = p.id)`)
	list("continued chat session without the session it continues", `
		SELECT cs.id::text FROM chat_sessions cs JOIN pairings pr ON pr.id = cs.pairing_id
		WHERE pr.prepaid AND cs.status IN ('active', 'ended') AND cs.rerouted_from_id IS NULL`)
	list("extension applied without a paid payment", `
		SELECT e.id::text FROM extensions e LEFT JOIN payment_sessions p ON p.id = e.payment_session_id
		WHERE e.status = 'paid' AND p.paid_at IS NULL`)
	// Nobody charged twice: one paid chat_start per pairing, one session per pairing.
	list("pairing with two paid chat_start payments", `
		SELECT pairing_id::text, count(*) FROM payment_sessions WHERE purpose = 'chat_start' AND status IN ('paid', 'partially_refunded')
		GROUP BY pairing_id HAVING count(*) > 1`)
	list("pairing with two chat sessions", `
		SELECT pairing_id::text, count(*) FROM chat_sessions GROUP BY pairing_id HAVING count(*) > 1`)
	// A chat continued elsewhere carries every minute it had left, paid extensions included,
	// whatever raced its end (an extension's payment, the mitra's deactivation).
	list("continuation without the minutes its session had left", `
		SELECT cs.id::text, cs.end_reason, cs.ends_at, cs.ended_at, pr.minutes FROM chat_sessions cs
		JOIN pairings pr ON pr.prepaid AND pr.client_id = cs.client_id AND pr.created_at = cs.ended_at
		WHERE cs.end_reason IN ('rerouted', 'mitra_deactivated')
		AND pr.minutes <> LEAST(floor(extract(epoch FROM cs.ends_at - cs.ended_at) / 60), 1440)`)
	list("paid blast still searching", `
		SELECT pr.id::text FROM pairings pr JOIN payment_sessions p ON p.id = pr.payment_session_id
		WHERE pr.status = 'searching' AND p.status = 'paid'`)
	list("failed pairing whose refund shows as not gone through", `
		SELECT id::text, amount FROM pairing_failures WHERE refund_status = 'refund_failed'`)

	// Refunds at the provider: each succeeded refund made once, and exactly what the
	// payment rows say went back.
	rows, err := c.f.db.Query(ctx, `SELECT p.id, p.status, p.refunded_amount,
		(SELECT count(*) FROM payment_refunds r WHERE r.payment_id = p.id AND r.status = 'succeeded') FROM payment_sessions p`)
	if err == nil {
		for rows.Next() {
			var id uuid.UUID
			var status string
			var refunded int64
			var succeeded int
			if err := rows.Scan(&id, &status, &refunded, &succeeded); err != nil {
				break
			}
			if got := c.f.refundsFor(id); got != succeeded {
				out = append(out, fmt.Sprintf("payment %s (%s): %d refunds made by the provider, %d succeeded in the store", id, status, got, succeeded))
			}
			if got := c.f.gateway.RefundedAmount(id); got != refunded {
				out = append(out, fmt.Sprintf("payment %s (%s): the provider gave back %d, the store says %d", id, status, got, refunded))
			}
		}
		rows.Close()
	}
	if err != nil || rows.Err() != nil {
		out = append(out, fmt.Sprintf("list payments: %v %v", err, rows.Err()))
	}
	// The earnings ledger balances and breaks no invariant.
	books := ledger.NewPostgresStore(c.f.db)
	if b, err := books.Balance(ctx); err != nil || b.Imbalance != 0 {
		out = append(out, fmt.Sprintf("ledger imbalance %d (%v)", b.Imbalance, err))
	}
	findings, err := books.Check(ctx, time.Now())
	if err != nil {
		out = append(out, fmt.Sprintf("ledger check: %v", err))
	}
	for _, f := range findings {
		out = append(out, fmt.Sprintf("ledger: %s payment %v mitra %v txn %v %s %d", f.Reason, f.PaymentID, f.MitraID, f.TxnID, f.Account, f.Amount))
	}
	for _, u := range c.f.unsettled() {
		out = append(out, fmt.Sprintf("unsettled payment (Reconcile): %s %s %s amount %d refunded %d delivered %v failed refunds %d stuck %d",
			u.Payment.ID, u.Payment.Purpose, u.Payment.Status, u.Payment.Amount, u.Payment.RefundedAmount, u.Delivered,
			u.FailedRefunds, u.StuckRefunds))
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
		{"refunds", `SELECT status || '/attempts ' || attempts, count(*) FROM payment_refunds GROUP BY 1 ORDER BY 1`},
		{"prepaid pairings", `SELECT status || coalesce('/' || failure_reason, ''), count(*) FROM pairings WHERE prepaid GROUP BY 1 ORDER BY 1`},
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
	fmt.Fprintf(&b, "  gateway refunds: %d made, %d refused", len(c.f.gateway.Refunds()), c.f.gateway.RefusedRefunds())
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
	faults.Add(2)
	go func() { defer faults.Done(); c.inject(loadCtx) }()
	go func() { defer faults.Done(); c.refuseRefunds(loadCtx, 7) }()
	for k := range chaosClients {
		clients.Add(1)
		go func() { defer clients.Done(); c.clientAgent(loadCtx, drainCtx, uint64(100+k)) }()
	}
	clients.Add(1)
	go func() { defer clients.Done(); c.deactivationAgent(loadCtx, drainCtx, 200) }()
	faults.Wait() // the injector leaves both servers up
	clients.Wait()
	stopMitras()
	mitras.Wait()
	drained := drainCtx.Err() == nil
	// The mitras stopped: a chat whose mitra is deactivated now finds nobody.
	nobodyCtx, stopNobody := context.WithTimeout(context.Background(), 90*time.Second)
	nobody, nobodyRan := c.rerouteToNobody(nobodyCtx)
	stopNobody()
	loadEnded := time.Now()

	// The system heals by itself: the watchdog reseeds, the sweeps settle what the
	// outages left (blast deadlines, refunds: retried with backoff). A refund that used up
	// its attempts is retried by an operator. Poll until every invariant holds.
	var last []string
	healDeadline := time.Now().Add(90 * time.Second)
	for {
		last = c.violations()
		if nobodyRan {
			last = append(last, c.nobodyFreeViolations(context.Background(), nobody)...)
		}
		if len(last) == 0 || time.Now().After(healDeadline) {
			break
		}
		c.retryGivenUpRefunds()
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
	require.True(t, nobodyRan, "the reroute that finds nobody ran")
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
