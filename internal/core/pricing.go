package core

import (
	"time"

	"github.com/google/uuid"
)

// Mode says what a price tier prices: a new chat session or an extension of a running one.
type Mode string

const (
	ModeSession   Mode = "session"
	ModeExtension Mode = "extension"
)

// Tier is the price of (mode, minutes). Mode and Minutes are its natural key and never
// change; to change a duration, deactivate the tier and create another.
type Tier struct {
	ID      uuid.UUID
	Mode    Mode
	Minutes int
	// Price is in the currency's smallest unit.
	Price     int64
	Currency  string
	Label     string
	SortOrder int
	IsActive  bool
	CreatedAt time.Time
	// UpdatedAt is the optimistic-lock token: pass it back as ExpectedUpdatedAt.
	UpdatedAt time.Time
}

// Quote is the price of a session or extension for one client, ready to be frozen into a
// payment (see CreatePaymentParams).
type Quote struct {
	TierID         uuid.UUID
	Mode           Mode
	Minutes        int
	BaseAmount     int64
	DiscountAmount int64
	// Amount is BaseAmount - DiscountAmount.
	Amount   int64
	Currency string
}
