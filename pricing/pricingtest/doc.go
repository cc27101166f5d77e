// Package pricingtest holds RunStoreContract, the conformance suite of pricing.Store that
// pins its rules — unique (mode, minutes), compare-and-swap on updated_at at microsecond
// precision, all-or-nothing multi-row writes, one history row per write. The Postgres store
// and pricing.NewMemoryStore pass it, and a host with its own Store can run it from its
// tests. It uses no assertion library.
package pricingtest
