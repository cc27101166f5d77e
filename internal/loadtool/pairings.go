package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curhat/curhat/internal/benchdata"
	"github.com/google/uuid"
)

// pairingEnv is the environment of the reference server in the pairing scenarios: mitras
// stay fresh without heartbeats, tokens stay verified for the whole run.
var pairingEnv = []string{"MITRA_HEARTBEAT_STALE_SECONDS=86400", "AUTH_CACHE_SECONDS=3600"}

// pairing-statements counts statementReps pairings at each fan-out, after statementWarm
// uncounted ones (the server's connections prepare their statements on first use).
const (
	statementReps = 5
	statementWarm = 3
)

// pairingStatements counts, on the wire, the Postgres round trips of one pairing from
// chat/start to matched (start, the webhook that pays it and offers it, one accept) for
// blasts offered to each -fanouts number of mitras.
func (t *tool) pairingStatements(ctx context.Context) error {
	fmt.Printf("# pairing-statements\n\n")
	fmt.Printf("Postgres statements (round trips on the wire: one per Sync or simple Query, less the pool's liveness pings of connections idle for over a second) of one pairing, %d pairings per fan-out after %d uncounted ones, each from a fresh client whose token "+
		"was verified before: chat/start, the webhook that pays it (and offers it to PAIRING_FANOUT_CAP mitras), one mitra's accept (its token verified beforehand, outside the count); "+
		"after each step the tool waits until the server has sent nothing to Postgres for %s, so that what a step leaves running counts as its own. "+
		"Ranges are min–max over the pairings; the goal compares the fewest (a statement the first time on a pooled connection adds a round trip).\n\n", statementReps, statementWarm, quietFor)
	fmt.Println("| fan-out | offers per blast | chat/start | webhook (pay + offers) | accept | per pairing | fewest | webhook p50 / max |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	maxF := slices.Max(t.o.fanouts)
	per := statementReps + statementWarm
	mitras := maxF + per*len(t.o.fanouts)
	logf("pairing-statements: creating the dataset (%d mitras)", mitras)
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, mitras, 0, mitras, per*len(t.o.fanouts))
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		fmt.Printf("| skipped: %v | | | | | | |\n\n", oneLine(err))
		return nil
	}
	tokenOf := map[uuid.UUID]string{}
	for i, id := range d.sample {
		tokenOf[id] = d.mitraToks[i]
	}
	var totals []float64
	var summary []string
	for k, f := range t.o.fanouts {
		if ctx.Err() != nil {
			fmt.Printf("| %d | skipped: %v | | | | | | |\n", f, context.Cause(ctx))
			continue
		}
		row, perPairing, err := t.statementsAt(ctx, d, f, d.clientToks[k*per:(k+1)*per], tokenOf)
		if err != nil {
			fmt.Printf("| %d | skipped: %v | | | | | | |\n", f, oneLine(err))
			continue
		}
		fmt.Println(row)
		fewest := slices.Min(perPairing)
		totals = append(totals, fewest)
		summary = append(summary, fmt.Sprintf("%d → %g", f, fewest))
	}
	fmt.Printf("\nFewest statements per pairing by fan-out: %s; the same at every fan-out (no statement per mitra): %s.\n\n",
		strings.Join(summary, ", "), check(len(summary) == len(t.o.fanouts) && sameCounts(totals)))
	return nil
}

