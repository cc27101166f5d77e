package main

import (
	"bufio"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile_NearestRank(t *testing.T) {
	s := durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	assert.Equal(t, 5*time.Millisecond, percentile(s, 50))
	assert.Equal(t, 10*time.Millisecond, percentile(s, 99))
	assert.Equal(t, 10*time.Millisecond, percentile(s, 100))
	assert.Equal(t, 1*time.Millisecond, percentile(s, 1))
	assert.Equal(t, time.Duration(0), percentile(nil, 50))
	assert.Equal(t, 7*time.Millisecond, percentile(durations(7), 99))

	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	assert.Equal(t, 99*time.Millisecond, percentile(hundred, 99))
	assert.Equal(t, 50*time.Millisecond, percentile(hundred, 50))
}

func TestSortedCopy_LeavesTheInputAlone(t *testing.T) {
	in := durations(3, 1, 2)
	assert.Equal(t, durations(1, 2, 3), sortedCopy(in))
	assert.Equal(t, durations(3, 1, 2), in)
	assert.Equal(t, "2.00 ms / 3.00 ms", p50p99(in))
	assert.Equal(t, "—", p50p99(nil))
}

func TestResult_RateAndPercentiles(t *testing.T) {
	r := result{ops: 200, elapsed: 2 * time.Second, lat: durations(1, 2, 3, 4)}
	assert.InDelta(t, 100, r.rate(), 1e-9)
	assert.Equal(t, 2*time.Millisecond, r.pct(50))
	assert.Zero(t, result{ops: 5}.rate(), "no elapsed time: no rate")
}

func TestWithinFactor(t *testing.T) {
	ratio, met := withinFactor(300*time.Millisecond, 200*time.Millisecond, 2)
	assert.InDelta(t, 1.5, ratio, 1e-9)
	assert.True(t, met)
	ratio, met = withinFactor(401*time.Millisecond, 200*time.Millisecond, 2)
	assert.InDelta(t, 2.005, ratio, 1e-9)
	assert.False(t, met)
	_, met = withinFactor(400*time.Millisecond, 200*time.Millisecond, 2)
	assert.True(t, met, "exactly the factor is within it")
	_, met = withinFactor(time.Millisecond, 0, 2)
	assert.False(t, met, "no floor measured: not met")
}

func TestPerStream_HeapPlusStacksOverStreams(t *testing.T) {
	before := runtimeSample{liveHeap: 10 << 20, stacks: 1 << 20, objects: 9 << 20, goroutines: 50}
	after := runtimeSample{liveHeap: 10<<20 + 80<<20, stacks: 1<<20 + 80<<20, objects: 99 << 20, goroutines: 20050}
	per := perStream(before, after, 10_000)
	assert.InDelta(t, float64(160<<20)/10_000, per, 1e-6)
	assert.Greater(t, per, float64(streamCostGoal), "16.8 KiB a stream misses 16 KiB")
	assert.Zero(t, perStream(before, after, 0))
	assert.Equal(t, "16.4 KiB", bytesIEC(per))
	assert.Equal(t, "512 B", bytesIEC(512))
	assert.Equal(t, "1.5 MiB", bytesIEC(1.5*(1<<20)))
	assert.Equal(t, "-2.0 KiB", bytesIEC(-2048))
}

func TestSameCountsAndMinMax(t *testing.T) {
	assert.True(t, sameCounts([]float64{41, 41, 41}))
	assert.False(t, sameCounts([]float64{41, 42}))
	assert.False(t, sameCounts(nil))
	assert.Equal(t, "41", minMax([]float64{41, 41}))
	assert.Equal(t, "41–74", minMax([]float64{74, 41, 50}))
	assert.Equal(t, "—", minMax(nil))
}

func TestCheck_MetMissed(t *testing.T) {
	assert.Equal(t, "met", check(true))
	assert.Equal(t, "**missed**", check(false))
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_gc_heap_live_bytes Heap memory occupied by live objects.
# TYPE go_gc_heap_live_bytes gauge
go_gc_heap_live_bytes 2.5165824e+07
go_gc_cycles_total_gc_cycles_total 12
go_memory_classes_heap_stacks_bytes 1.15e+06
http_requests_total{route="/x"} 5
`
	m := parseMetrics(text, metricLiveHeap, metricGCCycles, metricStacks, metricGoroutines)
	assert.InDelta(t, 25165824, m[metricLiveHeap], 0.5)
	assert.InDelta(t, 12, m[metricGCCycles], 0)
	assert.InDelta(t, 1.15e6, m[metricStacks], 0)
	_, ok := m[metricGoroutines]
	assert.False(t, ok)
	s := sampleOf(m)
	assert.InDelta(t, 12, s.gcCycles, 0)
}

func TestReadEvents_AndPairingID(t *testing.T) {
	stream := ": connected\n\n" +
		"event: presence\ndata: {\"kind\":\"presence\",\"data\":{\"online\":true}}\n\n" +
		": keep-alive\n\n" +
		"event: pairing_offer\r\ndata: {\"kind\":\"pairing_offer\",\"data\":{\"minutes\":30,\"pairing_id\":\"4b1d\",\"type\":\"blast\"}}\r\n\r\n"
	type ev struct{ kind, id string }
	var got []ev
	err := readEvents(bufio.NewReaderSize(strings.NewReader(stream), 64), func(kind string, data []byte, _ time.Time) {
		got = append(got, ev{kind, pairingIDOf(data)})
	})
	require.Error(t, err, "the stream ends with EOF")
	assert.Equal(t, []ev{{"presence", ""}, {"pairing_offer", "4b1d"}}, got)
	assert.Equal(t, "", pairingIDOf([]byte(`{"pairing_id":"unterminated`)))
}

func TestTracker_FirstLastAndCompletion(t *testing.T) {
	tr := newTracker()
	b := tr.add("p1", 0)
	sent := time.Unix(1000, 0)
	tr.sent(b, sent)
	offer := []byte(`{"data":{"pairing_id":"p1"}}`)
	tr.event(0, "pairing_offer", offer, sent.Add(30*time.Millisecond))
	tr.event(1, "pairing_offer", offer, sent.Add(10*time.Millisecond))
	tr.event(2, "pairing_offer", []byte(`{"data":{"pairing_id":"other"}}`), sent.Add(time.Millisecond))
	tr.event(3, "presence", offer, sent.Add(time.Millisecond))
	select {
	case <-b.done:
		t.Fatal("done before the expected count is known")
	default:
	}
	tr.expect(b, 3)
	tr.event(2, "pairing_offer", offer, sent.Add(50*time.Millisecond))
	<-b.done
	n, first, last := tr.snapshot(b)
	assert.Equal(t, 3, n)
	assert.Equal(t, 10*time.Millisecond, first)
	assert.Equal(t, 50*time.Millisecond, last)
	for range 3 {
		tr.event(0, "offer_dismissed", offer, sent)
	}
	<-b.quiet
}

func TestDeliverySide_CountsIncompleteBlastsApart(t *testing.T) {
	var s deliverySide
	s.add(10, 10, time.Millisecond, 5*time.Millisecond)
	s.add(9, 10, time.Millisecond, 7*time.Millisecond)
	s.add(0, 0, 0, 0)
	assert.Equal(t, durations(5), s.last)
	assert.Equal(t, 2, s.incomplete)
	assert.Equal(t, 19, s.events)
	assert.Equal(t, 20, s.offered)
}

func TestParseScenariosAndSizes(t *testing.T) {
	all, err := parseScenarios("all")
	require.NoError(t, err)
	assert.Len(t, all, len(scenarios))
	got, err := parseScenarios("queue, hot-paths")
	require.NoError(t, err)
	assert.Equal(t, []string{"hot-paths", "queue"}, got, "in the order of a full run")
	_, err = parseScenarios("nope")
	assert.ErrorContains(t, err, "no scenario")

	sizes, err := parseSizes("-n", "1000, 10000", 100)
	require.NoError(t, err)
	assert.Equal(t, []int{1000, 10000}, sizes)
	_, err = parseSizes("-n", "10", 100)
	assert.Error(t, err)
}

func TestMitraApp_OldestFirstAndDismissedWithdrawn(t *testing.T) {
	a := &mitraApp{wake: make(chan struct{}, 1)}
	a.offered("p1")
	a.offered("p2")
	a.offered("p3")
	a.dismissed("p2")
	a.dismissed("unknown")
	done := make(chan struct{})
	var got []string
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		a.work(done, func(id string) {
			got = append(got, id)
			if len(got) == 2 {
				close(done)
			}
		})
	}()
	<-finished
	assert.Equal(t, []string{"p1", "p3"}, got)
	assert.Equal(t, "", a.next())
}

func TestPGProxy_CountsRoundTripsAndPings(t *testing.T) {
	var in []byte
	startup := []byte{0, 0, 0, 8, 0, 3, 0, 0} // length 8, protocol 3.0, no parameters
	in = append(in, startup...)
	msg := func(typ byte, body string) {
		n := len(body) + 4
		in = append(in, typ, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		in = append(in, body...)
	}
	msg('Q', "-- ping\x00")
	msg('Q', "SELECT 1\x00")
	msg('P', "\x00SELECT $1\x00\x00\x00")
	msg('S', "")
	p := &pgProxy{}
	var out strings.Builder
	err := p.frontend(bufio.NewReader(strings.NewReader(string(in))), &out)
	require.Error(t, err, "EOF at the end")
	assert.Equal(t, int64(3), p.trips.Load())
	assert.Equal(t, int64(1), p.pings.Load())
	assert.Equal(t, int64(2), p.statements())
	assert.Equal(t, string(in), out.String(), "everything forwarded as it came")
}

func TestInParallel_CallsEveryIndexOnceAndReturnsTheFirstError(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	require.NoError(t, inParallel(103, 8, func(i int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[i]++
		return nil
	}))
	require.Len(t, seen, 103)
	for i, n := range seen {
		require.Equal(t, 1, n, "index %d", i)
	}

	boom := errors.New("boom")
	err := inParallel(50, 4, func(i int) error {
		if i == 17 {
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	require.NoError(t, inParallel(0, 4, func(int) error { return boom }), "nothing to do")
}
