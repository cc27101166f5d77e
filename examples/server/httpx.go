package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/payment/xendit"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/safety"
)

// apiError is an error with its HTTP status and code, as written to the client.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any // extra fields of the error object (e.g. "field", "current")
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var (
	errRequestCancelled   = newAPIError(http.StatusServiceUnavailable, "UNAVAILABLE", "the request was cancelled")
	errUnauthenticated    = newAPIError(http.StatusUnauthorized, "UNAUTHENTICATED", "a valid bearer token is required")
	errForbidden          = newAPIError(http.StatusForbidden, "FORBIDDEN", "this token may not use this route")
	errMitraDeactivated   = newAPIError(http.StatusForbidden, "MITRA_DEACTIVATED", "this mitra account is deactivated")
	errNoRoute            = newAPIError(http.StatusNotFound, "NOT_FOUND", "no such route")
	errMethodNotAllowed   = newAPIError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "this route does not accept this method; see the Allow header")
	errRequestTimeout     = newAPIError(http.StatusRequestTimeout, "REQUEST_TIMEOUT", "the request body was not received in time")
	errBodyUnreadable     = newAPIError(http.StatusBadRequest, "VALIDATION_FAILED", "the request body could not be read")
	errTimedOut           = newAPIError(http.StatusServiceUnavailable, "UNAVAILABLE", "a backing service did not answer in time; retry later")
	errInternal           = newAPIError(http.StatusInternalServerError, "INTERNAL", "internal error")
	errTooManyStreams     = newAPIError(http.StatusTooManyRequests, "TOO_MANY_STREAMS", "too many open event streams for this account; close one first")
	errStreamsUnavailable = newAPIError(http.StatusServiceUnavailable, "UNAVAILABLE", "this instance holds as many event streams as it may; retry later")
)

// errorMapping maps a domain error (matched with errors.Is) to its HTTP status, code and
// message. The message is fixed: a domain error's own text names internal ids and wraps
// driver errors (a Postgres outage would show its user, database and host), so it goes to
// the log with the request id instead.
type errorMapping struct {
	err     error
	status  int
	code    string
	message string
	field   string // VALIDATION_FAILED: the input the error is about
}

// Rows are tried in order: specific domain errors first, then the shared sentinels (some
// domain errors wrap them). This table is the one place where domain errors become API
// errors; add rows here.
var errorTable = []errorMapping{
	{pricing.ErrDuplicateTier, http.StatusConflict, "DUPLICATE_TIER", "a tier with this mode and minutes already exists", ""},
	// Minutes that no active tier sells are a request that cannot be served as asked: the
	// app offers the minutes of GET /api/client/chat/pricing.
	{curhat.ErrNoTier, http.StatusBadRequest, "VALIDATION_FAILED", "no active price tier for these minutes", "minutes"},
	{pairing.ErrAlreadyMatched, http.StatusConflict, "ALREADY_MATCHED", "the pairing is already matched", ""},
	{pairing.ErrAtCapacity, http.StatusConflict, "AT_CAPACITY", "the mitra has no free session slot", ""},
	{pairing.ErrExpired, http.StatusGone, "EXPIRED", "the deadline has passed", ""},
	{pairing.ErrNoPreviousSession, http.StatusConflict, "NO_PREVIOUS_SESSION", "no previous chat session with this mitra", ""},
	{pairing.ErrMitraUnavailable, http.StatusConflict, "MITRA_UNAVAILABLE", "the mitra is not available", ""},
	{pairing.ErrQueueFull, http.StatusConflict, "QUEUE_FULL", "too many paid chats are waiting for a bestie; try again later", ""},
	{pairing.ErrClientSuspended, http.StatusForbidden, "CLIENT_SUSPENDED", "this client account is suspended", ""},
	// Either side blocked the other (routes_blocks.go): "Curhat lagi", or an accept the block overtook.
	{pairing.ErrBlocked, http.StatusConflict, "BLOCKED", "this client and this mitra are blocked: no chat between them", ""},
	// A chat session is rated once, after it ended, within 7 days of its end (routes_ratings.go).
	{pairing.ErrAlreadyRated, http.StatusConflict, "ALREADY_RATED", "this chat session is rated already: each is rated once", ""},
	{pairing.ErrSessionNotEnded, http.StatusConflict, "INVALID_STATE", "only an ended chat session may be rated", ""},
	{pairing.ErrRatingWindowClosed, http.StatusConflict, "INVALID_STATE", "a chat session may be rated within 7 days of its end only", ""},
	{extension.ErrMitraUnavailable, http.StatusConflict, "MITRA_UNAVAILABLE", "the mitra is not available", ""},
	// A chat message past chat_message_rate_per_minute (routes_messages.go adds Retry-After).
	{chat.ErrRateLimited, http.StatusTooManyRequests, "RATE_LIMITED", "too many messages in the last minute; send again after Retry-After seconds", ""},
	{payment.ErrRefundInFlight, http.StatusConflict, "REFUND_IN_FLIGHT", "an attempt of this refund is in flight; retry once it ended", ""},
	// An operator's refund (routes_payments_ops.go adds error.remaining and error.unearned).
	{payment.ErrRefundExceedsRemainder, http.StatusConflict, "REFUND_EXCEEDS_REMAINING", "the refund asks for more than is left of the payment; error.remaining says how much is left", ""},
	{payment.ErrEarningsNotReversed, http.StatusConflict, "EARNING_REVERSAL_REQUIRED", "the refund takes money a chat session already earned: send reverse_earning: true to take it back from the mitra, or refund at most error.unearned", ""},
	{payment.ErrIdempotencyKeyReused, http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key made a refund of another amount or reason: use a new key for a new refund", ""},
	// A server without a payout provider is configured so: retrying will not help.
	{payout.ErrNoProvider, http.StatusConflict, "NO_PAYOUT_PROVIDER", "no payout provider is configured: nothing can be paid out", ""},
	// A second open report of one reporter about one session (routes_reports.go adds
	// error.report_id).
	{safety.ErrReportOpen, http.StatusConflict, "REPORT_ALREADY_OPEN", "you have an open report of this chat session; operators will answer it (error.report_id)", ""},
	{curhat.ErrNotFound, http.StatusNotFound, "NOT_FOUND", "not found", ""},
	{curhat.ErrStaleWrite, http.StatusConflict, "STALE_WRITE", "the row changed since it was read; retry with its current updated_at", ""},
	{curhat.ErrDeactivated, http.StatusForbidden, "MITRA_DEACTIVATED", "this mitra account is deactivated", ""},
	{curhat.ErrInvalidState, http.StatusConflict, "INVALID_STATE", "not allowed in the current state", ""},
	{curhat.ErrConflict, http.StatusConflict, "INVALID_STATE", "not allowed in the current state", ""},
	// A decline is the provider's answer, not an outage: the same request (the same
	// Idempotency-Key) gets it again, and nothing was charged.
	{curhat.ErrPaymentDeclined, http.StatusPaymentRequired, "PAYMENT_DECLINED", "the payment provider declined the charge and nothing was charged; pay another way", ""},
	{curhat.ErrUnavailable, http.StatusServiceUnavailable, "UNAVAILABLE", "a backing service is unavailable; retry later", ""},
	// Xendit's callbacks (routes_xendit.go).
	{xendit.ErrCallbackToken, http.StatusUnauthorized, "UNAUTHENTICATED", "x-callback-token is missing or is not XENDIT_CALLBACK_TOKEN", ""},
	{xendit.ErrInvalidCallback, http.StatusBadRequest, "VALIDATION_FAILED", "the callback is not JSON or lacks a field its event needs", ""},
}

// staleCurrent lets a stale-write error carry the current row into the 409 body.
type staleCurrent interface{ CurrentValue() any }

// toAPIError maps any error to the API error written to the client. hidden reports that
// err's own text is not in the answer (so that it is worth logging).
func toAPIError(err error) (ae *apiError, hidden bool) {
	if errors.As(err, &ae) {
		return ae, false
	}
	var ve *curhat.ValidationError
	if errors.As(err, &ve) {
		// The caller's input: the field and the rule, never the chain around it.
		return &apiError{Status: http.StatusBadRequest, Code: "VALIDATION_FAILED", Message: ve.Error(),
			Details: map[string]any{"field": ve.Field}}, false
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newAPIError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body exceeds %d bytes", maxBodyBytes), false
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			out := &apiError{Status: m.status, Code: m.code, Message: m.message}
			if m.field != "" {
				out.Details = map[string]any{"field": m.field}
			}
			var sc staleCurrent
			if errors.As(err, &sc) {
				out.Details = map[string]any{"current": staleCurrentJSON(sc.CurrentValue())}
			}
			return out, true
		}
	}
	if isTimeout(err) {
		return errTimedOut, true
	}
	if errors.Is(err, context.Canceled) {
		// The caller went away; nobody reads this answer, and it is not a server fault.
		return errRequestCancelled, true
	}
	return errInternal, true
}

