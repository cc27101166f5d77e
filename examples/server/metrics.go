package main

// Prometheus metrics of the reference server. The SDK packages know nothing of Prometheus:
// they report through hooks, structs of optional funcs (sweeps.Hooks, availability.Hooks,
// payment.Hooks, pairing.Hooks), and this file turns those calls into series on a private
// registry, served at GET /metrics.
//
// GET /metrics is public, on the API port by default, like /healthz: Prometheus scrapers
// usually carry no bearer token, and nothing in it names a client, a mitra or an amount.
// With METRICS_ADDR it is served on that address only (a port the proxy does not expose)
// and the API port answers 404 for it.

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/sweeps"
)

const metricsNamespace = "curhat"

// Drift is checked at scrape time, at most once per driftMaxAge (a check reads every
// mitra from Postgres and Valkey: O(mitras)), and never for longer than driftTimeout. The
// ledger's imbalance (the balance sums every ledger line) and the payouts by status are
// read the same way.
const (
	driftMaxAge  = 30 * time.Second
	driftTimeout = 2 * time.Second
)

// requestBuckets span a Valkey-only heartbeat (well under a millisecond) to a slow
// Postgres write.
var requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// promMetrics implements metrics (requests, sweeps) and the funcs of the availability,
// payment and pairing hooks on a private registry, and serves it.
type promMetrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	requests       *prometheus.HistogramVec
	sweepRuns      *prometheus.CounterVec
	sweepDuration  *prometheus.HistogramVec
	sweepCounts    *prometheus.CounterVec
	fallbacks      *prometheus.CounterVec
	writeFailures  *prometheus.CounterVec
	seeds          *prometheus.CounterVec
	seedMitras     prometheus.Gauge
	refunds        *prometheus.CounterVec
	refundedAmount prometheus.Counter

	// The pairing policies: how long paid blasts waited in the queue, the ring a blast
	// matched at, mitras taken offline after missed offers; the queue's length is read at
	// scrape time.
	queueWait   *prometheus.HistogramVec
	ringMatched prometheus.Histogram
	mitrasAway  *prometheus.CounterVec

	auditFailures prometheus.Counter

	drift   *driftCollector
	ledger  *imbalanceCollector
	payouts *payoutsCollector
	waiting *waitingCollector
}

// queueWaitBuckets span a queue that empties within seconds to the longest wait allowed
// (pairing_queue_max_wait_seconds, 3600).
var queueWaitBuckets = []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600}

// scrapeSources are what the metrics read at scrape time.
type scrapeSources struct {
	// Drift reports the mirror's drift: a nil report when there is no Valkey mirror to
	// compare.
	Drift func(ctx context.Context) (*availability.DriftReport, error)
	// QueueLength counts the pairing queue.
	QueueLength func(ctx context.Context) (int, error)
	// Imbalance sums every signed line of the earnings ledger.
	Imbalance func(ctx context.Context) (int64, error)
	// Payouts counts the payouts by status and sums what was paid out.
	Payouts func(ctx context.Context) (payout.Stats, error)
	// Waiting counts the paid blasts waiting for a mitra and the longest wait.
	Waiting func(ctx context.Context) (pairing.Waiting, error)
}