func (t *tool) statementsAt(ctx context.Context, d *dataset, fanout int, clients []string, tokenOf map[uuid.UUID]string) (string, []float64, error) {
	s, err := t.startServer(ctx, d, fmt.Sprintf("statements-%d", fanout), append(pairingEnv, "PAIRING_FANOUT_CAP="+strconv.Itoa(fanout))...)
	if err != nil {
		return "", nil, err
	}
	defer s.close()
	if err := s.sessionTier(ctx); err != nil {
		return "", nil, err
	}
	if err := s.warm(ctx, "/api/client/mitra-availability", clients); err != nil {
		return "", nil, err
	}
	var start, pay, accept, total, offers []float64
	var webhook []time.Duration
	for k, tok := range clients {
		if k == statementWarm {
			start, pay, accept, total, offers, webhook = nil, nil, nil, nil, nil, nil
		}
		t.proxy.quiet(ctx)
		c0 := t.proxy.statements()
		pairingID, paymentID, err := s.startBlast(ctx, tok)
		if err != nil {
			return "", nil, err
		}
		c1 := t.proxy.statements()
		began := time.Now()
		if err := s.pay(ctx, paymentID); err != nil {
			return "", nil, err
		}
		webhook = append(webhook, time.Since(began))
		t.proxy.quiet(ctx) // what the webhook left running counts as the webhook's
		c2 := t.proxy.statements()
		var n int
		var mitra uuid.UUID
		if err := d.pool.QueryRow(ctx, `SELECT count(*), (array_agg(mitra_id))[1] FROM pairing_offers WHERE pairing_id = $1`, pairingID).Scan(&n, &mitra); err != nil {
			return "", nil, fmt.Errorf("offers of %s: %w", pairingID, err)
		}
		mtok, ok := tokenOf[mitra]
		if !ok {
			return "", nil, fmt.Errorf("no token for mitra %s", mitra)
		}
		if _, err := s.must(ctx, http.StatusOK, "GET", "/api/mitra/status", mtok, nil); err != nil {
			return "", nil, err
		}
		t.proxy.quiet(ctx)
		c3 := t.proxy.statements()
		if _, err := s.must(ctx, http.StatusOK, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", mtok, nil); err != nil {
			return "", nil, err
		}
		t.proxy.quiet(ctx) // and what the accept left running, the accept's
		c4 := t.proxy.statements()
		start = append(start, float64(c1-c0))
		pay = append(pay, float64(c2-c1))
		accept = append(accept, float64(c4-c3))
		total = append(total, float64(c2-c0+c4-c3))
		offers = append(offers, float64(n))
	}
	slices.Sort(webhook)
	return fmt.Sprintf("| %d | %s | %s | %s | %s | %s | **%g** | %s / %s |", fanout, minMax(offers), minMax(start), minMax(pay), minMax(accept), minMax(total),
		slices.Min(total), ms(percentile(webhook, 50)), ms(webhook[len(webhook)-1])), total, nil
}

// Accept burst: this many mitras accept one offer at once, this many times.
const (
	burstMitras = 100
	burstRounds = 10
)

// acceptBurst: 100 mitras accept one offer at the same instant; one gets 200, the others
// 409. Latency of each answer, from a barrier the 100 requests wait on, over pre-opened
// keep-alive connections.
func (t *tool) acceptBurst(ctx context.Context) error {
	fmt.Printf("# accept-burst\n\n")
	fmt.Printf("%d mitras accept the same offer at once (released together, connections open beforehand), %d blasts; the winner ends its session before the next.\n\n", burstMitras, burstRounds)
	fmt.Println("| answer | count | p50 / p99 | max |")
	fmt.Println("|---|---|---|---|")
	win, lose, other, err := t.acceptBurstRun(ctx)
	if err != nil {
		fmt.Printf("| skipped: %v | | | |\n\n", oneLine(err))
		return nil
	}
	row := func(name string, ds []time.Duration) {
		s := sortedCopy(ds)
		mx := "—"
		if len(s) > 0 {
			mx = ms(s[len(s)-1])
		}
		fmt.Printf("| %s | %d | %s | %s |\n", name, len(s), p50p99(s), mx)
	}
	row("winner's 200", win)
	row("losers' 409", lose)
	if len(other) > 0 {
		var parts []string
		for code, n := range other {
			parts = append(parts, fmt.Sprintf("%s: %d", code, n))
		}
		sort.Strings(parts)
		fmt.Printf("| other answers | %s | | |\n", strings.Join(parts, ", "))
	}
	fmt.Println()
	return nil
}

