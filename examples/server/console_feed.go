package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// The operators' event stream, GET /api/internal/events: the console's
// dashboard follows it instead of polling. It carries two kinds of events:
//
//   - dashboard: the dashboard's numbers, whenever one of them changed, and once to each
//     stream that just opened;
//   - failed_pairing: a failed pairing row, when it appears;
//   - stats: the statistics of the last 5 minutes (GET /api/internal/stats?window=5m),
//     every operatorStatsEvery and once to each stream that just opened.
//   - safety_alert: a new safety alert — not from this watcher: the SDK's alerts publish it
//     on the bus as the alert is stored (hubNotifier.NotifyAlert, routes_safety.go).
//
// The numbers come from many writers on every instance (pings, sessions, payments, the
// sweeps), so instead of hooking each of them, one watcher per instance reads what the
// dashboard reads, and only while an operator stream is open on that instance: its cost
// does not grow with the number of operators watching.

const (
	// operatorFeedEvery is how often the watcher reads the counts (online, available,
	// busy, sessions) and the newest failed pairings.
	operatorFeedEvery = time.Second
	// operatorFeedSlowEvery is how often it reads what costs more: the unsettled payments
	// (payment.Reconcile reads every charged payment), the ledger's imbalance and today's
	// revenue (the balance sums every ledger line) and the mirror's drift (every mitra, in
	// Postgres and in Valkey).
	operatorFeedSlowEvery = 10 * time.Second
	// operatorFeedPassTimeout bounds one pass: a hung backend delays the events, it does
	// not pile passes up.
	operatorFeedPassTimeout = 5 * time.Second
	// operatorStatsEvery is how often the watcher reads the statistics of the stats event
	// (three statements over the rows of the last 5 minutes: 2 ms with 100,000 pairings a
	// day), whether they changed or not: "the last 5 minutes" moves with the clock.
	operatorStatsEvery = 5 * time.Second
)

// Kinds of the operators' events.
const (
	eventDashboard     = "dashboard"
	eventFailedPairing = "failed_pairing"
	eventStats         = "stats"
)

// operatorFeed is the watcher of one instance.
type operatorFeed struct {
	app *App

	mu      sync.Mutex
	running bool // the watcher goroutine runs
	opened  bool // a stream opened since the last pass: send it the dashboard

	// Owned by the watcher goroutine.
	dash      dashboardJSON
	sent      []byte // the dashboard last sent, encoded
	slowAt    time.Time
	failures  map[uuid.UUID]bool // the newest failure rows seen at the last pass
	failureAt time.Time          // the oldest of them
	statsAt   time.Time          // when the stats event was last sent
}

func newOperatorFeed(app *App) *operatorFeed { return &operatorFeed{app: app} }

// streamOpened starts the watcher if it is not running and has it send the dashboard.
func (f *operatorFeed) streamOpened() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = true
	if f.running {
		return
	}
	f.running = true
	go f.watch(f.app.bgCtx)
}

// watch runs passes until no operator stream is left on this instance or the App closes.
func (f *operatorFeed) watch(ctx context.Context) {
	tick := time.NewTicker(operatorFeedEvery)
	defer tick.Stop()
	f.pass(ctx)
	for {
		select {
		case <-ctx.Done():
			f.stop()
			return
		case <-tick.C:
		}
		f.mu.Lock()
		if f.app.events.countKind(SubjectOperator) == 0 && !f.opened {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		f.pass(ctx)
	}
}

func (f *operatorFeed) stop() {
	f.mu.Lock()
	f.running = false
	f.mu.Unlock()
}

// pass reads the dashboard and the newest failures and sends what changed.
func (f *operatorFeed) pass(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, operatorFeedPassTimeout)
	defer cancel()
	f.mu.Lock()
	opened := f.opened
	f.opened = false
	f.mu.Unlock()

	a := f.app
	now := time.Now()
	counts, err := a.client.DashboardCounts(ctx)
	if err != nil {
		f.passFailed(ctx, err)
		return
	}
	d := f.dash
	d.OnlineCount, d.AvailableCount, d.BusyCount = counts.OnlineCount, counts.AvailableCount, counts.BusyCount
	d.ActiveSessions, d.AwaitingPaymentSessions, d.PendingPayments = counts.ActiveSessions, counts.AwaitingPaymentSessions, counts.PendingPayments
	d.PendingPaymentSessions = counts.AwaitingPaymentSessions
	if f.sent == nil || now.Sub(f.slowAt) >= operatorFeedSlowEvery {
		if d.UnsettledPayments, err = a.client.UnsettledPayments(ctx); err != nil {
			f.passFailed(ctx, err)
			return
		}
		if d.LedgerImbalance, d.PlatformRevenueToday, err = a.ledgerDashboard(ctx); err != nil {
			f.passFailed(ctx, err)
			return
		}
		d.Drift = a.dashboardDrift(ctx)
		f.slowAt = now
	}
	f.dash = d
	if raw, _ := json.Marshal(d); opened || !bytes.Equal(raw, f.sent) {
		f.sent = raw
		f.send(eventDashboard, d)
	}
	f.newFailures(ctx)
	if opened || now.Sub(f.statsAt) >= operatorStatsEvery {
		f.sendStats(ctx, now)
	}
}