// newPromMetrics builds the registry over what src reads at scrape time.
func newPromMetrics(log *slog.Logger, src scrapeSources) *promMetrics {
	m := &promMetrics{registry: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.registry.MustRegister(c) }
	ns := metricsNamespace

	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "http_request_duration_seconds",
		Help:    "Time to serve a request, by route pattern and status class (SSE routes: the life of the stream).",
		Buckets: requestBuckets,
	}, []string{"route", "class"})
	m.sweepRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "sweep_runs_total",
		Help: "Sweep cycles by outcome: ok, error, or skipped (another instance held the lock).",
	}, []string{"sweep", "outcome"})
	m.sweepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "sweep_duration_seconds",
		Help:    "Duration of the sweep cycles that ran.",
		Buckets: prometheus.ExponentialBuckets(.001, 4, 9), // 1 ms .. 65 s
	}, []string{"sweep"})
	m.sweepCounts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "sweep_items_total",
		Help: "What the sweeps did, by sweep and count name (e.g. auto_offline/offlined).",
	}, []string{"sweep", "count"})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "valkey_fallbacks_total",
		Help: "Reads answered from Postgres because Valkey failed, by operation.",
	}, []string{"op"})
	m.writeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "valkey_write_failures_total",
		Help: "Valkey mirror writes that failed after the Postgres commit (drift until the reseed), by operation.",
	}, []string{"op"})
	m.seeds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "valkey_seeds_total",
		Help: "Rebuilds of the Valkey mirror from Postgres, by outcome.",
	}, []string{"outcome"})
	m.seedMitras = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "valkey_seed_mitras",
		Help: "Mitras read by the last successful seed.",
	})
	m.refunds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "payment_refunds_total",
		Help: "Refunds asked of the payment gateway, by outcome (issued, failed).",
	}, []string{"outcome"})
	m.refundedAmount = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "payment_refunded_amount_total",
		Help: "Sum of the amounts refunded (minor units of the payment currency).",
	})
	m.queueWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "pairing_queue_wait_seconds",
		Help:    "How long paid blasts waited in the queue, from their payment, by how they left it (matched, timeout, cancelled).",
		Buckets: queueWaitBuckets,
	}, []string{"outcome"})
	m.ringMatched = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Name: "pairing_ring_at_match",
		Help:    "The ring (0 for the first) a blast offered ring by ring had reached when it matched.",
		Buckets: []float64{0, 1, 2, 3, 5, 10, 20},
	})
	m.mitrasAway = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "mitras_sent_away_total",
		Help: "Mitras taken offline by the system, by reason (missed_offers).",
	}, []string{"reason"})
	m.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "audit_failures_total",
		Help: "Operator writes whose audit row could not be stored (the write stands; its row is in the error log).",
	})
	queueLen := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Name: "pairing_queue_length",
		Help: "Paid blasts waiting in the queue (read at scrape time; -1 when it cannot be counted).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), driftTimeout)
		defer cancel()
		n, err := src.QueueLength(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.requests, m.sweepRuns, m.sweepDuration, m.sweepCounts, m.fallbacks,
		m.writeFailures, m.seeds, m.seedMitras, m.refunds, m.refundedAmount, m.queueWait, m.ringMatched, m.mitrasAway, m.auditFailures, queueLen} {
		f(c)
	}
	for _, outcome := range []pairing.QueueOutcome{pairing.QueueMatched, pairing.QueueTimedOut, pairing.QueueCancelled} {
		m.queueWait.WithLabelValues(string(outcome))
	}
	m.mitrasAway.WithLabelValues(pairing.AwayMissedOffers)
	for _, outcome := range []string{"ok", "error"} {
		m.seeds.WithLabelValues(outcome)
	}
	for _, outcome := range []string{"issued", "failed"} {
		m.refunds.WithLabelValues(outcome)
	}
	m.drift = &driftCollector{check: src.Drift, maxAge: driftMaxAge, timeout: driftTimeout}
	f(m.drift)
	m.ledger = &imbalanceCollector{scrapeRead[int64]{read: src.Imbalance, maxAge: driftMaxAge, timeout: driftTimeout}}
	f(m.ledger)
	m.payouts = &payoutsCollector{scrapeRead[payout.Stats]{read: src.Payouts, maxAge: driftMaxAge, timeout: driftTimeout}}
	f(m.payouts)
	// Read at every scrape (one indexed read of the open pairings), both gauges from it.
	m.waiting = &waitingCollector{scrapeRead[pairing.Waiting]{read: src.Waiting, timeout: driftTimeout}}
	f(m.waiting)
	// The Go runtime's own figures, and from runtime/metrics the live heap, goroutine stacks
	// and goroutines: what one idle event stream costs is their growth per stream.
	f(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{
		Matcher: runtimeMetrics,
	})))
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError, // a failed collector must not hide the others
		Registry:      m.registry,               // promhttp's own scrape counters
	})
	return m
}

// RequestDone implements metrics.
func (m *promMetrics) RequestDone(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, statusClass(status)).Observe(d.Seconds())
}

// statusClasses label the status classes; 0 stands for a handler that wrote nothing
// (net/http answers 200 then).
var statusClasses = [...]string{"2xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(status int) string {
	if c := status / 100; c >= 0 && c < len(statusClasses) {
		return statusClasses[c]
	}
	return "5xx"
}

