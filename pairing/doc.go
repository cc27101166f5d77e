// Package pairing matches a client with a mitra: a payment-gated blast offered to every
// available mitra where the first accept wins, or a targeted "Curhat lagi" offer to a
// previous mitra with fallback to a blast. It also owns the chat session lifecycle.
//
// A Pairer sits over a Store (NewPostgresStore, or pairingtest.NewStore in tests) and
// small interfaces of the services it uses — Availability, Payments, Quoter, Settings and
// Notifier — that a host satisfies with thin adapters.
//
// Blast (pay first, then blast):
//
//	StartBlast ──▶ awaiting_payment ──PaymentPaid──▶ searching ──Accept──▶ matched (session active)
//	                 │                                  ├─ nobody available / deadline ─▶ failed + refund + failure row
//	                 └─ PaymentClosed / Cancel ─▶ cancelled ◀─ Cancel (refund) ┘
//
// Targeted ("Curhat lagi", charge only after the mitra accepts):
//
//	StartTargeted ──▶ targeted_waiting ──Accept──▶ matched (session pending_payment) ──PaymentPaid──▶ active
//	                    └─ Decline / deadline ─▶ targeted_unavailable ──FallbackToBlast──▶ blast awaiting_payment
//
// Concurrency: every transition is one guarded write (UPDATE … WHERE status = …), so any
// number of instances can race on a pairing or a session and exactly one wins. Accept
// runs in one transaction that locks the mitra, then the pairing: among concurrent
// accepts of one pairing exactly one gets the chat session, a mitra never exceeds its
// capacity, and Cancel racing Accept ends either matched or cancelled-and-refunded.
//
// Time: pairing deadlines and session ends are in-process timers on the injected clock,
// backed up by SweepTimeouts (run it every second) and re-armed by RestoreTimers at
// startup. After every chat-session transition the Pairer calls
// Availability.RecomputeCapacity, and offers a mitra whose slot was freed the blasts still
// searching (MitraAvailable).
//
// Money: a paid blast that fails is refunded automatically and recorded in
// pairing_failures (written in the same transaction as the failure, refund_status
// refund_failed until the refund went through, so a crash in between leaves something
// for operators: ListFailures, FailureAction). Cancellations refund too, with no failure
// row. A prepaid blast (Reroute) charges nothing and refunds nothing.
package pairing
