// Package pricing stores session and extension price tiers and the first-session
// promotion in relational tables, with optimistic locking (updated_at tokens) and an audit
// history row for every change, and quotes the price of a session or extension.
//
// PricingStore is the service. It depends on a Store: NewPostgresStore for the
// pricing_tiers, pricing_promotions and history tables of the embedded schema, or
// NewMemoryStore in tests and demos.
//
// Every mutation carries the updated_at the caller last read. If the row changed since,
// nothing is written and the error is a *StaleWriteError (errors.Is ErrStaleWrite) holding
// the current row. updated_at moves forward on every write, by at least a microsecond, so
// two writes within one microsecond still leave distinct tokens. Each successful write
// records one history row (operator, change kind, before and after) in the same
// transaction; a refused write records none.
//
// Quote reads the current rows on every call, so an operator's edit prices the very next
// request. The first-session discount applies, when enabled, to eligible session tiers for
// clients who have no paid chat_start payment yet:
// min(price * percent / 100 rounded down, max_discount_amount).
package pricing