// requestTimer implements routeTimers: the route's histograms are looked up once, not on
// every request. The 2xx, 4xx and 5xx series exist from the start (a 5xx alert needs no
// first failure to have a series); 1xx and 3xx, which no route answers today, are looked
// up when they happen.
func (m *promMetrics) requestTimer(route string) func(status int, d time.Duration) {
	var byClass [len(statusClasses)]prometheus.Observer
	for _, c := range []int{2, 4, 5} {
		byClass[c] = m.requests.WithLabelValues(route, statusClasses[c])
	}
	byClass[0] = byClass[2]
	return func(status int, d time.Duration) {
		if c := status / 100; c >= 0 && c < len(byClass) && byClass[c] != nil {
			byClass[c].Observe(d.Seconds())
			return
		}
		m.RequestDone(route, status, d)
	}
}

// routeTimers is implemented by metrics that can resolve a route's series in advance.
type routeTimers interface {
	requestTimer(route string) func(status int, d time.Duration)
}

// requestTimer returns what records a request of route in m.
func requestTimer(m metrics, route string) func(status int, d time.Duration) {
	if rt, ok := m.(routeTimers); ok {
		return rt.requestTimer(route)
	}
	return func(status int, d time.Duration) { m.RequestDone(route, status, d) }
}

// SweepRun implements metrics (the App hands it to sweeps.Hooks).
func (m *promMetrics) SweepRun(name string, r sweeps.Report, err error) {
	switch {
	case r.Skipped:
		m.sweepRuns.WithLabelValues(name, "skipped").Inc()
		return
	case err != nil:
		m.sweepRuns.WithLabelValues(name, "error").Inc()
	default:
		m.sweepRuns.WithLabelValues(name, "ok").Inc()
	}
	m.sweepDuration.WithLabelValues(name).Observe(r.Duration.Seconds())
	for k, n := range r.Counts {
		if n > 0 {
			m.sweepCounts.WithLabelValues(name, k).Add(float64(n))
		} else {
			m.sweepCounts.WithLabelValues(name, k) // the series exists from the first run
		}
	}
}

func (m *promMetrics) AuditFailed() { m.auditFailures.Inc() }

func (m *promMetrics) valkeyFallback(op string, _ error) { m.fallbacks.WithLabelValues(op).Inc() }

func (m *promMetrics) valkeyWriteFailed(op string, _ error) {
	m.writeFailures.WithLabelValues(op).Inc()
}

func (m *promMetrics) seeded(r availability.SeedReport, err error) {
	if err != nil {
		m.seeds.WithLabelValues("error").Inc()
		return
	}
	m.seeds.WithLabelValues("ok").Inc()
	m.seedMitras.Set(float64(r.Mitras))
}

func (m *promMetrics) refundIssued(_ context.Context, r payment.Refund) {
	m.refunds.WithLabelValues("issued").Inc()
	m.refundedAmount.Add(float64(r.Amount))
}

func (m *promMetrics) refundFailed(context.Context, payment.Refund, error) {
	m.refunds.WithLabelValues("failed").Inc()
}

func (m *promMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// pairingHooks returns the pairing policy hooks of the server's metrics.
func pairingHooks(m metrics) pairing.Hooks {
	p, ok := m.(*promMetrics)
	if !ok {
		return pairing.Hooks{}
	}
	return pairing.Hooks{
		QueueLeft: func(outcome pairing.QueueOutcome, waited time.Duration) {
			p.queueWait.WithLabelValues(string(outcome)).Observe(waited.Seconds())
		},
		MatchedAtRing: func(ring int) { p.ringMatched.Observe(float64(ring)) },
		MitraAway:     func(reason string) { p.mitrasAway.WithLabelValues(reason).Inc() },
	}
}

// availabilityHooks returns the availability hooks of the server's metrics.
func availabilityHooks(m metrics) availability.Hooks {
	if p, ok := m.(*promMetrics); ok {
		return availability.Hooks{ValkeyFallback: p.valkeyFallback, ValkeyWriteFailed: p.valkeyWriteFailed, Seeded: p.seeded}
	}
	return availability.Hooks{}
}

// paymentHooks returns the payment hooks of the server's metrics.
func paymentHooks(m metrics) payment.Hooks {
	if p, ok := m.(*promMetrics); ok {
		return payment.Hooks{RefundIssued: p.refundIssued, RefundFailed: p.refundFailed}
	}
	return payment.Hooks{}
}

// metricsRoutes serves the registry on the API port (public: see the top of this file).
func (s *Server) metricsRoutes() {
	h := s.app.metricsHandler()
	s.handle("GET", "/metrics", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		h.ServeHTTP(w, r)
		return nil
	})
}

