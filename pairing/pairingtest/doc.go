// Package pairingtest holds fakes of the services a pairing.Pairer depends on
// (Availability, Payments, Quoter, Settings, Notifier) for tests without servers, and
// RunStoreContract, the conformance suite of pairing.Store that pins its rules — one open
// pairing per client, guarded transitions that close offers and write the failure row in
// one step, offers only before the deadline, a race-free accept checked in order, atomic
// reroutes guarded on the session as the caller read it, and what the pairing policies
// keep (the queue's order and positions, offers of queued pairings filling free slots once,
// lapses, rings, missed offers, idle order, the wait estimate). The Postgres store and
// pairing.NewMemoryStore pass it, and a host with its own Store can run it from its tests.
// It uses no assertion library.
package pairingtest
