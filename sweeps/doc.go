// Package sweeps runs the background jobs that keep curhat consistent across instances:
// auto-offline, heartbeat mirror, online-mirror reseed, stale payments and timeouts. Each
// sweep has a Start/Stop lifecycle, a jittered cadence, a per-run timeout, and reports what
// it did to logs and hooks. All are idempotent and safe to run in several instances at once.
package sweeps
