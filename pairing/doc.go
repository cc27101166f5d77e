// Package pairing matches a client with a mitra: a payment-gated blast offered to every
// available mitra where the first accept wins, or a targeted "Curhat lagi" offer to a
// previous mitra with fallback to a blast. It also owns the chat session lifecycle.
package pairing
