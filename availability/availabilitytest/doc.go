// Package availabilitytest holds in-memory implementations of availability.Store and
// availability.Cache that behave like the Postgres and Valkey ones, so that host code can
// be tested without servers. They are safe for concurrent use.
//
// One difference is on purpose: NewCache starts seeded, mirroring an empty Store, so that
// a Mirror over NewStore and NewCache answers from the cache without a seed. A host that
// fills the Store before building the Mirror must call Mirror.SeedFromPostgres, as with
// Valkey. Cache.Flush gives the unseeded state of a fresh Valkey; the Mirror then answers
// from the Store and logs a warning until a seed runs.
//
// RunStoreContract and RunCacheContract are the conformance suites of the two ports: the
// Postgres and Valkey adapters and the implementations here pass them, and a host with
// its own Store or Cache can run them from its tests. They use no assertion library.
package availabilitytest
