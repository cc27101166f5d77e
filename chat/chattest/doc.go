// Package chattest holds RunStoreContract, the conformance suite of chat.Store that pins
// its rules — a session's messages numbered 1..N without gaps under concurrent senders, a
// (sender, client_msg_id) stored once and answered ever after, only the session's parties
// and only while it runs, read marks that never move back — and RunRateLimiterContract,
// that of chat.RateLimiter. The Postgres store and chat.NewMemoryStore pass the first,
// chat.NewValkeyRateLimiter and chat.NewMemoryRateLimiter the second, and a host with its
// own can run them from its tests. They use no assertion library.
package chattest
