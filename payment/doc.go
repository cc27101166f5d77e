// Package payment manages payment sessions: created from a pricing quote with the amounts
// frozen, paid or failed through a provider webhook (idempotently), expired by a sweep, and
// refunded automatically when a payment arrives for something that no longer waits for it.
package payment
