package main

import (
	"fmt"
	"strings"
	"time"
)

type readRow struct {
	name        string
	valkey, pg  result
	valkeyTrips float64
	valkeyPG    float64
}

type sweepRow struct {
	name   string
	what   string
	took   time.Duration
	valkey counts
	pg     int64
	slow   slowEntry
}

// report is the table of one N.
type report struct {
	n, atCapacity int
	concurrency   int
	duration      time.Duration
	seedNote      string

	sdkHB, rawSET   result
	sdkHBPG         float64
	httpHB, bareSET result
	httpHBPG        float64
	// The device heartbeat beside the single-device one, measured as a pair of their own.
	sdkDeviceHB, sdkHB1   result
	httpDeviceHB, httpHB1 result
	httpDeviceHBPG        float64
	beacon, bareNoIO      result
	beaconPG              float64
	reads                 []readRow
	sweeps                []sweepRow
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
}

func rate(r result) string { return fmt.Sprintf("%.0f/s", r.rate()) }

func lat(r result) string { return ms(r.pct(50)) + " / " + ms(r.pct(99)) }

func check(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r *report) String() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("## N = %d online mitras (%d at capacity)", r.n, r.atCapacity)
	p("")
	if len(r.sweeps) > 0 && r.sdkHB.ops == 0 {
		p("%s.", r.seedNote)
		p("")
		r.sweepTable(p)
		return b.String()
	}
	p("%d concurrent callers, %s per measurement; %s.", r.concurrency, r.duration, r.seedNote)
	p("")
	p("| throughput | ours | floor | ratio | target |")
	p("|---|---|---|---|---|")
	ratio := func(a, b result) float64 { return a.rate() / b.rate() }
	x := ratio(r.sdkHB, r.rawSET)
	p("| SDK heartbeat (`Mirror.Heartbeat`) vs raw `SET` | %s | %s | %.2f | ≥ 0.70 %s |", rate(r.sdkHB), rate(r.rawSET), x, check(x >= 0.7))
	x = ratio(r.httpHB, r.bareSET)
	p("| HTTP heartbeat vs bare one-`SET` handler | %s, p50/p99 %s | %s, p50/p99 %s | %.2f | ≥ 0.85 %s |", rate(r.httpHB), lat(r.httpHB), rate(r.bareSET), lat(r.bareSET), x, check(x >= 0.85))
	x = ratio(r.beacon, r.bareNoIO)
	p("| HTTP beacon vs bare no-I/O handler | %s, p50/p99 %s | %s, p50/p99 %s | %.2f | ≥ 0.80 %s |", rate(r.beacon), lat(r.beacon), rate(r.bareNoIO), lat(r.bareNoIO), x, check(x >= 0.8))
	if r.sdkHB1.ops > 0 {
		x = ratio(r.sdkDeviceHB, r.sdkHB1)
		p("| SDK device heartbeat (`Mirror.HeartbeatDevice`, %d devices a mitra) vs `Mirror.Heartbeat` | %s | %s | %.2f | ≥ 0.90 %s |",
			len(loadDevices), rate(r.sdkDeviceHB), rate(r.sdkHB1), x, check(x >= 0.9))
	}
	if r.httpHB1.ops > 0 {
		x = ratio(r.httpDeviceHB, r.httpHB1)
		p("| HTTP device heartbeat (`X-Device-Id`, %d devices a mitra) vs HTTP heartbeat | %s, p50/p99 %s | %s, p50/p99 %s | %.2f | ≥ 0.90 %s |",
			len(loadDevices), rate(r.httpDeviceHB), lat(r.httpDeviceHB), rate(r.httpHB1), lat(r.httpHB1), x, check(x >= 0.9))
	}
	p("")
	p("Postgres round trips: %.3f per SDK heartbeat, %.3f per HTTP heartbeat, %.3f per HTTP device heartbeat, %.3f per HTTP beacon (target 0: %s).",
		r.sdkHBPG, r.httpHBPG, r.httpDeviceHBPG, r.beaconPG, check(r.sdkHBPG == 0 && r.httpHBPG == 0 && r.httpDeviceHBPG == 0 && r.beaconPG == 0))
	p("")
	p("| read | Valkey p50 / p99 | Postgres p50 / p99 | Valkey calls/s | Postgres calls/s | speed-up (p50) | Valkey round trips / call |")
	p("|---|---|---|---|---|---|---|")
	for _, rr := range r.reads {
		speed := float64(rr.pg.pct(50)) / float64(max(rr.valkey.pct(50), 1))
		p("| %s | %s | %s | %s | %s | %.1f× | %.2f |", rr.name, lat(rr.valkey), lat(rr.pg), rate(rr.valkey), rate(rr.pg), speed, rr.valkeyTrips)
	}
	if len(r.sweeps) > 0 {
		p("")
		r.sweepTable(p)
	}
	return b.String()
}

func (r *report) sweepTable(p func(format string, args ...any)) {
	p("| sweep over N | result | duration | Valkey round trips | Valkey commands sent | commands run (incl. in scripts) | Valkey CPU | longest single command | Postgres statements |")
	p("|---|---|---|---|---|---|---|---|---|")
	for _, s := range r.sweeps {
		longest := "not measured"
		run, cpu := "—", "—"
		if s.slow.count > 0 {
			longest = fmt.Sprintf("< %d µs", slowlogMicros)
			if s.slow.longest > 0 {
				longest = fmt.Sprintf("%s (%s)", ms(s.slow.longest), s.slow.command)
			}
			run, cpu = fmt.Sprint(s.slow.count), ms(s.slow.cpu)
		}
		p("| %s | %s | %s | %d | %d | %s | %s | %s | %d |", s.name, s.what, ms(s.took), s.valkey.trips, s.valkey.cmds, run, cpu, longest, s.pg)
	}
}
