package curhat

import (
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// The value types that travel between the domains, declared once and re-exported here and
// by each domain that uses them (payment.Session, pricing.Quote, pairing.ChatSession are
// these very types), so that a value one service returns is the value another accepts.
type (
	// Mode is what a price tier prices (pricing.ModeSession, pricing.ModeExtension).
	Mode = core.Mode
	// Tier is the price of (mode, minutes) (pricing.Tier).
	Tier = core.Tier
	// Quote is a price frozen for one client (pricing.Quote).
	Quote = core.Quote
	// PaymentPurpose says what a payment pays for (payment.Purpose).
	PaymentPurpose = core.PaymentPurpose
	// PaymentStatus is the state of a payment session (payment.Status).
	PaymentStatus = core.PaymentStatus
	// Payment is a payment session (payment.Session, pairing.Payment).
	Payment = core.Payment
	// CreatePaymentParams asks for a new payment session (payment.CreateParams).
	CreatePaymentParams = core.CreatePaymentParams
	// Refund is one refund of a payment (payment.Refund).
	Refund = core.Refund
	// RefundSummary is how the refunds of one cause stand (payment.RefundSummary).
	RefundSummary = core.RefundSummary
	// ChatSession is a paid conversation (pairing.ChatSession, extension.ChatSession).
	ChatSession = core.ChatSession
	// SessionStatus is the state of a chat session (pairing.SessionStatus).
	SessionStatus = core.SessionStatus
	// EndReason says why a chat session ended (pairing.EndReason).
	EndReason = core.EndReason
	// PaidExtension is an extension applied to a chat session (pairing.PaidExtension).
	PaidExtension = core.PaidExtension
	// Event is a realtime notification from pairing or extensions (pairing.Event).
	Event = core.Event
	// Notifier delivers Events, best effort (pairing.Notifier, extension.Notifier).
	Notifier = core.Notifier
	// MitrasNotifier is a Notifier that sends one event to many mitras in one call (a
	// blast's offers and their dismissals); Config.Notifier may implement it
	// (pairing.MitrasNotifier).
	MitrasNotifier = pairing.MitrasNotifier
)
