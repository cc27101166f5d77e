// Package core holds what every curhat domain shares and no domain owns: the error
// vocabulary, the validation helpers, the paging rule and the runtime defaults. It imports
// nothing but the standard library, so every domain can depend on it without depending on
// another. The value types that travel between the domains are not here: each is declared
// in the domain that owns it (pricing.Quote, payment.Session, pairing.ChatSession).
//
// Hosts never import it: the root package re-exports the errors (curhat.ErrNotFound is
// core.ErrNotFound) and ValidationError, so errors.Is and errors.As work with either name.
package core
