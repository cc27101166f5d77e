package xendit

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/curhat/curhat/payment"
)

// Errors of the callbacks. The server answers ErrCallbackToken with 401, ErrInvalidCallback
// with 400, and logs ErrUnknownReference and ErrUnsupportedEvent and answers 200 (Xendit
// would otherwise deliver them again for a day).
var (
	// ErrCallbackToken: the x-callback-token header is missing or wrong.
	ErrCallbackToken = errors.New("xendit: callback token missing or wrong")
	// ErrInvalidCallback: the body is not JSON or lacks a field the event needs.
	ErrInvalidCallback = errors.New("xendit: invalid callback body")
	// ErrUnknownReference: the callback names something this SDK did not create (an
	// external_id or reference_id that is not one of its UUIDs).
	ErrUnknownReference = errors.New("xendit: callback for an unknown reference")
	// ErrUnsupportedEvent: the callback reports a status this package does not act on.
	ErrUnsupportedEvent = errors.New("xendit: unsupported callback event")
)

// APIError is an error answer of Xendit's API: its HTTP status and its error_code. It
// wraps payment.ErrUnavailable for a 5xx or a 429 (the outcome is unknown or the request
// was not processed; sending it again with the same key is safe).
type APIError struct {
	// Op is what the Client was doing ("create invoice", "create refund").
	Op string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is Xendit's error_code (empty when the answer had none).
	Code string
	// Message is Xendit's message, as sent.
	Message string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "xendit: %s: HTTP %d", e.Op, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, payment.ErrUnavailable) hold for an answer that says to try
// again later.
func (e *APIError) Unwrap() error {
	if e.Temporary() {
		return payment.ErrUnavailable
	}
	return nil
}

// Temporary reports whether the answer says nothing final: a 5xx or a 429.
func (e *APIError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
}

// maxMessage bounds the provider's message kept in an APIError.
const maxMessage = 300

func newAPIError(op string, status int, raw []byte) *APIError {
	e := &APIError{Op: op, StatusCode: status}
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Message = body.ErrorCode, body.Message
	} else {
		e.Message = strings.TrimSpace(string(raw))
	}
	if len(e.Message) > maxMessage {
		e.Message = e.Message[:maxMessage] + "…"
	}
	return e
}

// apiError returns err as an *APIError, or nil when it is not one (a transport error).
func apiError(err error) *APIError {
	var e *APIError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// declineCodes are the error codes of an invoice Xendit refuses for this payment itself
// (the amount, the currency, no way to pay it): a final answer, payment.ErrPaymentDeclined.
var declineCodes = map[string]bool{
	"MAXIMUM_TRANSFER_AMOUNT_ERROR":    true,
	"NO_COLLECTION_METHODS_ERROR":      true,
	"UNAVAILABLE_PAYMENT_METHOD_ERROR": true,
	"UNSUPPORTED_CURRENCY":             true,
	"MISMATCH_CURRENCY_ERROR":          true,
}

// refundNotPossibleCodes are the error and failure codes of a refund the provider can
// never make: the channel has no refunds (or no partial ones), or the refund window or the
// number of refunds allowed has passed.
var refundNotPossibleCodes = map[string]bool{
	"REFUND_NOT_SUPPORTED":           true,
	"PARTIAL_REFUND_NOT_SUPPORTED":   true,
	"PARTIAL_REFUND_COUNTS_EXCEEDED": true,
	"INELIGIBLE_TRANSACTION":         true,
}

// duplicateKeyCodes are the 409 answers to a request whose idempotency key Xendit has
// seen: the first request was made (or is being made); find it instead of failing.
var duplicateKeyCodes = map[string]bool{
	"DUPLICATE_ERROR":             true,
	"DUPLICATE_TRANSACTION_ERROR": true,
	"IDEMPOTENCY_ERROR":           true,
}

// authFailure reports whether e says the API key is wrong or lacks a permission: the
// request was not considered at all.
func (e *APIError) authFailure() bool {
	switch e.Code {
	case "INVALID_API_KEY", "UNAUTHORIZED", "REQUEST_FORBIDDEN_ERROR", "ACCESS_SUSPENDED":
		return true
	}
	return e.StatusCode == http.StatusUnauthorized
}
