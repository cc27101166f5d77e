// Package core holds what every curhat domain shares and no domain owns: the error
// vocabulary, the runtime defaults, and the value types that travel between domains (a
// quote, a payment, a chat session, an event). It imports nothing but the standard
// library and uuid, so every domain can depend on it without depending on another.
//
// Hosts never import it: the root package and the domain packages re-export each of these
// names by alias (curhat.ErrNotFound, payment.Session, pricing.Quote,
// pairing.ChatSession), so the value a domain returns is the very value another accepts.
package core