// metricsHandler serves the registry.
func (a *App) metricsHandler() http.Handler {
	if h, ok := a.hooks.(http.Handler); ok {
		return h
	}
	return http.NotFoundHandler()
}

// metricsServer is the handler of METRICS_ADDR: GET /metrics, and the JSON 404 for the rest.
func metricsServer(app *App) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", app.metricsHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, r, app.log, errNoRoute) })
	var ids requestIDs
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()[requestIDHeader] = ids.next()
		mux.ServeHTTP(w, r)
	})
}

// runtimeMetrics selects the runtime/metrics exported beside the classic Go collector:
// go_gc_heap_live_bytes (heap marked live by the last GC), go_memory_classes_heap_objects_bytes,
// go_memory_classes_heap_stacks_bytes, go_sched_goroutines_goroutines and
// go_gc_cycles_total_gc_cycles_total.
var runtimeMetrics = regexp.MustCompile(`^/(gc/heap/live:bytes|memory/classes/heap/(objects|stacks):bytes|sched/goroutines:goroutines|gc/cycles/total:gc-cycles)$`)

// driftCollector exports the mirror's drift, checked at scrape time and cached for maxAge.
type driftCollector struct {
	check   func(ctx context.Context) (*availability.DriftReport, error)
	maxAge  time.Duration
	timeout time.Duration

	mu        sync.Mutex                // one check at a time; concurrent scrapes share its result
	checkedAt time.Time                 // of the latest check
	report    *availability.DriftReport // last successful check; nil before, or without Valkey
	reportAt  time.Time                 // when report was taken
	ok        bool                      // the latest check succeeded
	checked   bool                      // a check ran
}

var (
	driftDiffDesc = prometheus.NewDesc(metricsNamespace+"_mirror_drift_differences",
		"Differences between the Valkey mirror and Postgres found by the last successful drift check, by field.",
		[]string{"field"}, nil)
	driftSeededDesc = prometheus.NewDesc(metricsNamespace+"_mirror_seeded",
		"1 when the Valkey mirror carries its seed marker (0: every read falls back to Postgres).", nil, nil)
	driftOKDesc = prometheus.NewDesc(metricsNamespace+"_mirror_drift_check_success",
		"1 when the latest drift check succeeded.", nil, nil)
	driftAgeDesc = prometheus.NewDesc(metricsNamespace+"_mirror_drift_checked_timestamp_seconds",
		"When the last successful drift check ran (Unix time).", nil, nil)
)

// driftFields are always exported (0 when in agreement) so that the series exist.
var driftFields = []string{"online", "deactivated", "capacity", "at_capacity", "heartbeat", "heartbeat_index"}

func (c *driftCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- driftDiffDesc
	ch <- driftSeededDesc
	ch <- driftOKDesc
	ch <- driftAgeDesc
}

func (c *driftCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.checked || time.Since(c.checkedAt) >= c.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		rep, err := c.check(ctx)
		cancel()
		c.checked, c.ok, c.checkedAt = true, err == nil, time.Now()
		if err == nil {
			if rep == nil { // no Valkey: nothing to compare, nothing exported
				c.report = nil
				return
			}
			c.report, c.reportAt = rep, c.checkedAt
		}
	}
	if c.report == nil && c.ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(driftOKDesc, prometheus.GaugeValue, boolGauge(c.ok))
	if c.report == nil {
		return
	}
	byField := map[string]int{}
	for _, f := range driftFields {
		byField[f] = 0
	}
	for _, d := range c.report.Differences {
		byField[d.Field]++
	}
	fields := make([]string, 0, len(byField))
	for f := range byField {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		ch <- prometheus.MustNewConstMetric(driftDiffDesc, prometheus.GaugeValue, float64(byField[f]), f)
	}
	ch <- prometheus.MustNewConstMetric(driftSeededDesc, prometheus.GaugeValue, boolGauge(c.report.Seeded))
	ch <- prometheus.MustNewConstMetric(driftAgeDesc, prometheus.GaugeValue, float64(c.reportAt.UnixNano())/1e9)
}

