// Package pairing matches a client with a mitra: a payment-gated blast offered to every
// available mitra where the first accept wins, or a targeted "Curhat lagi" offer to a
// previous mitra with fallback to a blast. It also owns the chat session lifecycle.
//
// A Pairer sits over a Store (NewPostgresStore, or NewMemoryStore in tests) and
// small interfaces of the services it uses — Availability, Payments, Quoter, Settings,
// Extensions and Notifier. The SDK's own services satisfy them as they are
// (*payment.Service, *pricing.PricingStore, *extension.Service, *curhat.RuntimeConfig),
// and the Pairer is in turn the payment handler of chat_start payments (payment.Handler)
// and the chat sessions of the extension service (extension.Sessions): the payment,
// quote and chat-session values are one type across the domains. curhat.NewClient wires
// it all.
//
// Clients: a host registers each of its paying clients once (RegisterClient, under its own
// account id or one the SDK makes) before the client's first pairing; a pairing of an id
// never registered is ErrNotFound, in memory as on Postgres.
//
// Blast (pay first, then blast):
//
//	StartBlast ──▶ awaiting_payment ──PaymentPaid──▶ searching ──Accept──▶ matched (session active)
//	                 │                                  ├─ nobody available / deadline ─▶ failed + refund + failure row
//	                 │                                  ├─ (queue on) ─▶ queued ──Accept──▶ matched
//	                 │                                  │                  └─ max wait ─▶ failed (queue_timeout) + refund
//	                 └─ PaymentClosed / Cancel ─▶ cancelled ◀─ Cancel (refund) ┘ ◀─ Cancel (refund)
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
// backed up by SweepTimeouts (run it every second) and re-armed by Start at
// startup. After every chat-session transition the Pairer calls
// Availability.RecomputeCapacity, and offers a mitra whose slot was freed the blasts still
// searching (MitraAvailable).
//
// Policies, each off by default and read at every decision from Policies
// (*curhat.RuntimeConfig): a paid waiting queue with exact positions (QueueStatus; a
// QueueIndex such as NewValkeyQueueIndex answers them in O(log n)) and a shared wait
// estimate, whose head each free slot of an available mitra is offered; ring offers to the
// mitras idle longest; and mitras taken offline (Away) after missed offers. See Policies
// for the rules, PolicyStore for what the Store keeps.
//
// Routing quality (routing.go, rank.go, wrapup.go, ratings.go): a blast with the client's
// Preferences is offered first to the mitras whose labels fit every preference, widening
// by the steps of pairing_routing_steps (RoutingSettings) on a timer backed by
// SweepTimeouts, down to everyone; the labels come from Deps.Labels, in process, never a
// Store read per offer. Rings, and which free mitra gets the head of the queue, follow
// pairing_rank_weights (RankMitras: rating, acceptance, idle time; longest idle by
// default). After a session a mitra pauses for mitra_wrapup_seconds (WrapupSettings). A
// client rates an ended session once (Rate; ErrAlreadyRated), and a mitra's rating is the
// Bayesian average of its ratings (BayesianRating).
//
// Blocks: a client may block a mitra, and a mitra a client it had a chat session with
// (Block, Unblock, ListBlocks). A pair blocked by either side is never offered to each
// other — blasts and the prepaid blasts of reroutes, rings, the queue, a mitra joining
// late — "Curhat lagi" between them is ErrBlocked, and an accept a block overtook is
// refused; the Store enforces it in the statements that offer and accept (BlockStore).
//
// Trust: with mitra_first_reply_seconds set (NoShowSettings), SweepNoShows ends
// mitra_no_show the active sessions whose mitra showed no activity in the chat within that
// long of the start, refunds the client in full and counts the mitra a missed offer
// (no_show.go); EraseClient scrubs a client in place for its erasure, its money records
// kept under the same id (erasure.go).
//
// Money: a blast that stops searching without a match gives back what it was
// paid with — all of a paid blast's payment; for a prepaid blast (Reroute, or a
// deactivated mitra's session continuing) the unused part of the session it continues,
// floor(paid × remaining / total minutes), extensions included (refund.go). The refund is
// recorded in the same transaction as the failure or cancellation (the Store's
// PairingTransition.Refund; in Postgres as payment.RecordRefundTx records it) and sent
// right after the commit; the payment side's retry sweep sends what a crash or the
// provider held back. A failure also writes a pairing_failures row (amount, refund_status
// refund_failed until the refund went through: ListFailures, FailureAction). A payment
// that arrives for a pairing that no longer waits for it is refunded by the payment side
// (PaymentPaid answers ErrInvalidState).
package pairing
