// Package payment manages payment sessions: created from a pricing quote with the amounts
// frozen, paid or failed through a provider webhook (idempotently), expired by a sweep, and
// refunded — in full or in part — whenever what a payment paid for will not be delivered.
//
// A Service sits over two ports: a Store (NewPostgresStore, or NewMemoryStore in
// tests) and a Gateway that hides the payment provider (NewFakeGateway is a fake
// one). What a payment unlocks is not this package's business: the pairing and extension
// packages register a Handler per Purpose, called once when a session is paid
// (PaymentPaid) and once when it closes unpaid (PaymentClosed). A handler answering
// ErrInvalidState (nothing waits for this payment any more) gets the payment refunded.
//
// Every state change is one guarded compare-and-set on the row's status, so the same
// webhook delivered twice, two instances sweeping at once, or a refund racing itself all
// end in exactly one transition, one handler call and at most one gateway refund.
//
// Money safety: every paid amount ends in what it paid for or in refunds that
// add up to it, never neither, never twice. Refunds are rows of their own (refund.go):
// recorded before the gateway is asked, idempotent per cause, capped by the payment's
// amount in one transaction, sent right after they are recorded and retried by
// RetryRefunds with exponential backoff (retry.go); Reconcile (reconcile.go) lists paid
// money without an outcome.
//
// Lifecycle of a session:
//
//	pending ──paid──▶ paid ──refunds go through──▶ partially_refunded ──▶ refunded
//	   │                │  └─ the gateway refuses one ─▶ refund_failed ──retried──┘
//	   ├──failed──▶ failed  ┐
//	   ├──expired─▶ expired ├─ a payment arriving now: paid (nothing starts) and refunded in full
//	   └─cancel──▶ cancelled┘
//
// A session whose amount is 0 (a full discount) is created paid and never reaches the
// gateway.
//
// The books: a payment paid and a refund that went through are posted to the earnings
// ledger (package payment/ledger) in the same transaction as the change, and a payment
// keeps the platform's fee percent (Config.FeePercent) it was paid under.
package payment
