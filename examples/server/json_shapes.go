package main

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/pricing"
)

// paymentJSON is the API shape of a payment session.
type paymentJSON struct {
	ID             string     `json:"id"`
	Purpose        string     `json:"purpose"`
	Status         string     `json:"status"`
	BaseAmount     int64      `json:"base_amount"`
	DiscountAmount int64      `json:"discount_amount"`
	Amount         int64      `json:"amount"`
	RefundedAmount int64      `json:"refunded_amount"`
	Currency       string     `json:"currency"`
	ExpiresAt      time.Time  `json:"expires_at"`
	CheckoutURL    *string    `json:"checkout_url"`
	PaidAt         *time.Time `json:"paid_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func toPaymentJSON(p payment.Session) paymentJSON {
	out := paymentJSON{
		ID: p.ID.String(), Purpose: string(p.Purpose), Status: string(p.Status),
		BaseAmount: p.BaseAmount, DiscountAmount: p.DiscountAmount, Amount: p.Amount, RefundedAmount: p.RefundedAmount,
		Currency: p.Currency, ExpiresAt: p.ExpiresAt.UTC(), PaidAt: utcPtr(p.PaidAt), CreatedAt: p.CreatedAt.UTC(),
	}
	if p.CheckoutURL != "" {
		u := p.CheckoutURL
		out.CheckoutURL = &u
	}
	return out
}

func optPayment(p *payment.Session) any {
	if p == nil {
		return nil
	}
	return toPaymentJSON(*p)
}

// tierJSON is the API shape of a price tier (the fields of pricing.Tier, in order).
type tierJSON struct {
	ID        uuid.UUID    `json:"id"`
	Mode      pricing.Mode `json:"mode"`
	Minutes   int          `json:"minutes"`
	Price     int64        `json:"price"`
	Currency  string       `json:"currency"`
	Label     string       `json:"label"`
	SortOrder int          `json:"sort_order"`
	IsActive  bool         `json:"is_active"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

func toTiersJSON(ts []pricing.Tier) []tierJSON {
	out := make([]tierJSON, len(ts))
	for i, t := range ts {
		out[i] = tierJSON(t)
	}
	return out
}

// promotionJSON is the API shape of a promotion (the fields of pricing.Promotion).
type promotionJSON struct {
	ID                uuid.UUID             `json:"id"`
	Kind              pricing.PromotionKind `json:"kind"`
	Enabled           bool                  `json:"enabled"`
	DiscountPercent   int                   `json:"discount_percent"`
	MaxDiscountAmount *int64                `json:"max_discount_amount"`
	EligibleMinutes   []int                 `json:"eligible_minutes"`
	Label             string                `json:"label"`
	UpdatedAt         time.Time             `json:"updated_at"`
}

// historyJSON is the API shape of a pricing audit row (the fields of pricing.HistoryEntry).
type historyJSON struct {
	ID          uuid.UUID          `json:"id"`
	TierID      uuid.UUID          `json:"tier_id,omitzero"`
	PromotionID uuid.UUID          `json:"promotion_id,omitzero"`
	ChangeKind  pricing.ChangeKind `json:"change_kind"`
	ChangedBy   string             `json:"changed_by"`
	ChangedAt   time.Time          `json:"changed_at"`
	Before      json.RawMessage    `json:"before"`
	After       json.RawMessage    `json:"after"`
}

func toHistoryJSON(hs []pricing.HistoryEntry) []historyJSON {
	out := make([]historyJSON, len(hs))
	for i, h := range hs {
		out[i] = historyJSON(h)
	}
	return out
}

// failureJSON is the API shape of a failed pairing (the fields of pairing.Failure).
type failureJSON struct {
	ID            uuid.UUID             `json:"id"`
	PairingID     uuid.UUID             `json:"pairing_id"`
	ClientID      uuid.UUID             `json:"client_id"`
	Type          pairing.Type          `json:"type"`
	TargetMitraID *uuid.UUID            `json:"target_mitra_id"`
	Reason        pairing.Reason        `json:"reason"`
	OfferedCount  int                   `json:"offered_count"`
	Amount        int64                 `json:"amount"`
	RefundStatus  pairing.RefundStatus  `json:"refund_status"`
	Status        pairing.FailureStatus `json:"status"`
	ResolvedBy    string                `json:"resolved_by"`
	ResolvedAt    *time.Time            `json:"resolved_at"`
	Note          string                `json:"note"`
	CreatedAt     time.Time             `json:"created_at"`
}

// earningsJSON is the API shape of a mitra's balances (ledger.Earnings), each a positive
// amount held for the mitra or, for receivable, owed by it.
type earningsJSON struct {
	Currency   string `json:"currency"`
	Pending    int64  `json:"pending"`
	Available  int64  `json:"available"`
	InFlight   int64  `json:"in_flight"`
	PaidOut    int64  `json:"paid_out"`
	Receivable int64  `json:"receivable"`
	// NextClearanceAt is when the next pending earning becomes available; null when none
	// waits.
	NextClearanceAt *time.Time `json:"next_clearance_at"`
}

// ledgerEntryJSON is one line of a mitra's statement (a ledger.Entry). Amount is from the
// mitra's side: the signed line negated, so an earning credited to mitra_pending is
// positive and what is taken back negative.
type ledgerEntryJSON struct {
	TxnID         uuid.UUID      `json:"txn_id"`
	Kind          ledger.Kind    `json:"kind"`
	Account       ledger.Account `json:"account"`
	Amount        int64          `json:"amount"`
	ChatSessionID *uuid.UUID     `json:"chat_session_id"`
	PayoutID      *uuid.UUID     `json:"payout_id"`
	CreatedAt     time.Time      `json:"created_at"`
}

func toLedgerEntryJSON(e ledger.Entry) ledgerEntryJSON {
	return ledgerEntryJSON{TxnID: e.TxnID, Kind: e.Kind, Account: e.Account, Amount: -e.Amount,
		ChatSessionID: e.ChatSessionID, PayoutID: e.PayoutID, CreatedAt: e.CreatedAt.UTC()}
}

// ledgerBalanceJSON is GET /api/internal/ledger/balance (a ledger.Balance): each account's
// balance as a positive amount held or owed, summed over all mitras, and the imbalance,
// the sum of every signed line (0 while the books balance).
type ledgerBalanceJSON struct {
	Currency  string             `json:"currency"`
	Accounts  ledgerAccountsJSON `json:"accounts"`
	Imbalance int64              `json:"imbalance"`
}

// ledgerAccountsJSON has a field per ledger.Account, in the order of ledger.Accounts.
type ledgerAccountsJSON struct {
	Gateway         int64 `json:"gateway"`
	ClientFunds     int64 `json:"client_funds"`
	PlatformRevenue int64 `json:"platform_revenue"`
	MitraPending    int64 `json:"mitra_pending"`
	MitraAvailable  int64 `json:"mitra_available"`
	PayoutsInFlight int64 `json:"payouts_in_flight"`
	MitraReceivable int64 `json:"mitra_receivable"`
}

// staleCurrentJSON is the "current" row of a 409 STALE_WRITE body in its API shape.
func staleCurrentJSON(v any) any {
	switch x := v.(type) {
	case pricing.Tier:
		return tierJSON(x)
	case []pricing.Tier:
		return toTiersJSON(x)
	case pricing.Promotion:
		return promotionJSON(x)
	}
	return v
}
