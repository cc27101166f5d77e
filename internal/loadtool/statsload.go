package main

import (
	"context"
	"fmt"
	"time"
)

const (
	// statsLoadHistory is the past the statistics read in stats-under-load: as many
	// pairings over the last 24 hours as BenchmarkStatsRequest's worst case.
	statsLoadHistory = 100_000
	// statsLoadEvery is how often the operator's console reads the day's statistics: five
	// consoles' worth (the console re-reads them at most every 5 s).
	statsLoadEvery = time.Second
)

// statsUnderLoad: match-throughput over a database holding a day of history, without and
// with an operator's console open (its event stream, and the day's statistics read every
// second), alternating; the pairing figures side by side, and the statistics' latency
// under that load.
func (t *tool) statsUnderLoad(ctx context.Context) error {
	window := throughputWindow
	fmt.Printf("# stats-under-load\n\n")
	fmt.Printf("match-throughput (%d mitras, %d clients, %s) over a database holding %d past pairings of the last 24 hours (benchdata.History: offers, sessions, payments, refunds), "+
		"without and with an operator's console open during the window: the operators' event stream (the dashboard's feed: counts every second, the costlier figures every 10 s, the 5-minute statistics every 5 s) "+
		"and GET /api/internal/stats?window=24h every %s (every row of the history and of the run). Runs alternate: without, with, with, without.\n\n",
		throughputMitras, t.o.concurrency, window, statsLoadHistory, statsLoadEvery)
	fmt.Println("| operator's console | mitras | clients | blasts paid | matched | matched/s | webhook → matched p50 / p99 | accepts per match (200 + 409) | Postgres statements per match | waited out | statistics (24h) reads, p50 / p99 |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, operator := range []bool{false, true, true, false} {
		side := "closed"
		if operator {
			side = "open"
		}
		res, err := t.matchThroughputRun(ctx, window, throughputOptions{history: statsLoadHistory, operator: operator, statsEvery: statsLoadEvery})
		if err != nil {
			fmt.Printf("| %s | skipped: %v | | | | | | | | | |\n", side, oneLine(err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		reads := "—"
		if operator {
			reads = fmt.Sprintf("%d: %s", len(res.statsReads), p50p99(res.statsReads))
			if res.statsFailed > 0 {
				reads += fmt.Sprintf(" (%d failed)", res.statsFailed)
			}
		}
		fmt.Printf("| %s %s %s |\n", side, res.row, reads)
	}
	fmt.Println()
	return nil
}
