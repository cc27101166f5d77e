package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// result is what one measurement saw: operations completed, the time they took in total,
// and the latency of each.
type result struct {
	ops      int
	errs     int
	elapsed  time.Duration
	lat      []time.Duration // sorted
	firstErr error
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// pct returns the p-th percentile latency (0 < p ≤ 100).
func (r result) pct(p float64) time.Duration { return percentile(r.lat, p) }

// runLoad calls op from `workers` goroutines for d, each call timed. Calls in flight at the
// end are waited for and counted (a call slower than d still yields a sample); ctx ending
// aborts the measurement. The worker index and a per-worker counter let op pick its
// target without sharing state.
func runLoad(ctx context.Context, workers int, d time.Duration, op func(ctx context.Context, worker, i int) error) result {
	type part struct {
		lat  []time.Duration
		errs int
		err  error
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[w]
			p.lat = make([]time.Duration, 0, 4096)
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := op(ctx, w, i)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					p.errs++
					if p.err == nil {
						p.err = err
					}
					continue
				}
				p.lat = append(p.lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	r := result{elapsed: time.Since(start)}
	for _, p := range parts {
		r.lat = append(r.lat, p.lat...)
		r.errs += p.errs
		if r.firstErr == nil {
			r.firstErr = p.err
		}
	}
	r.ops = len(r.lat)
	slices.Sort(r.lat)
	return r
}

// merge adds up results measured in slices.
func merge(rs ...result) result {
	var out result
	for _, r := range rs {
		out.ops += r.ops
		out.errs += r.errs
		out.elapsed += r.elapsed
		out.lat = append(out.lat, r.lat...)
		if out.firstErr == nil {
			out.firstErr = r.firstErr
		}
	}
	slices.Sort(out.lat)
	return out
}
