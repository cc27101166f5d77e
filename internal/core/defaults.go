package core

import "time"

// Defaults of the operator-editable runtime settings (SPEC §7), served while a key has
// never been set, and used by a domain whose Settings dependency is nil.
const (
	DefaultPairingBlastTimeout        = 60 * time.Second
	DefaultPairingTargetedTimeout     = 20 * time.Second
	DefaultPaymentSessionTTL          = 900 * time.Second
	DefaultExtensionAutoApprove       = true
	DefaultMitraMaxConcurrentSessions = 1
)
