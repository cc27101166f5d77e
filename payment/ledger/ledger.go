// Package ledger keeps the double-entry books of the money clients pay: every rupiah ends
// as a mitra's earning, the platform's fee or a refund, and the books always balance.
//
// Each business event is one transaction (Txn) of signed lines (Entry): a debit is
// positive, a credit negative, and the lines of a transaction sum to zero. Lines are
// never updated or deleted; a correction is a new transaction. Every transaction is posted
// in the same database transaction as the state change it records, by the store of the
// domain that makes the change (payment paid and refund succeeded by the payment store,
// session value by the pairing store), and its id is derived from what it records, so
// posting an event twice posts it once.
//
// Accounts (Account) and postings:
//
//	payment paid A            gateway +A             client_funds −A (per payment)
//	refund succeeded R        client_funds +R        gateway −R
//	session ended, V = E + F  client_funds +V        mitra_pending −E, platform_revenue −F
//	earning reversed E′ + F′  mitra_pending, then mitra_available, then mitra_receivable +E′;
//	                          platform_revenue +F′   client_funds −(E′ + F′)
//	earning cleared E         mitra_pending +E       mitra_receivable up to its balance,
//	                                                 mitra_available the rest
//
// A chat session's value is posted when it ends: the money attributed to it — its
// chat_start payment's amount, or for a continuation after a reroute the carry-over handed
// to it — plus its paid extensions, less the carry-over it hands to a continuation (the
// unused-minutes rule, CarryAmount) and less what its payments' refunds take. Each payment
// gives at most what it still holds (its client_funds balance less its refunds not yet
// succeeded), so client_funds never goes below zero for a payment: a refund that comes
// after the money was posted as earnings reverses them (earning_reversed). The fee of each
// payment's part is Fee(part, the payment's platform_fee_percent), fixed on the payment
// when it was paid.
//
// An earning clears (mitra_pending to mitra_available) at the time fixed when it was
// posted, by the clearance sweep (Store.Clear), settling mitra_receivable first.
//
// Invariants, checked by Store.Check: every transaction sums to zero; no mitra_pending,
// mitra_available or payouts_in_flight balance is negative; a payment whose pairing and
// sessions are final and whose refunds have succeeded holds nothing in client_funds;
// gateway = paid − refunds succeeded − payouts succeeded + payouts reversed.
package ledger

import (
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Errors the ledger returns (the SDK's shared values: errors.Is works with curhat's).
var (
	ErrNotFound     = core.ErrNotFound
	ErrInvalidState = core.ErrInvalidState
	ErrUnavailable  = core.ErrUnavailable
)

// ValidationError reports one invalid input field (curhat.ValidationError): Field names it,
// Reason says what is wrong; Error returns "invalid <Field>: <Reason>".
type ValidationError = core.ValidationError

// Kind is the business event a transaction records.
type Kind string

// The kinds of transaction.
const (
	KindPaymentPaid     Kind = "payment_paid"
	KindRefundSucceeded Kind = "refund_succeeded"
	KindSessionValue    Kind = "session_value"
	KindEarningReversed Kind = "earning_reversed"
	KindEarningCleared  Kind = "earning_cleared"
	KindPayoutCreated   Kind = "payout_created"
	KindPayoutSucceeded Kind = "payout_succeeded"
	KindPayoutFailed    Kind = "payout_failed"
	KindPayoutReversed  Kind = "payout_reversed"
	// KindBackfill: the history posted by the migration that created the ledger.
	KindBackfill Kind = "backfill"
)

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindPaymentPaid, KindRefundSucceeded, KindSessionValue, KindEarningReversed, KindEarningCleared,
		KindPayoutCreated, KindPayoutSucceeded, KindPayoutFailed, KindPayoutReversed, KindBackfill:
		return true
	}
	return false
}

// Account is where a line moves money.
type Account string

// The accounts. The mitra accounts and payouts_in_flight are per mitra (Entry.MitraID).
const (
	// AccountGateway: money held at the payment provider.
	AccountGateway Account = "gateway"
	// AccountClientFunds: paid, not yet delivered or refunded; every line names its payment.
	AccountClientFunds Account = "client_funds"
	// AccountPlatformRevenue: the platform's fees.
	AccountPlatformRevenue Account = "platform_revenue"
	// AccountMitraPending: earned, not cleared.
	AccountMitraPending Account = "mitra_pending"
	// AccountMitraAvailable: cleared, not paid out.
	AccountMitraAvailable Account = "mitra_available"
	// AccountPayoutsInFlight: sent to the mitra, not confirmed.
	AccountPayoutsInFlight Account = "payouts_in_flight"
	// AccountMitraReceivable: earnings taken back after they were paid out, settled from
	// the mitra's next clearances.
	AccountMitraReceivable Account = "mitra_receivable"
)