func (t *tool) acceptBurstRun(ctx context.Context) (win, lose []time.Duration, other map[string]int, err error) {
	other = map[string]int{}
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, burstMitras+20, 0, burstMitras, burstRounds)
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := t.startServer(ctx, d, "accept-burst", pairingEnv...)
	if err != nil {
		return nil, nil, nil, err
	}
	defer s.close()
	if err := s.sessionTier(ctx); err != nil {
		return nil, nil, nil, err
	}
	if err := s.warm(ctx, "/api/client/mitra-availability", d.clientToks); err != nil {
		return nil, nil, nil, err
	}
	// Open one keep-alive connection per mitra: all of them at once.
	if err := s.burst(ctx, d.mitraToks, func(i int) (int, string, error) {
		code, _, err := s.call(ctx, "GET", "/api/mitra/status", d.mitraToks[i], nil)
		return code, "", err
	}, nil); err != nil {
		return nil, nil, nil, err
	}
	var mu sync.Mutex
	for round := range burstRounds {
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		pairingID, paymentID, err := s.startBlast(ctx, d.clientToks[round])
		if err != nil {
			return nil, nil, nil, err
		}
		if err := s.pay(ctx, paymentID); err != nil {
			return nil, nil, nil, err
		}
		var n int
		if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM pairing_offers WHERE pairing_id = $1 AND mitra_id = ANY($2)`, pairingID, d.sample).Scan(&n); err != nil {
			return nil, nil, nil, err
		}
		if n != len(d.sample) {
			return nil, nil, nil, fmt.Errorf("round %d: %d of the %d mitras got the offer", round+1, n, len(d.sample))
		}
		var sessionID, winnerTok string
		err = s.burst(ctx, d.mitraToks, func(i int) (int, string, error) {
			code, m, err := s.call(ctx, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", d.mitraToks[i], nil)
			if code == http.StatusOK {
				id, _ := field(m, "chat_session", "id").(string)
				mu.Lock()
				sessionID, winnerTok = id, d.mitraToks[i]
				mu.Unlock()
			}
			return code, fmt.Sprint(field(m, "error", "code")), err
		}, func(code int, apiCode string, took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			switch code {
			case http.StatusOK:
				win = append(win, took)
			case http.StatusConflict:
				lose = append(lose, took)
			default:
				other[fmt.Sprintf("%d %s", code, apiCode)]++
			}
		})
		if err != nil {
			return nil, nil, nil, err
		}
		if sessionID == "" {
			return nil, nil, nil, fmt.Errorf("round %d: nobody won the offer", round+1)
		}
		if _, err := s.must(ctx, http.StatusOK, "POST", "/api/mitra/chat-sessions/"+sessionID+"/end", winnerTok, nil); err != nil {
			return nil, nil, nil, err
		}
	}
	return win, lose, other, nil
}

// burst runs op(i) for every token at the same instant (one goroutine each, released
// together) and reports each answer's status and latency.
func (s *refServer) burst(ctx context.Context, toks []string, op func(i int) (int, string, error), report func(code int, apiCode string, took time.Duration)) error {
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	errs := make([]error, len(toks))
	for i := range toks {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			began := time.Now()
			code, apiCode, err := op(i)
			took := time.Since(began)
			if err != nil {
				errs[i] = err
				return
			}
			if report != nil {
				report(code, apiCode, took)
			}
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Match throughput: mitras that accept every offer, and how long the clients load.
const (
	throughputMitras = 1000
	throughputWait   = 30 * time.Second // a client's bound on waiting for its match
	throughputWindow = 20 * time.Second // how long the clients start blasts
)

// matchThroughput: 1k mitras with an event stream each accept every offer the moment it
// is read (one at a time each; the winner ends its session at once, which frees it); 32
// clients start and pay blasts in a loop, each waiting for its match. Matched blasts per
// second and Postgres statements per match (the whole cycle: start, pay, every mitra's
// accept, the session's end).
func (t *tool) matchThroughput(ctx context.Context) error {
	window := throughputWindow
	fmt.Printf("# match-throughput\n\n")
	fmt.Printf("%d mitras with an open event stream each accept every offer they hold (one accept at a time per mitra, oldest first; an offer_dismissed read meanwhile withdraws it; the winner ends the session at once); "+
		"%d clients each start, pay and wait for the match (at most %s), in a loop, for %s; at its end the clients' calls are cut and the mitras stop accepting. "+
		"Matched: blasts accepted within the window (from the webhook request to the winner's 200); blasts paid: webhooks answered within it. Accepts and statements per match: every accept answered and every Postgres round trip of the window (starts, webhooks, all the accepts, the ends) / matches.\n\n",
		throughputMitras, t.o.concurrency, throughputWait, window)
	fmt.Println("| mitras | clients | blasts paid | matched | matched/s | webhook → matched p50 / p99 | accepts per match (200 + 409) | Postgres statements per match | waited out |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	res, err := t.matchThroughputRun(ctx, window, throughputOptions{})
	if err != nil {
		fmt.Printf("| %d | skipped: %v | | | | | | | |\n\n", throughputMitras, oneLine(err))
		return nil
	}
	fmt.Println(res.row)
	fmt.Println()
	return nil
}

// throughputOptions are what a match-throughput run adds to the marketplace it loads.
type throughputOptions struct {
	// history is how many past pairings (benchdata.History, over the last 24 hours) the
	// database holds before the run.
	history int
	// operator opens an operator's console during the window: the operators' event
	// stream (the dashboard's feed) and GET /api/internal/stats?window=24h every
	// statsEvery.
	operator   bool
	statsEvery time.Duration
}

// throughputResult is one run's table row and, with an operator, the latencies of its
// statistics reads (failed reads counted apart).
type throughputResult struct {
	row         string
	statsReads  []time.Duration
	statsFailed int
}

func (t *tool) matchThroughputRun(ctx context.Context, window time.Duration, o throughputOptions) (res throughputResult, err error) {
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, throughputMitras, 0, throughputMitras, t.o.concurrency)
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		return res, err
	}
	if o.history > 0 {
		logf("match-throughput: writing %d past pairings", o.history)
		if err := benchdata.History(ctx, d.pool, time.Now(), o.history, 24*time.Hour); err != nil {
			return res, fmt.Errorf("history: %w", err)
		}
	}
	s, err := t.startServer(ctx, d, "match-throughput", append(pairingEnv, "SSE_MAX_STREAMS="+strconv.Itoa(throughputMitras+1000))...)
	if err != nil {
		return res, err
	}
	defer s.close()
	if err := s.sessionTier(ctx); err != nil {
		return res, err
	}
	if err := s.warm(ctx, "/api/client/mitra-availability", d.clientToks); err != nil {
		return res, err
	}
	var mu sync.Mutex
	type wait struct {
		ch   chan struct{} // closed when matched
		paid time.Time     // when its webhook was sent
	}
	waiting := map[string]wait{}
	var matched atomic.Int64
	var lats []time.Duration
	var accepts atomic.Int64
	var acceptErr atomic.Value
	var stopped atomic.Bool // past the window: offers still queued on the streams are ignored
	accept := func(i int, pairingID string) {
		code, m, err := s.call(ctx, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", d.mitraToks[i], nil)
		if err != nil {
			if ctx.Err() == nil {
				acceptErr.CompareAndSwap(nil, err)
			}
			return
		}
		accepts.Add(1)
		if code != http.StatusOK {
			return
		}
		mu.Lock()
		if w, ok := waiting[pairingID]; ok {
			close(w.ch)
			delete(waiting, pairingID)
			if !stopped.Load() {
				matched.Add(1)
				lats = append(lats, time.Since(w.paid))
			}
		}
		mu.Unlock()
		if id, _ := field(m, "chat_session", "id").(string); id != "" {
			_, _, _ = s.call(ctx, "POST", "/api/mitra/chat-sessions/"+id+"/end", d.mitraToks[i], nil)
		}
	}
	// Each mitra is an app: its stream's reader keeps the offers it holds (an offer leaves
	// on its offer_dismissed), its worker accepts them one at a time, oldest first.
	apps := make([]*mitraApp, len(d.mitraToks))
	appsDone := make(chan struct{})
	var workers sync.WaitGroup
	for i := range apps {
		apps[i] = &mitraApp{wake: make(chan struct{}, 1)}
		workers.Add(1)
		go func() {
			defer workers.Done()
			apps[i].work(appsDone, func(id string) {
				if !stopped.Load() {
					accept(i, id)
				}
			})
		}()
	}
	defer func() {
		close(appsDone)
		workers.Wait()
	}()
	onEvent := func(i int, kind string, data []byte, _ time.Time) {
		switch kind {
		case "pairing_offer":
			apps[i].offered(pairingIDOf(data))
		case "offer_dismissed":
			apps[i].dismissed(pairingIDOf(data))
		}
	}
	logf("match-throughput: opening %d streams", throughputMitras)
	ss, err := openStreams(ctx, s.addr, "/api/mitra/events", d.mitraToks, onEvent)
	if err != nil {
		return res, err
	}
	defer ss.close()

	if o.operator {
		// The console's dashboard: its event stream (the instance's watcher reads the
		// counts every second, the costlier figures every 10 s, the 5-minute statistics
		// every 5 s while it is open).
		ops, err := openStreams(ctx, s.addr, "/api/internal/events", []string{s.opToken}, func(int, string, []byte, time.Time) {})
		if err != nil {
			return res, fmt.Errorf("operator stream: %w", err)
		}
		defer ops.close()
	}

	var missed, paidN atomic.Int64
	var firstErr atomic.Value
	trips0, accepts0 := t.proxy.statements(), accepts.Load()
	// The window: the clients' calls are cut at its end; what the server did by then counts.
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var trips, acceptsIn atomic.Int64
	snapped := make(chan struct{})
	stop := time.AfterFunc(window, func() {
		stopped.Store(true)
		trips.Store(t.proxy.statements() - trips0)
		acceptsIn.Store(accepts.Load() - accepts0)
		close(snapped)
	})
	defer stop.Stop()
	var wg sync.WaitGroup
	if o.operator {
		wg.Go(func() {
			tick := time.NewTicker(o.statsEvery)
			defer tick.Stop()
			for {
				select {
				case <-wctx.Done():
					return
				case <-tick.C:
				}
				began := time.Now()
				code, _, err := s.call(wctx, "GET", "/api/internal/stats?window=24h", s.opToken, nil)
				switch {
				case wctx.Err() != nil:
					return
				case err != nil || code != http.StatusOK:
					res.statsFailed++
				default:
					res.statsReads = append(res.statsReads, time.Since(began))
				}
			}
		})
	}
	for w := range t.o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := d.clientToks[w]
			for wctx.Err() == nil {
				pairingID, paymentID, err := s.startBlast(wctx, tok)
				if err != nil {
					if wctx.Err() == nil {
						firstErr.CompareAndSwap(nil, err)
					}
					return
				}
				ch := make(chan struct{})
				mu.Lock()
				waiting[pairingID] = wait{ch: ch, paid: time.Now()}
				mu.Unlock()
				if err := s.pay(wctx, paymentID); err != nil {
					if wctx.Err() == nil {
						firstErr.CompareAndSwap(nil, err)
					}
					return
				}
				paidN.Add(1)
				if waitFor(wctx, ch, throughputWait) {
					continue
				}
				if wctx.Err() != nil {
					return // the window ended: the server stops with its blasts as they are
				}
				missed.Add(1)
				mu.Lock()
				delete(waiting, pairingID)
				mu.Unlock()
				// Not matched in time (nobody was free, or it failed): end it so that the
				// client may start again.
				_, _, _ = s.call(wctx, "POST", "/api/client/chat/cancel", tok, map[string]any{"pairing_id": pairingID})
			}
		}()
	}
	wg.Wait()
	select {
	case <-snapped:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if v := firstErr.Load(); v != nil {
		return res, v.(error)
	}
	if v := acceptErr.Load(); v != nil {
		logf("match-throughput: an accept failed: %v", v)
	}
	m := matched.Load()
	mu.Lock()
	lats = slices.Clone(lats)
	mu.Unlock()
	perMatch := func(x int64) string {
		if m == 0 {
			return fmt.Sprintf("— (%d in all)", x)
		}
		return fmt.Sprintf("%.1f", float64(x)/float64(m))
	}
	res.row = fmt.Sprintf("| %d | %d | %d | %d | **%.2f/s** | %s | %s | **%s** | %d |", throughputMitras, t.o.concurrency, paidN.Load(), m,
		float64(m)/window.Seconds(), p50p99(lats), perMatch(acceptsIn.Load()), perMatch(trips.Load()), missed.Load())
	return res, nil
}

// mitraApp holds the offers a mitra's app has and not yet tried.
type mitraApp struct {
	mu      sync.Mutex
	pending []string
	wake    chan struct{}
}

func (a *mitraApp) offered(id string) {
	a.mu.Lock()
	a.pending = append(a.pending, id)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *mitraApp) dismissed(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := slices.Index(a.pending, id); i >= 0 {
		a.pending = slices.Delete(a.pending, i, i+1)
	}
}

// next takes the oldest offer held ("" when none).
func (a *mitraApp) next() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
		return ""
	}
	id := a.pending[0]
	a.pending = a.pending[1:]
	return id
}

// work accepts the offers as they come, one at a time, until done is closed.
func (a *mitraApp) work(done <-chan struct{}, accept func(id string)) {
	for {
		select {
		case <-done:
			return
		case <-a.wake:
		}
		for id := a.next(); id != ""; id = a.next() {
			select {
			case <-done:
				return
			default:
			}
			accept(id)
		}
	}
}
