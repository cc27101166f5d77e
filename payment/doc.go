// Package payment manages payment sessions: created from a pricing quote with the amounts
// frozen, paid or failed through a provider webhook (idempotently), expired by a sweep, and
// refunded automatically when a payment arrives for something that no longer waits for it.
//
// A Service sits over two ports: a Store (NewPostgresStore, or paymenttest.NewStore in
// tests) and a Gateway that hides the payment provider (paymenttest.NewGateway is a fake
// one). What a payment unlocks is not this package's business: the pairing and extension
// packages register a Handler per Purpose, called once when a session is paid
// (PaymentPaid) and once when it closes unpaid (PaymentClosed).
//
// Every state change is one guarded compare-and-set on the row's status, so the same
// webhook delivered twice, two instances sweeping at once, or a refund racing itself all
// end in exactly one transition, one handler call and at most one gateway refund.
//
// Lifecycle of a session:
//
//	pending ──paid──▶ paid ──refund──▶ refunded
//	   │                │        └─gateway refuses─▶ refund_failed ──retry──▶ refunded
//	   ├──failed──▶ failed  ┐
//	   ├──expired─▶ expired ├─ a payment arriving now is refunded: ──▶ refunded
//	   └─cancel──▶ cancelled┘
//
// A session whose amount is 0 (a full discount) is created paid and never reaches the
// gateway.
package payment