// Accounts lists every account, in the order balances are shown.
var Accounts = []Account{AccountGateway, AccountClientFunds, AccountPlatformRevenue, AccountMitraPending,
	AccountMitraAvailable, AccountPayoutsInFlight, AccountMitraReceivable}

// Valid reports whether a is one of the accounts.
func (a Account) Valid() bool {
	for _, x := range Accounts {
		if a == x {
			return true
		}
	}
	return false
}

// PerMitra reports whether a's lines belong to one mitra.
func (a Account) PerMitra() bool {
	switch a {
	case AccountMitraPending, AccountMitraAvailable, AccountPayoutsInFlight, AccountMitraReceivable:
		return true
	}
	return false
}

// Held is a's balance as a positive amount held or owed, from the sum of its signed
// lines: the provider's money and what mitras owe back are debit balances, the rest
// credit balances.
func (a Account) Held(sum int64) int64 {
	if a == AccountGateway || a == AccountMitraReceivable {
		return sum
	}
	return -sum
}

// Entry is one line of a transaction.
type Entry struct {
	ID            uuid.UUID
	TxnID         uuid.UUID
	Kind          Kind
	Account       Account
	MitraID       *uuid.UUID
	PaymentID     *uuid.UUID
	ChatSessionID *uuid.UUID
	PayoutID      *uuid.UUID
	// Amount is signed: a debit is positive, a credit negative.
	Amount   int64
	Currency string
	// ClearsAt is when a session's earning (its mitra_pending line) becomes available.
	ClearsAt  *time.Time
	CreatedAt time.Time
}

// Txn is one balanced transaction to post.
type Txn struct {
	// ID names the event: posting a transaction whose id exists posts nothing.
	ID    uuid.UUID
	Kind  Kind
	At    time.Time
	Lines []Line
}

// Line is one line of a Txn (an Entry before it is stored).
type Line struct {
	Account                                     Account
	MitraID, PaymentID, ChatSessionID, PayoutID *uuid.UUID
	Amount                                      int64
	Currency                                    string
	ClearsAt                                    *time.Time
}

// Validate reports what is wrong with t: an invalid kind or account, a line of 0, a mitra
// account without its mitra, a client_funds line without its payment, no lines, or lines
// that do not sum to zero per currency (a *ValidationError naming the field).
func (t Txn) Validate() error {
	if t.ID == uuid.Nil {
		return core.Invalid("id", "must not be nil")
	}
	if !t.Kind.Valid() {
		return core.Invalid("kind", "%q is not a ledger kind", t.Kind)
	}
	if len(t.Lines) == 0 {
		return core.Invalid("lines", "a transaction has at least one line")
	}
	sums := map[string]int64{}
	for i, l := range t.Lines {
		switch {
		case !l.Account.Valid():
			return core.Invalid("lines", "line %d: %q is not an account", i, l.Account)
		case l.Amount == 0:
			return core.Invalid("lines", "line %d: amount 0", i)
		case l.Account.PerMitra() != (l.MitraID != nil):
			return core.Invalid("lines", "line %d: %s needs a mitra exactly when it is a mitra's account", i, l.Account)
		case l.Account == AccountClientFunds && l.PaymentID == nil:
			return core.Invalid("lines", "line %d: client_funds names its payment", i)
		case l.Currency == "":
			return core.Invalid("lines", "line %d: no currency", i)
		}
		sums[l.Currency] += l.Amount
	}
	for cur, sum := range sums {
		if sum != 0 {
			return core.Invalid("lines", "the %s lines sum to %d, not 0", cur, sum)
		}
	}
	return nil
}

// entries are t's lines as stored.
func (t Txn) entries() []Entry {
	out := make([]Entry, len(t.Lines))
	for i, l := range t.Lines {
		out[i] = Entry{
			ID: uuid.New(), TxnID: t.ID, Kind: t.Kind, Account: l.Account, MitraID: l.MitraID, PaymentID: l.PaymentID,
			ChatSessionID: l.ChatSessionID, PayoutID: l.PayoutID, Amount: l.Amount, Currency: l.Currency,
			ClearsAt: l.ClearsAt, CreatedAt: t.At,
		}
	}
	return out
}

// CarryAmount is the unused-minutes rule: what a session that was paid value for minutes
// in all hands on (or gives back) for left of them, floor(value × left / minutes). The
// carry-over a rerouted session hands to its continuation and the refund of a
// continuation that fails are this one amount.
func CarryAmount(value int64, left, minutes int) int64 {
	if minutes <= 0 || left <= 0 || value <= 0 {
		return 0
	}
	if left >= minutes {
		return value
	}
	// value ≤ 2^63 and left < minutes ≤ 1440: split to stay in int64.
	q, r := value/int64(minutes), value%int64(minutes)
	return q*int64(left) + r*int64(left)/int64(minutes)
}

