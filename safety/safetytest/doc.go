// Package safetytest holds the conformance suites of the safety package's stores:
// RunAlertStoreContract pins safety.AlertStore (one alert per message, also under
// concurrent raises; the queue newest first by status; an acknowledgement once and
// idempotent) and RunReportStoreContract safety.ReportStore. The Postgres stores and the
// in-memory ones pass them, and a host with its own store can run them from its tests.
// They use no assertion library.
package safetytest
