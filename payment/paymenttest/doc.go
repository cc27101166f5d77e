// Package paymenttest holds RunStoreContract, the conformance suite of payment.Store that
// pins its rules — a client's idempotency key is unique, every write is a guarded
// compare-and-set, ExpirePending hands each row to one caller — and the refunds' (recorded
// once per cause and capped by the amount, claimed for one attempt at a time, settling the
// payment's status, found by Reconcile). The Postgres store and payment.NewMemoryStore pass
// it, and a host with its own Store can run it from its tests. It uses no assertion
// library.
package paymenttest