// Fee is the platform's share of value at percent: floor(value × percent / 100).
func Fee(value int64, percent int) int64 {
	if value <= 0 || percent <= 0 {
		return 0
	}
	q, r := value/100, value%100
	return q*int64(percent) + r*int64(percent)/100
}

// Namespaces of the ids of the transactions the SDK posts.
var txnNamespace = uuid.MustParse("3c1b5e62-8f0d-4a57-9e2b-6f4d1a7c0b93")

// TxnID is the id of the transaction of kind that records the event subject (a payment,
// a refund, a chat session, a payout): deriving it again finds the posted one.
func TxnID(kind Kind, subject uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(txnNamespace, append([]byte(kind+":"), subject[:]...))
}

// PaymentPaid is the transaction of a payment paid: gateway +amount, client_funds −amount.
// A payment of 0 posts nothing (ok = false).
func PaymentPaid(paymentID uuid.UUID, amount int64, currency string, at time.Time) (t Txn, ok bool) {
	if amount <= 0 {
		return Txn{}, false
	}
	id := paymentID
	return Txn{ID: TxnID(KindPaymentPaid, paymentID), Kind: KindPaymentPaid, At: at, Lines: []Line{
		{Account: AccountGateway, PaymentID: &id, Amount: amount, Currency: currency},
		{Account: AccountClientFunds, PaymentID: &id, Amount: -amount, Currency: currency},
	}}, true
}

// RefundSucceeded is the transaction of a refund that went through: client_funds +amount,
// gateway −amount.
func RefundSucceeded(refundID, paymentID uuid.UUID, amount int64, currency string, at time.Time) Txn {
	id := paymentID
	return Txn{ID: TxnID(KindRefundSucceeded, refundID), Kind: KindRefundSucceeded, At: at, Lines: []Line{
		{Account: AccountClientFunds, PaymentID: &id, Amount: amount, Currency: currency},
		{Account: AccountGateway, PaymentID: &id, Amount: -amount, Currency: currency},
	}}
}

// SessionEnd is what a chat session's end posts (see the package doc): the session, its
// mitra and pairing, and for a reroute the prepaid blast that continues it with the
// minutes it carries of the session's minutes.
type SessionEnd struct {
	SessionID, MitraID, PairingID uuid.UUID
	// CarryTo is the prepaid blast continuing a rerouted session (nil: none); it carries
	// CarryMinutes of the session's Minutes.
	CarryTo      *uuid.UUID
	CarryMinutes int
	Minutes      int
	At           time.Time
	// ClearsAt is when the earning becomes available (the clearance hours after At).
	ClearsAt time.Time
}

// Validate reports what is wrong with e.
func (e SessionEnd) Validate() error {
	switch {
	case e.SessionID == uuid.Nil || e.MitraID == uuid.Nil || e.PairingID == uuid.Nil:
		return core.Invalid("session", "session, mitra and pairing ids must not be nil")
	case e.CarryTo != nil && (e.CarryMinutes < 0 || e.Minutes < 1):
		return core.Invalid("carry_minutes", "a carry-over needs 0 ≤ carry minutes and session minutes ≥ 1")
	}
	return nil
}

// Contribution is one payment behind a session's value, newest payment first.
type Contribution struct {
	PaymentID uuid.UUID
	// Attributed is what the session owes to this payment (its amount, or its part of a
	// carry-over); Gives what the payment can still give: at most Attributed and what it
	// holds.
	Attributed, Gives int64
	FeePercent        int
	Currency          string
}

// Part is one payment's share of an amount.
type Part struct {
	PaymentID uuid.UUID
	Amount    int64
}

