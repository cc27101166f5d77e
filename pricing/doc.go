// Package pricing stores session and extension price tiers and the first-session
// promotion in relational tables, with optimistic locking (updated_at tokens) and an audit
// history row for every change, and quotes the price of a session or extension.
package pricing