// sendStats reads the statistics of the stats event and sends them to every operator
// stream of this instance: one read per instance and interval, whatever the number of
// streams.
func (f *operatorFeed) sendStats(ctx context.Context, now time.Time) {
	st, err := f.app.stats(ctx, streamStatsWindow)
	if err != nil {
		f.passFailed(ctx, err)
		return
	}
	f.statsAt = now
	f.send(eventStats, st)
}

func (f *operatorFeed) passFailed(ctx context.Context, err error) {
	if f.app.bgCtx.Err() != nil {
		return // closing
	}
	f.app.log.WarnContext(ctx, "operator feed: a read failed; retrying at the next pass", "err", err)
}

// newFailures sends the failure rows that appeared since the last pass. The first pass
// only notes the newest rows: a stream is told what is new, the console lists the rest.
func (f *operatorFeed) newFailures(ctx context.Context) {
	items, _, err := f.app.pairer.ListFailures(ctx, pairing.FailureFilter{Page: 1, PageSize: 20})
	if err != nil {
		f.passFailed(ctx, err)
		return
	}
	first := f.failures == nil
	seen := make(map[uuid.UUID]bool, len(items))
	for i := len(items) - 1; i >= 0; i-- { // oldest first: the stream gets them in order
		it := items[i]
		seen[it.ID] = true
		if !first && !f.failures[it.ID] && !it.CreatedAt.Before(f.failureAt) {
			f.send(eventFailedPairing, failureJSON(it))
		}
	}
	f.failures = seen
	if len(items) > 0 {
		f.failureAt = items[len(items)-1].CreatedAt
	}
}

// send delivers an event to every operator stream of this instance.
func (f *operatorFeed) send(kind string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return
	}
	f.app.events.deliverToKind(SubjectOperator, encodeFrame(kind, data, f.app.clock.Now()))
}

// countKind returns how many streams of subjects of kind this instance holds.
func (h *eventHub) countKind(kind SubjectKind) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for who, set := range h.streams {
		if who.Kind == kind {
			n += len(set)
		}
	}
	return n
}

// deliverToKind hands e to every stream of a subject of kind on this instance (operators
// all see the same console events, whichever operator they are).
func (h *eventHub) deliverToKind(kind SubjectKind, frame []byte) {
	if frame == nil {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for who, set := range h.streams {
		if who.Kind != kind {
			continue
		}
		for st := range set {
			st.send(frame) // too slow to keep up: dropped; the console re-reads the dashboard when it reconnects
		}
	}
}

// operatorEvents is GET /api/internal/events: the stream of serveSSE, fed by the watcher.
func (s *Server) operatorEvents(w http.ResponseWriter, r *http.Request, c caller) error {
	// The watcher starts before the stream subscribes; its first pass may come before the
	// subscription and miss it, so the stream-opened flag is raised again once subscribed
	// (once its head is written), and the next pass sends the dashboard.
	s.feed.streamOpened()
	return s.serveStream(w, r, c, s.feed.streamOpened)
}
