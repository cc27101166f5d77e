package xendit

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
)

// CallbackTokenHeader is the header in which Xendit sends the account's verification
// token with every callback.
const CallbackTokenHeader = "x-callback-token"

// VerifyCallback checks r's x-callback-token header against Config.CallbackToken, in
// constant time. A missing or wrong token is an error wrapping ErrCallbackToken (the
// server answers 401).
func (cl *Client) VerifyCallback(r *http.Request) error {
	got := r.Header.Get(CallbackTokenHeader)
	if got == "" {
		return fmt.Errorf("%w: no %s header", ErrCallbackToken, CallbackTokenHeader)
	}
	// Hashing both sides first keeps the comparison's time independent of the lengths too.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(cl.callbackToken))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return fmt.Errorf("%w: %s does not match", ErrCallbackToken, CallbackTokenHeader)
	}
	return nil
}

// Statuses of an InvoiceEvent.
const (
	// InvoicePaid: the invoice was paid (Xendit's PAID or SETTLED).
	InvoicePaid = "paid"
	// InvoiceExpired: the invoice expired unpaid.
	InvoiceExpired = "expired"
)

// InvoiceEvent is an invoice callback: the invoice was paid or expired.
type InvoiceEvent struct {
	// InvoiceID is Xendit's invoice id: the payment's provider reference.
	InvoiceID string
	// PaymentID is the payment the invoice is for (its external_id).
	PaymentID uuid.UUID
	// Status is InvoicePaid, InvoiceExpired, or Xendit's status in lower case.
	Status string
	// Amount is the invoice's amount; Currency its currency.
	Amount   int64
	Currency string
	// PaidAt is when it was paid (zero when not paid, or not given).
	PaidAt time.Time
}

// ParseInvoiceCallback reads an invoice callback's body. Fields it does not need are
// ignored. A body without id, external_id or status is ErrInvalidCallback; an external_id
// that is not a payment id (an invoice this SDK did not create) is ErrUnknownReference,
// with the event's other fields filled in for the log.
func ParseInvoiceCallback(body []byte) (InvoiceEvent, error) {
	var cb struct {
		ID         string      `json:"id"`
		ExternalID string      `json:"external_id"`
		Status     string      `json:"status"`
		Amount     json.Number `json:"amount"`
		Currency   string      `json:"currency"`
		PaidAt     string      `json:"paid_at"`
	}
	if err := decode(body, &cb); err != nil {
		return InvoiceEvent{}, err
	}
	if cb.ID == "" || cb.ExternalID == "" || cb.Status == "" {
		return InvoiceEvent{}, fmt.Errorf("%w: invoice callback without id, external_id or status", ErrInvalidCallback)
	}
	ev := InvoiceEvent{InvoiceID: cb.ID, Currency: cb.Currency, Status: strings.ToLower(cb.Status)}
	switch cb.Status {
	case statusPaid, statusSettled:
		ev.Status = InvoicePaid
	case statusExpired:
		ev.Status = InvoiceExpired
	}
	amount, err := amountOf(cb.Amount)
	if err != nil {
		return InvoiceEvent{}, fmt.Errorf("%w: invoice %s: %w", ErrInvalidCallback, cb.ID, err)
	}
	ev.Amount = amount
	if t, err := time.Parse(time.RFC3339Nano, cb.PaidAt); err == nil {
		ev.PaidAt = t // a malformed paid_at is ignored: the status says what happened
	}
	id, err := uuid.Parse(cb.ExternalID)
	if err != nil {
		return ev, fmt.Errorf("%w: invoice %s has external_id %q", ErrUnknownReference, cb.ID, cb.ExternalID)
	}
	ev.PaymentID = id
	return ev, nil
}

// RefundEvent is a refund callback: the refund succeeded or failed.
type RefundEvent struct {
	// RefundID is the SDK's refund (its reference_id).
	RefundID uuid.UUID
	// ProviderRef is Xendit's refund id.
	ProviderRef string
	// Succeeded: the money went back. Otherwise the refund failed, for FailureCode.
	Succeeded   bool
	FailureCode string
	// NotPossible: the failure says the provider can never make this refund (the channel
	// has none, the window passed): the SDK marks it manual instead of trying again.
	NotPossible bool
}

// Outcome is the event as payment.Service.RefundOutcome takes it.
func (e RefundEvent) Outcome() payment.RefundOutcome {
	return payment.RefundOutcome{
		RefundID: e.RefundID, Succeeded: e.Succeeded, ProviderRef: e.ProviderRef,
		Reason: e.FailureCode, NotPossible: e.NotPossible,
	}
}

