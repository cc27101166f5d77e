package pricing

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/curhat/curhat/internal/core"
)

// Validation limits.
const (
	MinMinutes     = 1
	MaxMinutes     = 1440
	MaxPrice       = 1_000_000_000
	MaxLabelLength = 100 // characters (runes), like Postgres length()
)

// Field names used in *curhat.ValidationError, matching the JSON of the HTTP API.
const (
	fieldMode              = "mode"
	fieldMinutes           = "minutes"
	fieldPrice             = "price"
	fieldLabel             = "label"
	fieldExpectedUpdatedAt = "expected_updated_at"
	fieldTiers             = "tiers"
	fieldChangedBy         = "changed_by"
	fieldDiscountPercent   = "discount_percent"
	fieldMaxDiscountAmount = "max_discount_amount"
	fieldEligibleMinutes   = "eligible_minutes"
)

func validateMode(m Mode) error {
	if m != ModeSession && m != ModeExtension {
		return core.Invalid(fieldMode, "must be %q or %q", ModeSession, ModeExtension)
	}
	return nil
}

func validateMinutes(field string, n int) error {
	if n < MinMinutes || n > MaxMinutes {
		return core.Invalid(field, "must be between %d and %d", MinMinutes, MaxMinutes)
	}
	return nil
}

// validatePrice checks price for a tier of mode (mode must already be valid).
func validatePrice(mode Mode, price int64) error {
	if price < 0 || price > MaxPrice {
		return core.Invalid(fieldPrice, "must be between 0 and %d", MaxPrice)
	}
	if mode == ModeExtension && price == 0 {
		return core.Invalid(fieldPrice, "must be greater than 0 for extension tiers (no free extensions)")
	}
	return nil
}

func validateLabel(label string) error {
	switch {
	case !utf8.ValidString(label):
		return core.Invalid(fieldLabel, "must be valid UTF-8")
	case strings.ContainsRune(label, 0):
		return core.Invalid(fieldLabel, "must not contain NUL characters")
	case utf8.RuneCountInString(label) > MaxLabelLength:
		return core.Invalid(fieldLabel, "must be at most %d characters", MaxLabelLength)
	}
	return nil
}

func validateChangedBy(by string) error {
	if strings.TrimSpace(by) == "" {
		return core.Invalid(fieldChangedBy, "is required (the operator making the change)")
	}
	return nil
}

func validateToken(t time.Time) error {
	if t.IsZero() {
		return core.Invalid(fieldExpectedUpdatedAt, "is required (the updated_at last read)")
	}
	return nil
}