func isTimeout(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// requestIDHeader is the response header that names a request in the server's log.
const requestIDHeader = "X-Request-Id"

// writeError writes err as {"error":{"code","message",...}}. What the answer leaves out goes
// to the log with the request id: 5xx as errors, refused domain operations at info level.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ae, hidden := toAPIError(err)
	switch {
	case ae.Status >= 500 && ae != errRequestCancelled:
		log.ErrorContext(r.Context(), "request failed", "request_id", w.Header().Get(requestIDHeader),
			"method", r.Method, "path", r.URL.Path, "status", ae.Status, "code", ae.Code, "err", err)
	case hidden && ae != errRequestCancelled:
		log.InfoContext(r.Context(), "request refused", "request_id", w.Header().Get(requestIDHeader),
			"method", r.Method, "path", r.URL.Path, "status", ae.Status, "code", ae.Code, "err", err)
	}
	body := map[string]any{"code": ae.Code, "message": ae.Message}
	for k, v := range ae.Details {
		body[k] = v
	}
	writeJSON(w, ae.Status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pathID parses the {name} path value as a UUID (400 INVALID_ID otherwise).
func pathID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := parseID(r.PathValue(name))
	if err != nil {
		return uuid.Nil, newAPIError(http.StatusBadRequest, "INVALID_ID", "%s must be a UUID", name)
	}
	return id, nil
}

// parseID parses a canonical UUID string.
func parseID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, errors.New("not a canonical UUID")
	}
	return uuid.Parse(s)
}

// rfc3339 is the date-time of RFC 3339 (and of the OpenAPI document): time.Parse alone
// also takes one-digit hours and other forms the document does not allow.
var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

// parseTime parses an RFC 3339 time given in field.
func parseTime(field, s string) (time.Time, error) {
	if !rfc3339.MatchString(s) {
		return time.Time{}, curhat.Invalid(field, "must be an RFC 3339 time")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, curhat.Invalid(field, "must be an RFC 3339 time")
	}
	return t, nil
}

// bodyID validates a UUID given in a JSON body field.
func bodyID(field, s string) (uuid.UUID, error) {
	id, err := parseID(s)
	if err != nil {
		return uuid.Nil, newAPIError(http.StatusBadRequest, "INVALID_ID", "%s must be a UUID", field)
	}
	return id, nil
}