// scrapeRead is a value read at scrape time, at most once per maxAge and never for longer
// than timeout. A failed read keeps the last value read (none before the first success):
// an alert on a non-zero imbalance, say, must not fire because Postgres was slow.
type scrapeRead[T any] struct {
	read    func(ctx context.Context) (T, error)
	maxAge  time.Duration
	timeout time.Duration

	mu        sync.Mutex // one read at a time; concurrent scrapes share its result
	checkedAt time.Time  // of the latest read
	checked   bool       // a read ran
	value     T          // of the last successful read
	ok        bool       // a read succeeded
}

// get returns the last value read, reading it again first when it is maxAge old; false
// while no read has succeeded.
func (r *scrapeRead[T]) get() (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checked || time.Since(r.checkedAt) >= r.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		v, err := r.read(ctx)
		cancel()
		r.checked, r.checkedAt = true, time.Now()
		if err == nil {
			r.value, r.ok = v, true
		}
	}
	return r.value, r.ok
}

// imbalanceCollector exports the earnings ledger's imbalance.
type imbalanceCollector struct{ scrapeRead[int64] }

var imbalanceDesc = prometheus.NewDesc(metricsNamespace+"_ledger_imbalance",
	"Sum of every signed line of the earnings ledger (minor units); anything but 0 means the books do not balance.", nil, nil)

func (c *imbalanceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- imbalanceDesc }

func (c *imbalanceCollector) Collect(ch chan<- prometheus.Metric) {
	if v, ok := c.get(); ok {
		ch <- prometheus.MustNewConstMetric(imbalanceDesc, prometheus.GaugeValue, float64(v))
	}
}

// payoutsCollector exports the payouts by status and the amount paid out.
type payoutsCollector struct{ scrapeRead[payout.Stats] }

var (
	payoutsDesc = prometheus.NewDesc(metricsNamespace+"_payouts",
		"Payouts to mitras by status (pending, processing, succeeded, failed, reversed).", []string{"status"}, nil)
	paidOutDesc = prometheus.NewDesc(metricsNamespace+"_payouts_paid_out_amount",
		"Sum of the succeeded payouts (minor units), reversed ones not included.", nil, nil)
)

// payoutStatuses are always exported (0 when none) so that the series exist.
var payoutStatuses = []payout.Status{payout.StatusPending, payout.StatusProcessing, payout.StatusSucceeded,
	payout.StatusFailed, payout.StatusReversed}

func (c *payoutsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- payoutsDesc
	ch <- paidOutDesc
}

func (c *payoutsCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.get()
	if !ok {
		return
	}
	for _, s := range payoutStatuses {
		ch <- prometheus.MustNewConstMetric(payoutsDesc, prometheus.GaugeValue, float64(st.ByStatus[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(paidOutDesc, prometheus.GaugeValue, float64(st.PaidOut))
}

// waitingCollector exports the paid blasts waiting for a mitra and the longest wait (the
// waiting_now and longest_waiting_seconds of GET /api/internal/stats).
type waitingCollector struct{ scrapeRead[pairing.Waiting] }

var (
	waitingDesc = prometheus.NewDesc(metricsNamespace+"_pairings_waiting",
		"Paid blasts looking for a mitra now, searching or queued (read at scrape time).", nil, nil)
	longestWaitDesc = prometheus.NewDesc(metricsNamespace+"_pairings_longest_wait_seconds",
		"How long the paid blast waiting longest has waited since its payment; 0 when none waits (read at scrape time).", nil, nil)
)

func (c *waitingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- waitingDesc
	ch <- longestWaitDesc
}

func (c *waitingCollector) Collect(ch chan<- prometheus.Metric) {
	w, ok := c.get()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(w.Count))
	ch <- prometheus.MustNewConstMetric(longestWaitDesc, prometheus.GaugeValue, w.Longest.Seconds())
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
