package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// deliveryGoal: the last mitra's p99 within this factor of the bare broadcaster's.
const deliveryGoal = 2.0

// blastWait bounds the wait for one blast's events on every stream.
const blastWait = 30 * time.Second

// tracker follows the offers (and their dismissals) of the blasts in flight, from the
// events the streams read.
type tracker struct {
	mu   sync.Mutex
	byID map[string]*blastTrack
}

type blastTrack struct {
	sent              time.Time
	expected          int // offers the server made (0 until known)
	offers, dismissed int
	first, last       time.Duration
	done, quiet       chan struct{} // every offer read; every dismissal read
	doneShut          bool
	quietShut         bool
}

func newTracker() *tracker { return &tracker{byID: map[string]*blastTrack{}} }

// add starts following a blast: its events count from now on.
func (tr *tracker) add(id string, expected int) *blastTrack {
	b := &blastTrack{expected: expected, done: make(chan struct{}), quiet: make(chan struct{})}
	tr.mu.Lock()
	tr.byID[id] = b
	tr.mu.Unlock()
	return b
}

func (tr *tracker) remove(id string) {
	tr.mu.Lock()
	delete(tr.byID, id)
	tr.mu.Unlock()
}

// sent marks when the blast's trigger (webhook, broadcast) was sent.
func (tr *tracker) sent(b *blastTrack, at time.Time) {
	tr.mu.Lock()
	b.sent = at
	tr.mu.Unlock()
}

// expect sets how many offers the server made.
func (tr *tracker) expect(b *blastTrack, n int) {
	tr.mu.Lock()
	b.expected = n
	b.check()
	tr.mu.Unlock()
}

func (tr *tracker) event(_ int, kind string, data []byte, at time.Time) {
	if kind != "pairing_offer" && kind != "offer_dismissed" {
		return
	}
	id := pairingIDOf(data)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	b := tr.byID[id]
	if b == nil {
		return
	}
	if kind == "offer_dismissed" {
		b.dismissed++
	} else {
		b.offers++
		lat := at.Sub(b.sent)
		if b.offers == 1 || lat < b.first {
			b.first = lat
		}
		b.last = max(b.last, lat)
	}
	b.check()
}

func (b *blastTrack) check() {
	if b.expected <= 0 {
		return
	}
	if !b.doneShut && b.offers >= b.expected {
		b.doneShut = true
		close(b.done)
	}
	if !b.quietShut && b.dismissed >= b.expected {
		b.quietShut = true
		close(b.quiet)
	}
}

// snapshot reads what the blast saw so far.
func (tr *tracker) snapshot(b *blastTrack) (offers int, first, last time.Duration) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return b.offers, b.first, b.last
}

func waitFor(ctx context.Context, ch <-chan struct{}, limit time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	case <-time.After(limit):
		return false
	}
}

// deliverySide is what one side (reference server, bare broadcaster) saw at one N.
type deliverySide struct {
	first, last     []time.Duration // per blast that reached every stream
	incomplete      int             // blasts that did not reach every stream in time
	events, offered int             // offer events read / expected, over all blasts
	fanout          []int           // offers made per blast
}

func (s *deliverySide) add(offers, expected int, first, last time.Duration) {
	s.events += offers
	s.offered += expected
	s.fanout = append(s.fanout, expected)
	if offers < expected || expected == 0 {
		s.incomplete++
		return
	}
	s.first = append(s.first, first)
	s.last = append(s.last, last)
}

// offerDelivery: N mitras online with an open event stream each; K clients start and pay
// blasts through the webhook, one after another; from the webhook request to the offer
// read on each stream, to the first and to the last mitra. Beside it, the bare
// broadcaster writes the same bytes to N streams of its own.
func (t *tool) offerDelivery(ctx context.Context) error {
	fmt.Printf("# offer-delivery\n\n")
	fmt.Printf("%d paid blasts per stream count, one at a time: from the webhook request (bare: the broadcast request) to the `pairing_offer` event read on each stream; "+
		"first and last mitra of each blast, p50 / p99 over the blasts. Between two blasts the client cancels and the tool waits for every `offer_dismissed`.\n\n", t.o.blasts)
	fmt.Println("| streams | side | blasts complete | offers per blast | first mitra p50 / p99 | last mitra p50 / p99 | last p99 vs bare | goal |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, n := range t.o.streams {
		if ctx.Err() != nil {
			fmt.Printf("| %d | skipped: %v | | | | | | |\n", n, context.Cause(ctx))
			continue
		}
		srv, bare, note, err := t.deliveryAt(ctx, n)
		if err != nil {
			fmt.Printf("| %d | skipped: %v | | | | | | |\n", n, oneLine(err))
			continue
		}
		ratio, met := withinFactor(percentile(sortedCopy(srv.last), 99), percentile(sortedCopy(bare.last), 99), deliveryGoal)
		goal := fmt.Sprintf("≤ %.0f× %s", deliveryGoal, check(met && srv.incomplete == 0 && len(srv.last) > 0 && len(bare.last) > 0))
		fmt.Printf("| %d | reference server%s | %d of %d | %s | %s | %s | %.2f× | %s |\n", n, note, len(srv.last), len(srv.last)+srv.incomplete,
			minMax(intsToFloats(srv.fanout)), p50p99(srv.first), p50p99(srv.last), ratio, goal)
		fmt.Printf("| %d | bare broadcaster | %d of %d | %s | %s | %s | | |\n", n, len(bare.last), len(bare.last)+bare.incomplete,
			minMax(intsToFloats(bare.fanout)), p50p99(bare.first), p50p99(bare.last))
	}
	fmt.Println()
	return nil
}

