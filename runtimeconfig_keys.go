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
	"unicode/utf8"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
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
	// KeyMitraFirstReplySeconds: how long after a chat session's start its mitra must have
	// sent a message (or shown activity its host reported), else the session ends
	// mitra_no_show and the client is refunded in full (integer seconds, 0..1800; 0 turns
	// the rule off).
	KeyMitraFirstReplySeconds ConfigKey = "mitra_first_reply_seconds"
	// KeyChatMessageRetentionDays: chat messages older than this are deleted, but for
	// those an open report refers to (integer days, 1..3650).
	KeyChatMessageRetentionDays ConfigKey = "chat_message_retention_days"
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

// The safety screening of chat messages (package safety).
const (
	// KeySafetyCrisisTerms: the words and phrases that flag a client's message "crisis",
	// send the client the resources text and raise an operator alert (a list of 1..200
	// strings, each 1..100 characters holding a word; matched case-insensitively,
	// NFKC-normalised, on whole words). Defaults to safety.DefaultCrisisTerms().
	KeySafetyCrisisTerms ConfigKey = "safety_crisis_terms"
	// KeySafetyResourcesText: what a client whose message matched a crisis term is sent
	// (a string of 1..2000 characters, not only blanks).
	KeySafetyResourcesText ConfigKey = "safety_resources_text"
)

// Routing quality (SPEC §26).
const (
	// KeyPairingRoutingSteps: how a blast widens, step by step, from the mitras matching
	// every preference of the client to everyone (a list of 1..10 objects {"match":
	// "all"|"language"|"any", "seconds": 1..3600}; every step but the last timed and not
	// any, the last any without seconds; the timed steps together shorter than
	// pairing_blast_timeout_seconds). Defaults to [{"match":"all","seconds":20},
	// {"match":"language","seconds":20},{"match":"any"}].
	KeyPairingRoutingSteps ConfigKey = "pairing_routing_steps"
	// KeyPairingRankWeights: the weights of a ring's order and of the choice of the mitra
	// the head of the queue goes to (an object {"rating", "accept", "idle"}, each a number
	// from 0 to 1). Defaults to {"rating":0,"accept":0,"idle":1}: the longest idle first.
	KeyPairingRankWeights ConfigKey = "pairing_rank_weights"
	// KeyMitraWrapupSeconds: after a chat session of a mitra ends, how long it is offered
	// nothing and not counted available (integer seconds, 0..600; 0: no pause).
	KeyMitraWrapupSeconds ConfigKey = "mitra_wrapup_seconds"
)

// DefaultSafetyResourcesText is the default of safety_resources_text (the default of
// safety_crisis_terms is safety.DefaultCrisisTerms()).
const DefaultSafetyResourcesText = safety.DefaultResourcesText

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
	DefaultMitraFirstReplySeconds      = 0
	DefaultChatMessageRetentionDays    = chat.DefaultRetentionDays
	DefaultMitraWrapup                 = pairing.DefaultMitraWrapup
)

// ErrUnknownConfigKey is returned (wrapping a *ValidationError on field "key") when a key
// is not one of ConfigKeys.
var ErrUnknownConfigKey = errors.New("unknown config key")

type configKind int

const (
	kindInt configKind = iota
	kindBool
	kindEnum
	kindString // min..max characters, not only blanks
	kindList   // min..max strings, each itemMin..itemMax characters after trimming blanks
	// kindObject: a JSON object of known fields, decoded and checked by decode.
	kindObject
	// kindObjectList: a list of min..max JSON objects, decoded and checked by decode.
	kindObjectList
)

