package curhat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/core"
)

// ConfigKey names one operator-editable runtime setting (a row of app_config).
type ConfigKey string

// The runtime settings. Their names are shared with an existing deployment.
const (
	// KeyPairingBlastTimeout: how long a blast waits for an accept (integer seconds, 1..3600).
	KeyPairingBlastTimeout ConfigKey = "pairing_blast_timeout_seconds"
	// KeyPairingTargetedTimeout: the "Curhat lagi" countdown (integer seconds, 1..600).
	KeyPairingTargetedTimeout ConfigKey = "pairing_targeted_timeout_seconds"
	// KeyPaymentSessionTTL: how long a payment session stays payable (integer seconds, 30..86400).
	KeyPaymentSessionTTL ConfigKey = "payment_session_ttl_seconds"
	// KeyExtensionAutoApprove: approve extensions at once when the mitra is reachable (bool).
	KeyExtensionAutoApprove ConfigKey = "extension_auto_approve"
	// KeyMitraMaxConcurrentSessions: default capacity of a mitra whose own maximum is NULL
	// (integer, 1..100).
	KeyMitraMaxConcurrentSessions ConfigKey = "mitra_max_concurrent_sessions"
	// KeyPlatformFeePercent: the platform's share of what a payment delivers, fixed on
	// each payment when it is paid (integer percent, 0..100).
	KeyPlatformFeePercent ConfigKey = "platform_fee_percent"
	// KeyEarningsClearanceHours: how long after a session's end its earning becomes
	// available to pay out; the due time is fixed when the earning is posted (integer
	// hours, 0..2160).
	KeyEarningsClearanceHours ConfigKey = "earnings_clearance_hours"
	// KeyPayoutMinimumAmount: the least available balance a payout run pays to a mitra
	// (integer amount in the smallest unit, 0..100000000).
	KeyPayoutMinimumAmount ConfigKey = "payout_minimum_amount"
	// KeyChatMessageRatePerMinute: messages a sender may send in a chat session in any
	// minute; past it a message is refused (chat.ErrRateLimited) (integer, 1..600).
	KeyChatMessageRatePerMinute ConfigKey = "chat_message_rate_per_minute"
)

// The pairing policies, each off by default (the defaults keep the seed's
// blast: every available mitra at once, a failure and a refund when nobody takes it).
const (
	// KeyPairingQueueEnabled: a paid blast that finds nobody, or whose offers all lapse,
	// waits in the queue instead of failing (bool).
	KeyPairingQueueEnabled ConfigKey = "pairing_queue_enabled"
	// KeyPairingQueueMaxWait: how long a paid blast may wait, from its payment, before it
	// fails (queue_timeout) and is refunded (integer seconds, 10..3600).
	KeyPairingQueueMaxWait ConfigKey = "pairing_queue_max_wait_seconds"
	// KeyPairingQueueMaxLength: a new blast is refused (QUEUE_FULL) while this many wait
	// (integer, 1..100000).
	KeyPairingQueueMaxLength ConfigKey = "pairing_queue_max_length"
	// KeyPairingOfferPolicy: who gets a blast's offers: "blast" (every available mitra at
	// once) or "ring" (the longest idle first, a ring at a time).
	KeyPairingOfferPolicy ConfigKey = "pairing_offer_policy"
	// KeyPairingRingSize: mitras per ring (integer, 1..100).
	KeyPairingRingSize ConfigKey = "pairing_ring_size"
	// KeyPairingRingInterval: when the next ring joins (integer seconds, 1..300).
	KeyPairingRingInterval ConfigKey = "pairing_ring_interval_seconds"
	// KeyMitraMissedOffersBeforeAway: offers missed in a row that take a mitra offline
	// (integer, 0..100; 0 turns the policy off).
	KeyMitraMissedOffersBeforeAway ConfigKey = "mitra_missed_offers_before_away"
)

// Defaults of the runtime settings, served while a key has never been set.
const (
	DefaultPairingBlastTimeout         = core.DefaultPairingBlastTimeout
	DefaultPairingTargetedTimeout      = core.DefaultPairingTargetedTimeout
	DefaultPaymentSessionTTL           = core.DefaultPaymentSessionTTL
	DefaultExtensionAutoApprove        = core.DefaultExtensionAutoApprove
	DefaultMitraMaxConcurrentSessions  = core.DefaultMitraMaxConcurrentSessions
	DefaultPairingQueueEnabled         = core.DefaultPairingQueueEnabled
	DefaultPairingQueueMaxWait         = core.DefaultPairingQueueMaxWait
	DefaultPairingQueueMaxLength       = core.DefaultPairingQueueMaxLength
	DefaultPairingOfferPolicy          = core.DefaultPairingOfferPolicy
	DefaultPairingRingSize             = core.DefaultPairingRingSize
	DefaultPairingRingInterval         = core.DefaultPairingRingInterval
	DefaultMitraMissedOffersBeforeAway = core.DefaultMitraMissedOffersBeforeAway
	DefaultPlatformFeePercent          = 30
	DefaultEarningsClearanceHours      = 72
	DefaultPayoutMinimumAmount         = 50000
	DefaultChatMessageRatePerMinute    = chat.DefaultRatePerMinute
)

// ErrUnknownConfigKey is returned (wrapping a *ValidationError on field "key") when a key
// is not one of ConfigKeys.
var ErrUnknownConfigKey = errors.New("unknown config key")

type configKind int

const (
	kindInt configKind = iota
	kindBool
	kindEnum
)

