// Package extensiontest holds fakes of the services an extension.Service works with
// (Sessions, Reachability, Settings; pairingtest.Notifier records its events), and
// RunStoreContract, the conformance suite
// of extension.Store that pins its rules — one open extension per chat session, every write
// a guarded compare-and-set, ExpireDue handing each row to one caller, ApplyPayment
// all-or-nothing. The Postgres store and extension.NewMemoryStore pass it, and a host with
// its own Store can run it from its tests. It uses no assertion library.
package extensiontest
