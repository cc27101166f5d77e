// Package sweeps runs the background jobs that keep curhat consistent across instances.
// Each sweep has a Start/Stop lifecycle, a jittered cadence, a per-run timeout, and reports
// what it did to logs and hooks. All are idempotent and safe to run in several instances
// at once.
//
// The runner is generic: a Job is any func(ctx) (Report, error), and New wraps it in a
// Sweep that
//
//   - runs it every Config.Interval (± Config.Jitter, 10% by default) after the previous
//     run ended, so that runs of one sweep never overlap and instances started together
//     drift apart;
//   - bounds each run by Config.Timeout (the interval by default) and cancels it on Stop;
//   - recovers a panicking job (reported as an error wrapping ErrPanic) and keeps going;
//   - logs failures at error level, runs that did something at info and idle runs at debug,
//     and nothing for a run interrupted by Stop;
//   - hands every outcome to Config.Hooks.SweepRun, for metrics;
//   - optionally takes a Locker (NewValkeyLocker) so that one instance per cycle does the
//     work: the others skip the cycle (Report.Skipped). The lock is a saving, not a safety
//     net: if it cannot be checked the job runs anyway.
//
// Start returns at once, Stop is idempotent and safe before Start, Stopped is closed when
// the loop has ended, and RunOnce runs one cycle on demand (tests, admin endpoints).
// Which sweeps curhat runs is written in one place: the table clientSweeps in the root
// package's client_sweeps.go gives each sweep's name, what it does, its default cadence
// (one of the Default…Interval constants here) and its job; curhat.Client runs every row
// of it unless its SweepsConfig says otherwise (hosts map their environment variables onto
// it; the library reads none), and Client.Sweeps returns the running ones.
//
// Package sweepstest holds an in-memory Locker for tests.
package sweeps