// configSpec describes one key: its type, range and default. The table below is the single
// place that knows the settings; validation, defaults and List all read it.
type configSpec struct {
	key      ConfigKey
	kind     configKind
	min, max int64
	values   []string // kindEnum: the allowed strings
	def      any      // int64, bool or string
}

var configSpecs = []configSpec{
	{key: KeyPairingBlastTimeout, kind: kindInt, min: 1, max: 3600, def: int64(DefaultPairingBlastTimeout / time.Second)},
	{key: KeyPairingTargetedTimeout, kind: kindInt, min: 1, max: 600, def: int64(DefaultPairingTargetedTimeout / time.Second)},
	{key: KeyPaymentSessionTTL, kind: kindInt, min: 30, max: 86400, def: int64(DefaultPaymentSessionTTL / time.Second)},
	{key: KeyExtensionAutoApprove, kind: kindBool, def: DefaultExtensionAutoApprove},
	{key: KeyMitraMaxConcurrentSessions, kind: kindInt, min: 1, max: 100, def: int64(DefaultMitraMaxConcurrentSessions)},
	{key: KeyPairingQueueEnabled, kind: kindBool, def: DefaultPairingQueueEnabled},
	{key: KeyPairingQueueMaxWait, kind: kindInt, min: 10, max: 3600, def: int64(DefaultPairingQueueMaxWait / time.Second)},
	{key: KeyPairingQueueMaxLength, kind: kindInt, min: 1, max: 100000, def: int64(DefaultPairingQueueMaxLength)},
	{key: KeyPairingOfferPolicy, kind: kindEnum, values: []string{core.OfferPolicyBlast, core.OfferPolicyRing}, def: DefaultPairingOfferPolicy},
	{key: KeyPairingRingSize, kind: kindInt, min: 1, max: 100, def: int64(DefaultPairingRingSize)},
	{key: KeyPairingRingInterval, kind: kindInt, min: 1, max: 300, def: int64(DefaultPairingRingInterval / time.Second)},
	{key: KeyMitraMissedOffersBeforeAway, kind: kindInt, min: 0, max: 100, def: int64(DefaultMitraMissedOffersBeforeAway)},
	{key: KeyPlatformFeePercent, kind: kindInt, min: 0, max: 100, def: int64(DefaultPlatformFeePercent)},
	{key: KeyEarningsClearanceHours, kind: kindInt, min: 0, max: 2160, def: int64(DefaultEarningsClearanceHours)},
	{key: KeyPayoutMinimumAmount, kind: kindInt, min: 0, max: 100000000, def: int64(DefaultPayoutMinimumAmount)},
	{key: KeyChatMessageRatePerMinute, kind: kindInt, min: 1, max: 600, def: int64(DefaultChatMessageRatePerMinute)},
}

func lookupSpec(key ConfigKey) (configSpec, bool) {
	for _, s := range configSpecs {
		if s.key == key {
			return s, true
		}
	}
	return configSpec{}, false
}

// ConfigKeys returns every runtime setting, in a stable order (the order of List).
func ConfigKeys() []ConfigKey {
	keys := make([]ConfigKey, len(configSpecs))
	for i, s := range configSpecs {
		keys[i] = s.key
	}
	return keys
}

// ParseConfigKey returns the key named s, or an error wrapping ErrUnknownConfigKey and a
// *ValidationError on field "key".
func ParseConfigKey(s string) (ConfigKey, error) {
	if _, ok := lookupSpec(ConfigKey(s)); ok {
		return ConfigKey(s), nil
	}
	names := make([]string, len(configSpecs))
	for i, sp := range configSpecs {
		names[i] = string(sp.key)
	}
	return "", fmt.Errorf("%w %q: %w", ErrUnknownConfigKey, s,
		&ValidationError{Field: "key", Reason: "must be one of " + strings.Join(names, ", ")})
}

// ValidateConfigValue checks raw against the type and range of key and returns its
// canonical JSON encoding (what is stored). Errors are *ValidationError on field "value"
// (or on "key", wrapping ErrUnknownConfigKey, for an unknown key).
func ValidateConfigValue(key ConfigKey, raw json.RawMessage) (json.RawMessage, error) {
	spec, ok := lookupSpec(key)
	if !ok {
		_, err := ParseConfigKey(string(key))
		return nil, err
	}
	v, err := spec.parse(raw)
	if err != nil {
		return nil, err
	}
	return spec.encode(v), nil
}

// parse decodes raw strictly: integers must be JSON integers (no strings, fractions or
// exponents) within range, booleans must be true or false, an enum one of its strings.
func (s configSpec) parse(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	switch s.kind {
	case kindBool:
		switch string(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, Invalid("value", "%s must be true or false", s.key)
	case kindEnum:
		var v string
		if err := json.Unmarshal(raw, &v); err == nil && len(raw) > 0 && raw[0] == '"' && slices.Contains(s.values, v) {
			return v, nil
		}
		return nil, Invalid("value", "%s must be one of the strings %s", s.key, strings.Join(quoted(s.values), ", "))
	default:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, Invalid("value", "%s must be an integer between %d and %d", s.key, s.min, s.max)
		}
		if n < s.min || n > s.max {
			return nil, Invalid("value", "%s must be between %d and %d, got %d", s.key, s.min, s.max, n)
		}
		return n, nil
	}
}

func (s configSpec) encode(v any) json.RawMessage {
	switch x := v.(type) {
	case bool:
		return json.RawMessage(strconv.FormatBool(x))
	case int64:
		return json.RawMessage(strconv.FormatInt(x, 10))
	case string:
		return json.RawMessage(strconv.Quote(x))
	}
	panic(fmt.Sprintf("curhat: config value of unexpected type %T", v))
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
