package main

import (
	"fmt"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of sorted latencies;
// 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// sortedCopy returns ds sorted, leaving ds as it is.
func sortedCopy(ds []time.Duration) []time.Duration {
	out := slices.Clone(ds)
	slices.Sort(out)
	return out
}

// p50p99 formats the median and the 99th percentile of latencies.
func p50p99(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	s := sortedCopy(ds)
	return ms(percentile(s, 50)) + " / " + ms(percentile(s, 99))
}

// withinFactor tells whether ours is at most factor × floor, and the ratio ours / floor.
// A floor of 0 has no ratio: met only when ours is 0 too.
func withinFactor(ours, floor time.Duration, factor float64) (ratio float64, met bool) {
	if floor <= 0 {
		return 0, ours <= 0
	}
	ratio = float64(ours) / float64(floor)
	return ratio, ratio <= factor
}

// runtimeSample is what the server's /metrics says of its memory at one moment
// (runtime/metrics).
type runtimeSample struct {
	liveHeap   float64 // go_gc_heap_live_bytes: heap marked live by the last GC
	stacks     float64 // go_memory_classes_heap_stacks_bytes
	objects    float64 // go_memory_classes_heap_objects_bytes
	goroutines float64 // go_sched_goroutines_goroutines
	gcCycles   float64 // go_gc_cycles_total_gc_cycles_total
}

// The runtime/metrics names in /metrics.
const (
	metricLiveHeap   = "go_gc_heap_live_bytes"
	metricStacks     = "go_memory_classes_heap_stacks_bytes"
	metricObjects    = "go_memory_classes_heap_objects_bytes"
	metricGoroutines = "go_sched_goroutines_goroutines"
	metricGCCycles   = "go_gc_cycles_total_gc_cycles_total"
)

var runtimeMetricNames = []string{metricLiveHeap, metricStacks, metricObjects, metricGoroutines, metricGCCycles}

func sampleOf(m map[string]float64) runtimeSample {
	return runtimeSample{liveHeap: m[metricLiveHeap], stacks: m[metricStacks], objects: m[metricObjects],
		goroutines: m[metricGoroutines], gcCycles: m[metricGCCycles]}
}

// perStream is the cost of each of n streams opened between before and after: the growth
// of the live heap plus the goroutine stacks, divided by n.
func perStream(before, after runtimeSample, n int) float64 {
	if n <= 0 {
		return 0
	}
	return ((after.liveHeap + after.stacks) - (before.liveHeap + before.stacks)) / float64(n)
}

// bytesIEC formats a byte count in B, KiB or MiB.
func bytesIEC(b float64) string {
	switch a := max(b, -b); {
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

// sameCounts tells whether every count is the same (and there is at least one).
func sameCounts(counts []float64) bool {
	if len(counts) == 0 {
		return false
	}
	for _, c := range counts[1:] {
		if c != counts[0] {
			return false
		}
	}
	return true
}

// minMax formats the range of counts: "7" when they are all the same, "7–9" otherwise.
func minMax(counts []float64) string {
	if len(counts) == 0 {
		return "—"
	}
	lo, hi := slices.Min(counts), slices.Max(counts)
	if lo == hi {
		return fmt.Sprintf("%g", lo)
	}
	return fmt.Sprintf("%g–%g", lo, hi)
}
