// Package availabilitytest holds RunStoreContract and RunCacheContract, the conformance
// suites of availability.Store and availability.Cache: the Postgres and Valkey adapters and
// the in-memory ones (availability.NewMemoryStore, availability.NewMemoryCache) pass them,
// and a host with its own Store or Cache can run them from its tests. They use no
// assertion library.
package availabilitytest