// sessionValue computes what e posts from its contributions (newest first): the
// transaction (ok = false: nothing to post) and the carry-over handed on, per payment.
func sessionValue(e SessionEnd, kind Kind, cs []Contribution) (t Txn, ok bool, carry []Part) {
	var attributed, gives int64
	for _, c := range cs {
		attributed += c.Attributed
		gives += c.Gives
	}
	var left int64
	if e.CarryTo != nil {
		left = min(gives, CarryAmount(attributed, e.CarryMinutes, e.Minutes))
	}
	t = Txn{ID: TxnID(KindSessionValue, e.SessionID), Kind: kind, At: e.At}
	sid, mid := e.SessionID, e.MitraID
	var earning, fees int64
	cur := ""
	for _, c := range cs {
		cp := min(c.Gives, left)
		left -= cp
		if cp > 0 {
			carry = append(carry, Part{PaymentID: c.PaymentID, Amount: cp})
		}
		v := c.Gives - cp
		if v <= 0 {
			continue
		}
		if cur == "" {
			cur = c.Currency
		}
		f := Fee(v, c.FeePercent)
		fees += f
		earning += v - f
		pid := c.PaymentID
		t.Lines = append(t.Lines, Line{Account: AccountClientFunds, PaymentID: &pid, ChatSessionID: &sid, Amount: v, Currency: cur})
	}
	if earning > 0 {
		clears := e.ClearsAt
		t.Lines = append(t.Lines, Line{Account: AccountMitraPending, MitraID: &mid, ChatSessionID: &sid, Amount: -earning,
			Currency: cur, ClearsAt: &clears})
	}
	if fees > 0 {
		t.Lines = append(t.Lines, Line{Account: AccountPlatformRevenue, ChatSessionID: &sid, Amount: -fees, Currency: cur})
	}
	return t, earning+fees > 0, carry
}

// Consumed is a session value's line of a payment, what a reversal may take back from: the
// session, its mitra (uuid.Nil when the fee took all of it: the mitra earned nothing),
// what the line gave and what reversals took from it already, and what is left of the
// session's earning in mitra_pending (0 once it cleared).
type Consumed struct {
	ChatSessionID, MitraID   uuid.UUID
	Value, Reversed, Pending int64
}

// reversal is the earning_reversed transaction that takes back short (what a refund of
// the payment took beyond what it held) from the sessions that consumed it, newest first
// (consumed newest first). The mitra's part comes from mitra_pending up to what is left of
// that session's own earning there — never from another session's earning, which clears
// at its own time — then from mitra_available (available: what each mitra's holds now),
// then mitra_receivable.
func reversal(refundID, paymentID uuid.UUID, short int64, percent int, currency string, at time.Time,
	consumed []Consumed, available map[uuid.UUID]int64) (Txn, bool) {
	t := Txn{ID: TxnID(KindEarningReversed, refundID), Kind: KindEarningReversed, At: at}
	pid := paymentID
	for _, c := range consumed {
		if short <= 0 {
			break
		}
		x := min(short, c.Value-c.Reversed)
		if x <= 0 {
			continue
		}
		short -= x
		sid, mid := c.ChatSessionID, c.MitraID
		f := Fee(x, percent)
		if mid == uuid.Nil {
			f = x // the mitra earned nothing of it
		}
		t.Lines = append(t.Lines, Line{Account: AccountClientFunds, PaymentID: &pid, ChatSessionID: &sid, Amount: -x, Currency: currency})
		if f > 0 {
			t.Lines = append(t.Lines, Line{Account: AccountPlatformRevenue, ChatSessionID: &sid, Amount: f, Currency: currency})
		}
		e := x - f
		for _, a := range []Account{AccountMitraPending, AccountMitraAvailable, AccountMitraReceivable} {
			take := e
			switch a {
			case AccountMitraPending:
				take = min(e, max(c.Pending, 0))
			case AccountMitraAvailable:
				take = min(e, max(available[mid], 0))
				available[mid] -= take
			}
			if take > 0 {
				t.Lines = append(t.Lines, Line{Account: a, MitraID: &mid, ChatSessionID: &sid, Amount: take, Currency: currency})
				e -= take
			}
		}
	}
	return t, len(t.Lines) > 0
}

// clearance is the earning_cleared transaction of a session's earning: earning (what is
// left of it after reversals, at most the mitra's pending balance: a guard) leaves mitra_pending,
// settles receivable (the mitra's receivable balance) first and the rest becomes available.
func clearance(sessionID, mitraID uuid.UUID, earning, pending, receivable int64, currency string, at time.Time) (Txn, bool) {
	e := min(earning, pending)
	if e <= 0 {
		return Txn{}, false
	}
	sid, mid := sessionID, mitraID
	t := Txn{ID: TxnID(KindEarningCleared, sessionID), Kind: KindEarningCleared, At: at, Lines: []Line{
		{Account: AccountMitraPending, MitraID: &mid, ChatSessionID: &sid, Amount: e, Currency: currency},
	}}
	if r := min(e, max(receivable, 0)); r > 0 {
		t.Lines = append(t.Lines, Line{Account: AccountMitraReceivable, MitraID: &mid, ChatSessionID: &sid, Amount: -r, Currency: currency})
		e -= r
	}
	if e > 0 {
		t.Lines = append(t.Lines, Line{Account: AccountMitraAvailable, MitraID: &mid, ChatSessionID: &sid, Amount: -e, Currency: currency})
	}
	return t, true
}

func ptr[T any](v T) *T { return &v }