// configSpec describes one key: its type, range and default. The table below is the single
// place that knows the settings; validation, defaults and List all read it.
type configSpec struct {
	key      ConfigKey
	kind     configKind
	min, max int64
	values   []string // kindEnum: the allowed strings
	// kindList: the bounds of each item, and a check of its own (nil: none).
	itemMin, itemMax int64
	item             func(string) error
	// kindObject, kindObjectList: the typed value of raw, or the fault, worded to follow
	// the key's name (the key is prepended).
	decode func(raw json.RawMessage) (any, error)
	def    any // int64, bool, string, []string, []pairing.RoutingStep or pairing.RankWeights
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
	{key: KeyMitraFirstReplySeconds, kind: kindInt, min: 0, max: 1800, def: int64(DefaultMitraFirstReplySeconds)},
	{key: KeyChatMessageRetentionDays, kind: kindInt, min: 1, max: 3650, def: int64(DefaultChatMessageRetentionDays)},
	{key: KeySafetyCrisisTerms, kind: kindList, min: 1, max: safety.MaxCrisisTerms, itemMin: 1, itemMax: safety.MaxCrisisTermLength,
		item: safety.CheckTerm, def: safety.DefaultCrisisTerms()},
	{key: KeySafetyResourcesText, kind: kindString, min: 1, max: safety.MaxResourcesTextLength, def: DefaultSafetyResourcesText},
	{key: KeyPairingRoutingSteps, kind: kindObjectList, min: 1, max: pairing.MaxRoutingSteps, decode: decodeRoutingSteps,
		def: pairing.DefaultRoutingSteps()},
	{key: KeyPairingRankWeights, kind: kindObject, decode: decodeRankWeights, def: pairing.DefaultRankWeights},
	{key: KeyMitraWrapupSeconds, kind: kindInt, min: 0, max: int64(pairing.MaxMitraWrapup / time.Second),
		def: int64(DefaultMitraWrapup / time.Second)},
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
	case kindString:
		v, ok := jsonString(raw)
		if !ok {
			return nil, Invalid("value", "%s must be a string of %d to %d characters", s.key, s.min, s.max)
		}
		if err := s.checkString(v, s.min, s.max, "", "value"); err != nil {
			return nil, err
		}
		return v, nil
	case kindList:
		return s.parseList(raw)
	case kindObject, kindObjectList:
		v, err := s.decode(raw)
		if err != nil {
			return nil, Invalid("value", "%s %s", s.key, err)
		}
		return v, nil
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
		return encodeJSON(x)
	case []string:
		return encodeJSON(x)
	case []pairing.RoutingStep:
		return encodeJSON(routingStepsJSON(x))
	case pairing.RankWeights:
		return encodeJSON(rankWeightsJSON(x))
	}
	panic(fmt.Sprintf("curhat: config value of unexpected type %T", v))
}

// parseList decodes a JSON array of strings: each trimmed of blanks, within the item
// bounds and passing the key's own check; min..max of them.
func (s configSpec) parseList(raw json.RawMessage) (any, error) {
	var items []*string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, Invalid("value", "%s must be a list of %d to %d strings", s.key, s.min, s.max)
	}
	if n := int64(len(items)); n < s.min || n > s.max {
		return nil, Invalid("value", "%s must hold %d to %d strings, not %d", s.key, s.min, s.max, n)
	}
	out := make([]string, len(items))
	for i, it := range items {
		if it == nil {
			return nil, Invalid("value", "%s item %d must be a string, not null", s.key, i+1)
		}
		v := strings.TrimSpace(*it)
		if err := s.checkString(v, s.itemMin, s.itemMax, fmt.Sprintf(" item %d", i+1), "value"); err != nil {
			return nil, err
		}
		if s.item != nil {
			if err := s.item(v); err != nil {
				reason := err.Error()
				if ve, ok := errors.AsType[*core.ValidationError](err); ok {
					reason = ve.Reason // the rule alone: the field is this key's value
				}
				return nil, Invalid("value", "%s item %d: %s", s.key, i+1, reason)
			}
		}
		out[i] = v
	}
	return out, nil
}

// checkString applies the bounds of a string (in characters) of the key: not only blanks,
// no NUL (Postgres's jsonb cannot hold one).
func (s configSpec) checkString(v string, lo, hi int64, what, field string) error {
	n := int64(utf8.RuneCountInString(v))
	switch {
	case strings.TrimSpace(v) == "" && lo > 0:
		return Invalid(field, "%s%s must not be empty or only blanks", s.key, what)
	case n < lo || n > hi:
		return Invalid(field, "%s%s must be %d to %d characters, not %d", s.key, what, lo, hi, n)
	case strings.ContainsRune(v, 0):
		return Invalid(field, "%s%s must not contain NUL characters", s.key, what)
	}
	return nil
}

// jsonString decodes raw when it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var v string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

// encodeJSON is v's JSON, without the HTML escapes of json.Marshal ("<" stays "<").
func encodeJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("curhat: encode config value: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
