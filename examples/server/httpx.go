package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
)

// maxBodyBytes bounds every request body; larger bodies get 413 PAYLOAD_TOO_LARGE.
const maxBodyBytes = 1 << 20

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
	errRequestCancelled = newAPIError(http.StatusServiceUnavailable, "UNAVAILABLE", "the request was cancelled")
	errUnauthenticated  = newAPIError(http.StatusUnauthorized, "UNAUTHENTICATED", "a valid bearer token is required")
	errForbidden        = newAPIError(http.StatusForbidden, "FORBIDDEN", "this token may not use this route")
)

// errorMapping maps a domain error (matched with errors.Is) to its HTTP status and code.
// This table is the one place where domain errors become API errors; add rows here.
type errorMapping struct {
	err    error
	status int
	code   string
}

// Rows are tried in order: specific domain errors first, then the shared sentinels (some
// domain errors wrap them).
var errorTable = []errorMapping{
	{pricing.ErrDuplicateTier, http.StatusConflict, "DUPLICATE_TIER"},
	{pricing.ErrNoTier, http.StatusConflict, "NO_TIER"},
	{pairing.ErrNoTier, http.StatusConflict, "NO_TIER"},
	{pairing.ErrAlreadyMatched, http.StatusConflict, "ALREADY_MATCHED"},
	{pairing.ErrAtCapacity, http.StatusConflict, "AT_CAPACITY"},
	{pairing.ErrExpired, http.StatusGone, "EXPIRED"},
	{pairing.ErrNoPreviousSession, http.StatusConflict, "NO_PREVIOUS_SESSION"},
	{pairing.ErrMitraUnavailable, http.StatusConflict, "MITRA_UNAVAILABLE"},
	{extension.ErrMitraUnavailable, http.StatusConflict, "MITRA_UNAVAILABLE"},
	{curhat.ErrNotFound, http.StatusNotFound, "NOT_FOUND"},
	{curhat.ErrStaleWrite, http.StatusConflict, "STALE_WRITE"},
	{curhat.ErrDeactivated, http.StatusForbidden, "MITRA_DEACTIVATED"},
	{curhat.ErrInvalidState, http.StatusConflict, "INVALID_STATE"},
	{curhat.ErrConflict, http.StatusConflict, "INVALID_STATE"},
	{curhat.ErrUnavailable, http.StatusServiceUnavailable, "UNAVAILABLE"},
}

// staleCurrent lets a stale-write error carry the current row into the 409 body.
type staleCurrent interface{ CurrentValue() any }

// toAPIError maps any error to the API error written to the client.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ve *curhat.ValidationError
	if errors.As(err, &ve) {
		return &apiError{Status: http.StatusBadRequest, Code: "VALIDATION_FAILED", Message: ve.Error(),
			Details: map[string]any{"field": ve.Field}}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newAPIError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body exceeds %d bytes", maxBodyBytes)
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			out := &apiError{Status: m.status, Code: m.code, Message: err.Error()}
			var sc staleCurrent
			if errors.As(err, &sc) {
				out.Details = map[string]any{"current": sc.CurrentValue()}
			}
			return out
		}
	}
	if isTimeout(err) {
		return newAPIError(http.StatusServiceUnavailable, "UNAVAILABLE", "a backing service did not answer in time")
	}
	if errors.Is(err, context.Canceled) {
		// The caller went away; nobody reads this answer, and it is not a server fault.
		return errRequestCancelled
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "INTERNAL", Message: "internal error"}
}

func isTimeout(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// writeError writes err as {"error":{"code","message",...}}; 5xx are logged.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 && ae != errRequestCancelled {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "err", err)
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

// decodeJSON reads exactly one JSON object from the body into v: unknown fields, trailing
// data, wrong types and bodies over 1 MiB are refused with 4xx errors naming the problem.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return &curhat.ValidationError{Field: "body", Reason: "must contain a single JSON object"}
	}
	return nil
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return &curhat.ValidationError{Field: "body", Reason: "a JSON object is required"}
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &curhat.ValidationError{Field: "body", Reason: "malformed JSON"}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &curhat.ValidationError{Field: field, Reason: "must be " + jsonKind(typ.Type.Kind().String())}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &curhat.ValidationError{Field: name, Reason: "unknown field"}
	default:
		return &curhat.ValidationError{Field: "body", Reason: "invalid JSON: " + err.Error()}
	}
}

func jsonKind(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
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

// bodyID validates a UUID given in a JSON body field.
func bodyID(field, s string) (uuid.UUID, error) {
	id, err := parseID(s)
	if err != nil {
		return uuid.Nil, newAPIError(http.StatusBadRequest, "INVALID_ID", "%s must be a UUID", field)
	}
	return id, nil
}