func intsToFloats(xs []int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// deliveryAt measures offer delivery to n streams. When the open-file limit lets the tool
// hold both sets of streams at once the two sides alternate blast by blast; otherwise the
// reference server's blasts run first, then the bare broadcaster's (note says so).
func (t *tool) deliveryAt(ctx context.Context, n int) (srv, bare deliverySide, note string, err error) {
	logf("offer-delivery, %d streams: creating the dataset", n)
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, n, 0, n, t.o.blasts)
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		return srv, bare, "", err
	}
	s, err := t.startServer(ctx, d, fmt.Sprintf("delivery-%d", n), "SSE_MAX_STREAMS="+strconv.Itoa(n+1000),
		"MITRA_HEARTBEAT_STALE_SECONDS=86400", "AUTH_CACHE_SECONDS=3600")
	if err != nil {
		return srv, bare, "", err
	}
	defer s.close()
	if err := s.sessionTier(ctx); err != nil {
		return srv, bare, "", err
	}
	if err := s.warm(ctx, "/api/client/mitra-availability", d.clientToks); err != nil {
		return srv, bare, "", err
	}
	if len(d.mitraToks) != n {
		return srv, bare, "", fmt.Errorf("%d mitra tokens for %d streams", len(d.mitraToks), n)
	}

	tr := newTracker()
	bareTokens := make([]string, n) // the bare server checks no token
	interleave := fileLimit() == 0 || uint64(2*n+1000) < fileLimit()
	openServer := func() (*streamSet, error) {
		logf("offer-delivery: opening %d streams to the reference server", n)
		began := time.Now()
		ss, err := openStreams(ctx, s.addr, "/api/mitra/events", d.mitraToks, tr.event)
		if err == nil {
			logf("offer-delivery: %d streams open in %s", n, time.Since(began).Round(time.Millisecond))
		}
		return ss, err
	}
	openBare := func() (*streamSet, error) {
		logf("offer-delivery: opening %d streams to the bare broadcaster", n)
		return openStreams(ctx, strings.TrimPrefix(t.bareURL, "http://"), "/sse", bareTokens, tr.event)
	}
	serverBlast := func(i int) error {
		tok := d.clientToks[i%len(d.clientToks)]
		pairingID, paymentID, err := s.startBlast(ctx, tok)
		if err != nil {
			return err
		}
		b := tr.add(pairingID, 0)
		defer tr.remove(pairingID)
		tr.sent(b, time.Now())
		if err := s.pay(ctx, paymentID); err != nil {
			return err
		}
		var offered int
		if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM pairing_offers WHERE pairing_id = $1`, pairingID).Scan(&offered); err != nil {
			return err
		}
		tr.expect(b, offered)
		waitFor(ctx, b.done, blastWait)
		got, first, last := tr.snapshot(b)
		srv.add(got, offered, first, last)
		if err := s.cancel(ctx, tok, pairingID); err != nil {
			return err
		}
		if offered > 0 && !waitFor(ctx, b.quiet, blastWait) {
			logf("offer-delivery: blast %d: not every offer_dismissed read within %s", i, blastWait)
		}
		return ctx.Err()
	}
	bareBlast := func() error {
		id := uuid.NewString()
		now := time.Now().UTC()
		payload := fmt.Sprintf("event: pairing_offer\ndata: {\"kind\":\"pairing_offer\",\"data\":{\"expires_at\":%q,\"minutes\":%d,\"pairing_id\":%q,\"queued\":false,\"type\":\"blast\"},\"at\":%q}\n\n",
			now.Add(5*time.Minute).Format(time.RFC3339Nano), blastMinutes, id, now.Format(time.RFC3339Nano))
		b := tr.add(id, n)
		defer tr.remove(id)
		req, _ := http.NewRequestWithContext(ctx, "POST", t.bareURL+"/broadcast", strings.NewReader(payload))
		tr.sent(b, time.Now())
		resp, err := s.hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("broadcast: status %d", resp.StatusCode)
		}
		waitFor(ctx, b.done, blastWait)
		got, first, last := tr.snapshot(b)
		bare.add(got, n, first, last)
		return ctx.Err()
	}

	if interleave {
		ss, err := openServer()
		if err != nil {
			return srv, bare, "", err
		}
		defer ss.close()
		bs, err := openBare()
		if err != nil {
			return srv, bare, "", err
		}
		defer bs.close()
		for i := range t.o.blasts {
			if err := serverBlast(i); err != nil {
				return srv, bare, "", err
			}
			if err := bareBlast(); err != nil {
				return srv, bare, "", err
			}
		}
		if k := ss.dropped.Load(); k > 0 {
			note = fmt.Sprintf(" (%d streams dropped)", k)
		}
		return srv, bare, note, nil
	}
	note = " (then the bare side: both sets of streams exceed the open-file limit)"
	ss, err := openServer()
	if err != nil {
		return srv, bare, "", err
	}
	for i := range t.o.blasts {
		if err := serverBlast(i); err != nil {
			ss.close()
			return srv, bare, "", err
		}
	}
	if k := ss.dropped.Load(); k > 0 {
		note += fmt.Sprintf(" (%d streams dropped)", k)
	}
	ss.close()
	bs, err := openBare()
	if err != nil {
		return srv, bare, "", err
	}
	defer bs.close()
	for range t.o.blasts {
		if err := bareBlast(); err != nil {
			return srv, bare, "", err
		}
	}
	return srv, bare, note, nil
}

// streamCostGoal is the most an idle stream may cost the server.
const streamCostGoal = 16 << 10

// streamCost opens the largest -streams count of idle mitra event streams to a reference
// server started with GOGC lowered (so that the live heap is re-marked soon after), and
// reads the growth of its live heap and goroutine stacks from /metrics.
func (t *tool) streamCost(ctx context.Context) error {
	n := 0
	for _, x := range t.o.streams {
		n = max(n, x)
	}
	const gogc = 10
	fmt.Printf("# stream-cost\n\n")
	fmt.Printf("%d idle mitra event streams; the server runs with GOGC=%d so that a GC re-marks the heap soon after the streams open, and the tokens are verified before the first sample (their cache is not the streams' cost). "+
		"Per stream = Δ(live heap + goroutine stacks) / streams, from runtime/metrics in /metrics, each sample read once two GC cycles have completed since it was asked for.\n\n", n, gogc)
	fmt.Println("| streams | live heap before → after | stacks before → after | goroutines per stream | heap objects Δ per stream | per idle stream | goal |")
	fmt.Println("|---|---|---|---|---|---|---|")
	row, err := t.streamCostAt(ctx, n, gogc)
	if err != nil {
		fmt.Printf("| %d | skipped: %v | | | | | |\n\n", n, oneLine(err))
		return nil
	}
	fmt.Println(row)
	fmt.Println()
	return nil
}

func (t *tool) streamCostAt(ctx context.Context, n, gogc int) (string, error) {
	logf("stream-cost, %d streams: creating the dataset", n)
	d, err := createDataset(ctx, t.admin, t.o.databaseURL, n, 0, n, 1)
	if d != nil {
		defer d.drop(t.admin, t.valkey)
	}
	if err != nil {
		return "", err
	}
	s, err := t.startServer(ctx, d, "stream-cost", "GOGC="+strconv.Itoa(gogc), "SSE_MAX_STREAMS="+strconv.Itoa(n+1000),
		"MITRA_HEARTBEAT_STALE_SECONDS=86400", "AUTH_CACHE_SECONDS=3600")
	if err != nil {
		return "", err
	}
	defer s.close()
	logf("stream-cost: verifying %d tokens", n)
	if err := s.warm(ctx, "/api/mitra/status", d.mitraToks); err != nil {
		return "", err
	}
	before, err := s.afterGC(ctx)
	if err != nil {
		return "", err
	}
	logf("stream-cost: opening %d streams", n)
	ss, err := openStreams(ctx, s.addr, "/api/mitra/events", d.mitraToks, func(int, string, []byte, time.Time) {})
	if err != nil {
		return "", err
	}
	defer ss.close()
	after, err := s.afterGC(ctx)
	if err != nil {
		return "", err
	}
	if k := ss.dropped.Load(); k > 0 {
		return "", fmt.Errorf("%d of %d streams dropped while measuring", k, n)
	}
	per := perStream(before, after, n)
	return fmt.Sprintf("| %d | %s → %s | %s → %s | %.2f | %s | **%s** | ≤ 16 KiB %s |", n,
		bytesIEC(before.liveHeap), bytesIEC(after.liveHeap), bytesIEC(before.stacks), bytesIEC(after.stacks),
		(after.goroutines-before.goroutines)/float64(n), bytesIEC((after.objects-before.objects)/float64(n)),
		bytesIEC(per), check(per <= streamCostGoal)), nil
}

// afterGC polls /metrics (each scrape allocates, which brings the next GC closer) until
// two GC cycles have completed since the call, so that the live heap was marked after it,
// and returns that sample; bounded by a minute.
func (s *refServer) afterGC(ctx context.Context) (runtimeSample, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m, err := s.metrics(ctx, runtimeMetricNames...)
	if err != nil {
		return runtimeSample{}, err
	}
	start := sampleOf(m).gcCycles
	for {
		select {
		case <-ctx.Done():
			return runtimeSample{}, fmt.Errorf("no GC cycle completed within a minute (%v)", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		m, err := s.metrics(ctx, runtimeMetricNames...)
		if err != nil {
			return runtimeSample{}, err
		}
		if sm := sampleOf(m); sm.gcCycles >= start+2 {
			return sm, nil
		}
	}
}
