package core

import "time"

// Defaults of the operator-editable runtime settings, served while a key has
// never been set, and used by a domain whose Settings dependency is nil.
const (
	DefaultPairingBlastTimeout        = 60 * time.Second
	DefaultPairingTargetedTimeout     = 20 * time.Second
	DefaultPaymentSessionTTL          = 900 * time.Second
	DefaultExtensionAutoApprove       = true
	DefaultMitraMaxConcurrentSessions = 1
)

// Defaults of the pairing policies: each is off, so that the seed's blast is
// what a deployment gets until an operator turns one on.
const (
	DefaultPairingQueueEnabled         = false
	DefaultPairingQueueMaxWait         = 300 * time.Second
	DefaultPairingQueueMaxLength       = 100
	DefaultPairingOfferPolicy          = OfferPolicyBlast
	DefaultPairingRingSize             = 3
	DefaultPairingRingInterval         = 10 * time.Second
	DefaultMitraMissedOffersBeforeAway = 0
)

// The values of the pairing_offer_policy setting.
const (
	// OfferPolicyBlast offers a blast to every available mitra at once.
	OfferPolicyBlast = "blast"
	// OfferPolicyRing offers a blast to the mitras idle longest, a ring at a time.
	OfferPolicyRing = "ring"
)