// ParseRefundCallback reads a refund callback's body ({event: refund.succeeded |
// refund.failed, data: {id, reference_id, status, failure_code, …}}). Fields it does not
// need are ignored. A status other than SUCCEEDED or FAILED is ErrUnsupportedEvent; a
// reference_id that is not a refund id is ErrUnknownReference.
func ParseRefundCallback(body []byte) (RefundEvent, error) {
	var d struct {
		ID          string `json:"id"`
		ReferenceID string `json:"reference_id"`
		Status      string `json:"status"`
		FailureCode string `json:"failure_code"`
	}
	event, err := callbackData(body, &d)
	if err != nil {
		return RefundEvent{}, err
	}
	if d.ID == "" {
		return RefundEvent{}, fmt.Errorf("%w: refund callback without data.id", ErrInvalidCallback)
	}
	ev := RefundEvent{ProviderRef: d.ID, FailureCode: d.FailureCode}
	switch {
	case d.Status == refundSucceeded || (d.Status == "" && event == "refund.succeeded"):
		ev.Succeeded, ev.FailureCode = true, ""
	case d.Status == refundFailed || (d.Status == "" && event == "refund.failed"):
		ev.NotPossible = refundNotPossibleCodes[d.FailureCode]
	default:
		return RefundEvent{}, fmt.Errorf("%w: refund %s: event %q, status %q", ErrUnsupportedEvent, d.ID, event, d.Status)
	}
	id, err := uuid.Parse(d.ReferenceID)
	if err != nil {
		return ev, fmt.Errorf("%w: refund %s has reference_id %q", ErrUnknownReference, d.ID, d.ReferenceID)
	}
	ev.RefundID = id
	return ev, nil
}

// PayoutEvent is a payout callback: the payout succeeded, failed, or was reversed after it
// succeeded.
type PayoutEvent struct {
	// PayoutID is the SDK's payout (its reference_id).
	PayoutID uuid.UUID
	// ProviderRef is Xendit's payout id.
	ProviderRef string
	// Status is payout.StatusSucceeded, StatusFailed or StatusReversed.
	Status payout.Status
	// FailureReason is Xendit's failure_code (failed or reversed).
	FailureReason string
}

// ParsePayoutCallback reads a payout callback's body ({event: payout.succeeded |
// payout.failed | payout.reversed, data: {id, reference_id, status, failure_code, …}}).
// Fields it does not need are ignored. Another status is ErrUnsupportedEvent; a
// reference_id that is not a payout id is ErrUnknownReference.
func ParsePayoutCallback(body []byte) (PayoutEvent, error) {
	var d struct {
		ID          string `json:"id"`
		ReferenceID string `json:"reference_id"`
		Status      string `json:"status"`
		FailureCode string `json:"failure_code"`
	}
	event, err := callbackData(body, &d)
	if err != nil {
		return PayoutEvent{}, err
	}
	if d.ID == "" {
		return PayoutEvent{}, fmt.Errorf("%w: payout callback without data.id", ErrInvalidCallback)
	}
	status := d.Status
	if status == "" {
		status = strings.ToUpper(strings.TrimPrefix(event, "payout."))
	}
	ev := PayoutEvent{ProviderRef: d.ID}
	switch status {
	case "SUCCEEDED":
		ev.Status = payout.StatusSucceeded
	case "FAILED", "CANCELLED", "COMPLIANCE_REJECTED", "EXPIRED":
		ev.Status, ev.FailureReason = payout.StatusFailed, cmp.Or(d.FailureCode, status)
	case "REVERSED":
		ev.Status, ev.FailureReason = payout.StatusReversed, cmp.Or(d.FailureCode, status)
	default:
		return PayoutEvent{}, fmt.Errorf("%w: payout %s: event %q, status %q", ErrUnsupportedEvent, d.ID, event, d.Status)
	}
	id, err := uuid.Parse(d.ReferenceID)
	if err != nil {
		return ev, fmt.Errorf("%w: payout %s has reference_id %q", ErrUnknownReference, d.ID, d.ReferenceID)
	}
	ev.PayoutID = id
	return ev, nil
}

// callbackData decodes the envelope {event, data} of a refund or payout callback into
// data and returns the event's name. Xendit's refund webhook page shows the envelope
// nested twice (data.data); that shape is read too.
func callbackData(body []byte, data any) (string, error) {
	var env struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := decode(body, &env); err != nil {
		return "", err
	}
	var inner struct {
		ID    string          `json:"id"`
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if len(env.Data) == 0 || decode(env.Data, &inner) != nil {
		return "", fmt.Errorf("%w: no data object", ErrInvalidCallback)
	}
	raw, event := env.Data, env.Event
	if inner.ID == "" && len(inner.Data) > 0 {
		raw, event = inner.Data, cmp.Or(event, inner.Event)
	}
	if err := decode(raw, data); err != nil {
		return "", err
	}
	return event, nil
}

// decode reads a JSON object into v, ignoring unknown fields.
func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCallback, err)
	}
	return nil
}
