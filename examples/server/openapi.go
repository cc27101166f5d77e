package main

// The OpenAPI 3.1 document of the reference API, served at GET /openapi.json. It is built
// in Go from one table (apiOperations) so that shared shapes are written once;
// TestOpenAPI_DocumentsEveryRegisteredRoute keeps the table and the route table equal.

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// schema is a JSON Schema (2020-12, the dialect of OpenAPI 3.1) as a JSON object.
type schema = map[string]any

func refS(name string) schema { return schema{"$ref": "#/components/schemas/" + name} }
func stringS(desc string) schema {
	s := schema{"type": "string"}
	if desc != "" {
		s["description"] = desc
	}
	return s
}
func enumS(values ...string) schema { return schema{"type": "string", "enum": values} }
func uuidS() schema                 { return schema{"type": "string", "format": "uuid"} }
func timeS() schema                 { return schema{"type": "string", "format": "date-time"} }
func boolS() schema                 { return schema{"type": "boolean"} }
func intS() schema                  { return schema{"type": "integer"} }
func intRange(min, max int64) schema {
	return schema{"type": "integer", "minimum": min, "maximum": max}
}
func moneyS() schema {
	return schema{"type": "integer", "format": "int64", "description": "in the smallest unit of the currency"}
}
func arrayS(items schema) schema { return schema{"type": "array", "items": items} }

// nullableS widens a schema to accept null.
func nullableS(s schema) schema {
	if r, ok := s["$ref"]; ok {
		return schema{"oneOf": []any{schema{"$ref": r}, schema{"type": "null"}}}
	}
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	if t, ok := s["type"].(string); ok {
		out["type"] = []string{t, "null"}
	}
	if e, ok := s["enum"].([]string); ok {
		vals := make([]any, 0, len(e)+1)
		for _, v := range e {
			vals = append(vals, v)
		}
		out["enum"] = append(vals, nil)
	}
	return out
}

// objectS is a response object: every listed property is always present.
func objectS(props map[string]schema) schema {
	return schema{"type": "object", "properties": props, "required": sortedSchemaKeys(props)}
}

// optionalS drops keys from the required properties of an object schema.
func optionalS(s schema, keys ...string) schema {
	var req []string
	for _, k := range s["required"].([]string) {
		if !slices.Contains(keys, k) {
			req = append(req, k)
		}
	}
	s["required"] = req
	return s
}

// inputS is a request body: only required properties must be present, and unknown ones are
// refused (400 VALIDATION_FAILED).
func inputS(required []string, props map[string]schema) schema {
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// lenientS lets a request body carry properties beyond the listed ones (ignored): the
// payment provider may add fields to its webhook.
func lenientS(s schema) schema {
	delete(s, "additionalProperties")
	return s
}

func sortedSchemaKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var (
	pairingStatuses = []string{"awaiting_payment", "searching", "matched", "failed", "cancelled", "targeted_waiting", "targeted_unavailable"}
	pairingReasons  = []string{"no_mitra_available", "timeout", "targeted_declined", "targeted_timeout", "mitra_unreachable",
		"client_cancelled", "payment_expired", "payment_failed", "payment_cancelled", "payment_not_created", "abandoned"}
	paymentStatuses = []string{"pending", "paid", "failed", "expired", "cancelled", "partially_refunded", "refunded", "refund_failed"}
	sessionStates   = []string{"pending_payment", "active", "ended", "cancelled"}
	endReasons      = []string{"expired", "client_ended", "mitra_ended", "rerouted", "mitra_deactivated", "payment_expired", "payment_failed", "cancelled"}
	failureReasons  = []string{"no_mitra_available", "timeout", "targeted_declined", "targeted_timeout"}
)

func componentSchemas() map[string]schema {
	tier := objectS(map[string]schema{
		"id": uuidS(), "mode": enumS("session", "extension"), "minutes": intRange(1, 1440), "price": moneyS(),
		"currency": stringS("ISO 4217, e.g. IDR"), "label": stringS(""), "sort_order": intS(), "is_active": boolS(),
		"created_at": timeS(), "updated_at": timeS(),
	})
	tier["description"] = "A price for (mode, minutes). updated_at is the optimistic-lock token of the next write."
	return map[string]schema{
		"Error": objectS(map[string]schema{"error": schema{
			"type": "object", "required": []string{"code", "message"},
			"properties": map[string]schema{
				"code": enumS("VALIDATION_FAILED", "INVALID_ID", "UNAUTHENTICATED", "FORBIDDEN", "MITRA_DEACTIVATED",
					"NOT_FOUND", "METHOD_NOT_ALLOWED", "REQUEST_TIMEOUT", "STALE_WRITE", "DUPLICATE_TIER", "INVALID_STATE",
					"ALREADY_MATCHED", "AT_CAPACITY", "MITRA_UNAVAILABLE", "NO_PREVIOUS_SESSION", "NO_TIER", "PROVIDER_REF_MISMATCH",
					"EXPIRED", "PAYLOAD_TOO_LARGE", "TOO_MANY_STREAMS", "UNAVAILABLE", "INTERNAL"),
				"message": stringS("for people, not programs: a fixed sentence per code (VALIDATION_FAILED names the field and the rule); " +
					"the detail is in the server's log under the answer's X-Request-Id"),
				"field":   stringS("VALIDATION_FAILED: the offending field (\"body\" for the body as a whole)"),
				"current": schema{"description": "STALE_WRITE: the current row(s), to retry with their updated_at"},
			},
		}}),
		"Mitra": objectS(map[string]schema{
			"id": uuidS(), "display_name": stringS(""), "is_active": boolS(), "is_online": boolS(),
			"last_heartbeat_at": nullableS(timeS()), "max_concurrent_sessions": nullableS(intRange(1, 100)),
			"created_at": timeS(), "updated_at": timeS(),
		}),
		"Client": objectS(map[string]schema{"id": uuidS(), "display_name": stringS(""), "created_at": timeS()}),
		"Token":  objectS(map[string]schema{"token": stringS("opaque bearer token"), "expires_at": timeS()}),
		"ConfigItem": objectS(map[string]schema{
			"key": enumS("pairing_blast_timeout_seconds", "pairing_targeted_timeout_seconds", "payment_session_ttl_seconds",
				"extension_auto_approve", "mitra_max_concurrent_sessions"),
			"value":      schema{"description": "a JSON number or boolean, by key"},
			"updated_at": nullableS(timeS()),
		}),
		"Drift": optionalS(objectS(map[string]schema{
			"differences": nullableS(intS()), "by_field": schema{"type": "object", "additionalProperties": intS()},
			"mitras": intS(), "seeded": boolS(), "error": stringS("why the check failed (differences is null then)"),
		}), "error"),
		"Dashboard": objectS(map[string]schema{
			"online_count": intS(), "available_count": intS(), "active_sessions": intS(), "pending_payment_sessions": intS(),
			"unsettled_payments": schema{"type": "integer", "description": "paid money without an outcome after 10 minutes: " +
				"neither its chat or extension delivered nor refunds adding up to it, or a refund that has not gone through"},
			"drift": nullableS(refS("Drift")),
		}),
		"Tier":       tier,
		"TierList":   objectS(map[string]schema{"tiers": arrayS(refS("Tier"))}),
		"StaleTiers": arrayS(refS("Tier")),
		"HistoryEntry": schema{"type": "object", "required": []string{"id", "change_kind", "changed_by", "changed_at", "before", "after"},
			"properties": map[string]schema{
				"id": uuidS(), "tier_id": uuidS(), "promotion_id": uuidS(),
				"change_kind": enumS("create", "update", "deactivate", "reactivate", "reorder"),
				"changed_by":  stringS("operator:<id> or operator:bootstrap"), "changed_at": timeS(),
				"before": schema{"description": "the row before the change (null on create)"},
				"after":  schema{"description": "the row after the change"},
			}},
		"History": objectS(map[string]schema{"entries": arrayS(refS("HistoryEntry"))}),
		"Promotion": objectS(map[string]schema{
			"id": uuidS(), "kind": enumS("first_session_discount"), "enabled": boolS(), "discount_percent": intRange(0, 100),
			"max_discount_amount": nullableS(moneyS()), "eligible_minutes": arrayS(intRange(1, 1440)), "label": stringS(""),
			"updated_at": timeS(),
		}),
		"ClientPricing": objectS(map[string]schema{
			"currency": stringS(""),
			"session_tiers": arrayS(objectS(map[string]schema{
				"id": uuidS(), "minutes": intS(), "price": moneyS(), "discounted_price": nullableS(moneyS()), "label": stringS(""),
			})),
			"extension_tiers": arrayS(objectS(map[string]schema{"id": uuidS(), "minutes": intS(), "price": moneyS(), "label": stringS("")})),
			"first_session_discount": objectS(map[string]schema{
				"eligible": boolS(), "discount_percent": intS(), "max_discount_amount": nullableS(moneyS()), "label": stringS(""),
			}),
		}),
		"Beacon": objectS(map[string]schema{"available": boolS(), "available_count": intS(), "as_of": timeS()}),
		"Online": objectS(map[string]schema{"online": boolS()}),
		"MitraStatus": objectS(map[string]schema{
			"online": boolS(), "is_active": boolS(), "reachable": boolS(), "active_sessions": intS(), "max_concurrent_sessions": intS(),
		}),
		"Pairing": objectS(map[string]schema{
			"id": uuidS(), "type": enumS("blast", "targeted"), "status": enumS(pairingStatuses...),
			"target_mitra_id": nullableS(uuidS()), "minutes": intS(),
			"prepaid":    schema{"type": "boolean", "description": "a rerouted chat's blast: already paid"},
			"expires_at": nullableS(timeS()), "chat_session_id": nullableS(uuidS()),
			"failure_reason": nullableS(enumS(pairingReasons...)), "created_at": timeS(),
		}),
		"Payment": objectS(map[string]schema{
			"id": uuidS(), "purpose": enumS("chat_start", "extension"), "status": enumS(paymentStatuses...),
			"base_amount": moneyS(), "discount_amount": moneyS(), "amount": moneyS(), "currency": stringS(""),
			"refunded_amount": schema{"type": "integer", "format": "int64", "description": "the sum of the succeeded refunds (0..amount)"},
			"expires_at":      timeS(), "checkout_url": nullableS(stringS("")), "paid_at": nullableS(timeS()), "created_at": timeS(),
		}),
		"Refund": optionalS(objectS(map[string]schema{
			"id": uuidS(), "payment_id": uuidS(), "amount": moneyS(), "currency": stringS(""),
			"reason": stringS("why the money goes back"), "status": enumS("pending", "succeeded", "failed"),
			"attempts":        schema{"type": "integer", "description": "gateway calls so far"},
			"next_attempt_at": nullableS(schema{"type": "string", "format": "date-time", "description": "when the retry sweep may attempt it next (null: never attempted yet, succeeded, or out of attempts)"}),
			"last_error":      stringS("the gateway's answer to the last refused attempt"),
			"created_at":      timeS(), "updated_at": timeS(),
		}), "last_error"),
		"ChatSession": objectS(map[string]schema{
			"id": uuidS(), "client_id": uuidS(), "mitra_id": uuidS(), "status": enumS(sessionStates...), "minutes": intS(),
			"started_at": nullableS(timeS()), "ends_at": nullableS(timeS()), "ended_at": nullableS(timeS()),
			"end_reason": nullableS(enumS(endReasons...)),
		}),
		"Extension": objectS(map[string]schema{
			"id": uuidS(), "chat_session_id": uuidS(), "minutes": intS(), "amount": moneyS(),
			"status":        enumS("requested", "approved", "rejected", "paid", "expired"),
			"decided_by":    nullableS(enumS("auto", "mitra")),
			"reject_reason": nullableS(stringS("mitra_offline, mitra_declined, …")),
		}),
		"Offer": objectS(map[string]schema{
			"pairing_id": uuidS(), "type": enumS("blast", "targeted"), "minutes": intS(), "expires_at": timeS(),
		}),
		"Failure": objectS(map[string]schema{
			"id": uuidS(), "pairing_id": uuidS(), "client_id": uuidS(), "type": enumS("blast", "targeted"),
			"target_mitra_id": nullableS(uuidS()), "reason": enumS(failureReasons...), "offered_count": intS(),
			"amount": moneyS(), "refund_status": enumS("not_charged", "refunded", "refund_failed"),
			"status": enumS("open", "resolved"), "resolved_by": stringS(""), "resolved_at": nullableS(timeS()),
			"note": stringS(""), "created_at": timeS(),
		}),
	}
}

// errorResponses are the shared error answers, by status.
var errorResponses = map[int]struct{ name, desc string }{
	400: {"BadRequest", "VALIDATION_FAILED (malformed JSON, unknown field, wrong type, out-of-range value; error.field names it) or INVALID_ID"},
	401: {"Unauthenticated", "UNAUTHENTICATED: missing, unknown, expired or revoked bearer token (webhook: missing or invalid X-Signature): sign in again"},
	403: {"Forbidden", "FORBIDDEN: the token's subject may not use this route; MITRA_DEACTIVATED: the token is a deactivated mitra's (signing in again will not help)"},
	404: {"NotFound", "NOT_FOUND: no such resource, or not the caller's"},
	405: {"MethodNotAllowed", "METHOD_NOT_ALLOWED: the path exists for other methods, listed in the Allow header"},
	408: {"RequestTimeout", "REQUEST_TIMEOUT: the body was not received within HTTP_READ_TIMEOUT_SECONDS"},
	409: {"Conflict", "STALE_WRITE (error.current holds the current row), DUPLICATE_TIER, INVALID_STATE, ALREADY_MATCHED, AT_CAPACITY, MITRA_UNAVAILABLE, NO_PREVIOUS_SESSION, NO_TIER; webhook: PROVIDER_REF_MISMATCH"},
	410: {"Gone", "EXPIRED: the offer's deadline passed"},
	413: {"PayloadTooLarge", "PAYLOAD_TOO_LARGE: the body exceeds 1 MiB"},
	429: {"TooManyStreams", "TOO_MANY_STREAMS: the caller already holds SSE_MAX_STREAMS_PER_SUBJECT event streams on this instance"},
	503: {"Unavailable", "UNAVAILABLE: Postgres is unreachable or did not answer in time (or, for an event stream, the instance holds SSE_MAX_STREAMS)"},
}

// apiOp documents one route.
type apiOp struct {
	Method, Path string
	Summary      string
	Query        []queryParam
	Body         schema // nil: no body
	Status       int
	Response     schema // nil: no JSON body
	Errors       []int  // beyond the ones implied by role, body and path ids
	Stream       bool   // text/event-stream
	Header       []queryParam
}

type queryParam struct {
	Name   string
	Schema schema
	Desc   string
}

func apiOperations() []apiOp {
	minutes := intRange(1, 1440)
	expected := stringS("the updated_at last read (RFC 3339); a changed row answers 409 STALE_WRITE")
	expected["format"] = "date-time"
	pairingID := inputS([]string{"pairing_id"}, map[string]schema{"pairing_id": uuidS()})
	pb := "/api/internal/pricing"
	return []apiOp{
		// Public.
		{Method: "GET", Path: "/healthz", Summary: "Liveness", Status: 200, Response: objectS(map[string]schema{"status": enumS("ok")})},
		{Method: "GET", Path: "/readyz", Summary: "Readiness: 503 when Postgres is down; Valkey down is degraded, still ready",
			Status: 200, Response: objectS(map[string]schema{
				"postgres": enumS("ok", "down", "memory"), "valkey": enumS("ok", "degraded", "disabled", "memory"),
			})},
		{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics (text exposition format)", Status: 200},
		{Method: "GET", Path: "/openapi.json", Summary: "This document", Status: 200, Response: schema{"type": "object"}},
		{Method: "POST", Path: "/api/payments/webhook",
			Summary: "Payment provider confirmation, signed: X-Signature = hex(HMAC-SHA256(PAYMENT_WEBHOOK_SECRET, raw body)); idempotent",
			Header:  []queryParam{{Name: "X-Signature", Schema: stringS("hex HMAC-SHA256 of the raw body"), Desc: "required"}},
			Body: lenientS(inputS([]string{"payment_id", "status"}, map[string]schema{
				"payment_id": uuidS(), "status": enumS("paid", "failed"),
				"provider_ref": schema{"type": "string", "maxLength": 200, "description": "when the payment already has one, they must be equal (409 PROVIDER_REF_MISMATCH)"},
			})),
			Status: 200, Response: objectS(map[string]schema{"payment": refS("Payment")}), Errors: []int{404, 409}},

		// Operators.
		{Method: "POST", Path: "/api/internal/mitras", Summary: "Create a mitra",
			Body: inputS([]string{"display_name"}, map[string]schema{
				"display_name": schema{"type": "string", "minLength": 1, "maxLength": 200}, "max_concurrent_sessions": intRange(1, 100),
			}), Status: 201, Response: refS("Mitra")},
		{Method: "GET", Path: "/api/internal/mitras/{id}", Summary: "Get a mitra", Status: 200, Response: refS("Mitra")},
		{Method: "PATCH", Path: "/api/internal/mitras/{id}/status",
			Summary: "Deactivate (revokes its tokens, ends its sessions as prepaid blasts) or reactivate a mitra",
			Body:    inputS([]string{"is_active"}, map[string]schema{"is_active": boolS()}), Status: 200, Response: refS("Mitra")},
		{Method: "POST", Path: "/api/internal/clients", Summary: "Create a client",
			Body:   inputS([]string{"display_name"}, map[string]schema{"display_name": schema{"type": "string", "minLength": 1, "maxLength": 200}}),
			Status: 201, Response: refS("Client")},
		{Method: "POST", Path: "/api/internal/tokens", Summary: "Mint a bearer token for a subject",
			Body: inputS([]string{"subject_kind", "subject_id"}, map[string]schema{
				"subject_kind": enumS("client", "mitra", "operator"), "subject_id": uuidS(),
				"ttl_seconds": intRange(1, int64(maxTokenTTL.Seconds())),
			}), Status: 201, Response: refS("Token"), Errors: []int{404}},
		{Method: "POST", Path: "/api/internal/tokens/revoke",
			Summary: "Revoke every token of a subject: every instance refuses them at once and closes their event streams (204)",
			Body: inputS([]string{"subject_kind", "subject_id"}, map[string]schema{
				"subject_kind": enumS("client", "mitra", "operator"), "subject_id": uuidS(),
			}), Status: 204, Errors: []int{404}},
		{Method: "GET", Path: "/api/internal/config", Summary: "Runtime settings",
			Status: 200, Response: objectS(map[string]schema{"items": arrayS(refS("ConfigItem"))})},
		{Method: "PUT", Path: "/api/internal/config/{key}", Summary: "Change a runtime setting (every instance sees it at once)",
			Body:   inputS([]string{"value"}, map[string]schema{"value": schema{"description": "a JSON number or boolean, by key"}}),
			Status: 200, Response: refS("ConfigItem")},
		{Method: "GET", Path: "/api/internal/dashboard", Summary: "Live counts and the Valkey mirror's drift (null without Valkey)",
			Status: 200, Response: refS("Dashboard")},
		{Method: "GET", Path: pb + "/tiers", Summary: "Price tiers by sort order",
			Query:  []queryParam{{Name: "mode", Schema: enumS("session", "extension")}, {Name: "include_inactive", Schema: boolS()}},
			Status: 200, Response: refS("TierList")},
		{Method: "POST", Path: pb + "/tiers", Summary: "Create a tier",
			Body: inputS([]string{"mode", "minutes", "price"}, map[string]schema{
				"mode": enumS("session", "extension"), "minutes": minutes, "price": intRange(0, 1_000_000_000),
				"label": schema{"type": "string", "maxLength": 100},
			}), Status: 201, Response: refS("Tier"), Errors: []int{409}},
		{Method: "POST", Path: pb + "/tiers/reorder", Summary: "Reorder every tier of a mode (all or nothing)",
			Body: inputS([]string{"mode", "tiers"}, map[string]schema{
				"mode": enumS("session", "extension"),
				"tiers": arrayS(inputS([]string{"id", "expected_updated_at"}, map[string]schema{
					"id": uuidS(), "expected_updated_at": expected,
				})),
			}), Status: 200, Response: refS("TierList"), Errors: []int{404, 409}},
		{Method: "PATCH", Path: pb + "/tiers/{id}", Summary: "Change a tier's price or label (mode and minutes are read-only)",
			Body: inputS([]string{"expected_updated_at"}, map[string]schema{
				"expected_updated_at": expected, "price": intRange(0, 1_000_000_000), "label": schema{"type": "string", "maxLength": 100},
				"mode": schema{"description": "refused: read-only"}, "minutes": schema{"description": "refused: read-only"},
			}), Status: 200, Response: refS("Tier"), Errors: []int{409}},
		{Method: "POST", Path: pb + "/tiers/{id}/deactivate", Summary: "Deactivate a tier (soft delete)",
			Body:   inputS([]string{"expected_updated_at"}, map[string]schema{"expected_updated_at": expected}),
			Status: 200, Response: refS("Tier"), Errors: []int{409}},
		{Method: "POST", Path: pb + "/tiers/{id}/reactivate", Summary: "Reactivate a tier",
			Body:   inputS([]string{"expected_updated_at"}, map[string]schema{"expected_updated_at": expected}),
			Status: 200, Response: refS("Tier"), Errors: []int{409}},
		{Method: "GET", Path: pb + "/tiers/{id}/history", Summary: "A tier's audit history, newest first", Status: 200, Response: refS("History")},
		{Method: "GET", Path: pb + "/promotions/first-session", Summary: "The first-session discount", Status: 200, Response: refS("Promotion")},
		{Method: "PUT", Path: pb + "/promotions/first-session", Summary: "Change the first-session discount",
			Body: inputS([]string{"enabled", "discount_percent"}, map[string]schema{
				"expected_updated_at": expected, "enabled": boolS(), "discount_percent": intRange(0, 100),
				"max_discount_amount": nullableS(moneyS()), "eligible_minutes": arrayS(minutes), "label": schema{"type": "string", "maxLength": 100},
			}), Status: 200, Response: refS("Promotion"), Errors: []int{409}},
		{Method: "GET", Path: pb + "/promotions/first-session/history", Summary: "The discount's audit history, newest first",
			Status: 200, Response: refS("History")},
		{Method: "GET", Path: "/api/internal/failed-pairings", Summary: "Failed pairings, newest first",
			Query: []queryParam{
				{Name: "reason", Schema: enumS(failureReasons...)}, {Name: "status", Schema: enumS("open", "resolved")},
				{Name: "type", Schema: enumS("blast", "targeted")}, {Name: "from", Schema: timeS()}, {Name: "to", Schema: timeS()},
				{Name: "page", Schema: intRange(1, 1_000_000)}, {Name: "page_size", Schema: intRange(1, 100)},
			},
			Status: 200, Response: objectS(map[string]schema{
				"items": arrayS(refS("Failure")), "page": intS(), "page_size": intS(), "total": intS(),
			})},
		{Method: "GET", Path: "/api/internal/refunds", Summary: "Refunds, newest first (failed ones: refused by the gateway; retried with backoff, at most 10 times)",
			Query: []queryParam{
				{Name: "status", Schema: enumS("pending", "succeeded", "failed")},
				{Name: "page", Schema: intRange(1, 1_000_000)}, {Name: "page_size", Schema: intRange(1, 100)},
			},
			Status: 200, Response: objectS(map[string]schema{
				"items": arrayS(refS("Refund")), "page": intS(), "page_size": intS(), "total": intS(),
			})},
		{Method: "POST", Path: "/api/internal/refunds/{id}/retry",
			Summary: "Attempt a refund now, whatever its backoff; a succeeded refund (or one in flight) answers 409 INVALID_STATE",
			Status:  200, Response: refS("Refund"), Errors: []int{409}},
		{Method: "POST", Path: "/api/internal/fake-gateway/refund-failures",
			Summary: "The fake payment gateway refuses the next count refunds (0 stops); 404 unless the fake gateway is in use",
			Body:    inputS([]string{"count"}, map[string]schema{"count": intRange(0, maxFakeRefundFailures)}),
			Status:  200, Response: objectS(map[string]schema{"count": intS()}), Errors: []int{404}},
		{Method: "POST", Path: "/api/internal/failed-pairings/{id}/actions",
			Summary: "refund (retry a refund_failed refund now) or resolve; a resolved failure answers 409 INVALID_STATE",
			Body: inputS([]string{"action"}, map[string]schema{
				"action": enumS("refund", "resolve"), "note": schema{"type": "string", "maxLength": 2000},
			}), Status: 200, Response: refS("Failure"), Errors: []int{409}},

		// Clients.
		{Method: "GET", Path: "/api/client/chat/pricing", Summary: "Active tiers and the caller's first-session discount",
			Status: 200, Response: refS("ClientPricing")},
		{Method: "GET", Path: "/api/client/mitra-availability", Summary: "The beacon: is anyone available?", Status: 200, Response: refS("Beacon")},
		{Method: "POST", Path: "/api/client/chat/start", Summary: "Start a paid blast: pay the returned payment, then the blast searches",
			Header: []queryParam{{Name: "Idempotency-Key", Schema: schema{"type": "string", "maxLength": 200},
				Desc: "a retry with the same key returns the same pairing and payment"}},
			Body:   inputS([]string{"minutes"}, map[string]schema{"minutes": minutes}),
			Status: 201, Response: objectS(map[string]schema{"pairing": refS("Pairing"), "payment": refS("Payment")}), Errors: []int{409}},
		{Method: "POST", Path: "/api/client/chat/returning", Summary: "\"Curhat lagi\": ask a previous mitra again; charged only after it accepts",
			Body:   inputS([]string{"mitra_id", "minutes"}, map[string]schema{"mitra_id": uuidS(), "minutes": minutes}),
			Status: 201, Response: objectS(map[string]schema{"pairing": refS("Pairing")}), Errors: []int{404, 409}},
		{Method: "POST", Path: "/api/client/chat/cancel", Summary: "Cancel a pairing before the match; what was paid is refunded",
			Body: pairingID, Status: 200, Response: objectS(map[string]schema{"pairing": refS("Pairing")}), Errors: []int{404, 409}},
		{Method: "POST", Path: "/api/client/chat/fallback-to-blast", Summary: "Turn a targeted_unavailable pairing into a blast awaiting payment",
			Body: pairingID, Status: 200, Response: objectS(map[string]schema{"pairing": refS("Pairing"), "payment": refS("Payment")}),
			Errors: []int{404, 409}},
		{Method: "GET", Path: "/api/client/pairings/{id}", Summary: "One of the caller's pairings",
			Status: 200, Response: objectS(map[string]schema{
				"pairing": refS("Pairing"), "payment": nullableS(refS("Payment")), "chat_session": nullableS(refS("ChatSession")),
			})},
		{Method: "GET", Path: "/api/client/payments/{id}", Summary: "One of the caller's payment sessions", Status: 200, Response: refS("Payment")},
		{Method: "GET", Path: "/api/client/chat-sessions/{id}", Summary: "One of the caller's chat sessions", Status: 200, Response: refS("ChatSession")},
		{Method: "POST", Path: "/api/client/chat-sessions/{id}/end", Summary: "End the chat session",
			Status: 200, Response: objectS(map[string]schema{"chat_session": refS("ChatSession")}), Errors: []int{409}},
		{Method: "POST", Path: "/api/client/chat-sessions/{id}/extensions", Summary: "Ask for more minutes (an extension tier)",
			Body:   inputS([]string{"minutes"}, map[string]schema{"minutes": minutes}),
			Status: 201, Response: objectS(map[string]schema{"extension": refS("Extension"), "payment": nullableS(refS("Payment"))}),
			Errors: []int{409}},
		{Method: "POST", Path: "/api/client/chat-sessions/{id}/reroute",
			Summary: "The mitra is gone: end the session and blast the remaining minutes, prepaid",
			Status:  201, Response: objectS(map[string]schema{"pairing": refS("Pairing")}), Errors: []int{409}},
		{Method: "GET", Path: "/api/client/events", Summary: "Server-Sent Events for the caller", Status: 200, Stream: true, Errors: []int{429}},
		{Method: "POST", Path: "/api/client/logout", Summary: "Revoke the token of this request (204); its event streams close", Status: 204},

		// Mitras.
		{Method: "POST", Path: "/api/mitra/status/online", Summary: "Go online", Status: 200, Response: refS("Online"), Errors: []int{404}},
		{Method: "POST", Path: "/api/mitra/status/offline", Summary: "Go offline", Status: 200, Response: refS("Online"), Errors: []int{404}},
		{Method: "POST", Path: "/api/mitra/status/heartbeat", Summary: "Heartbeat; says whether the mitra is still online",
			Status: 200, Response: refS("Online"), Errors: []int{404}},
		{Method: "GET", Path: "/api/mitra/status", Summary: "The caller's availability", Status: 200, Response: refS("MitraStatus"), Errors: []int{404}},
		{Method: "GET", Path: "/api/mitra/pairing-offers", Summary: "Live offers", Status: 200,
			Response: objectS(map[string]schema{"offers": arrayS(refS("Offer"))})},
		{Method: "POST", Path: "/api/mitra/pairing-offers/{pairing_id}/accept", Summary: "Accept an offer (first accept wins)",
			Status: 200, Response: objectS(map[string]schema{"chat_session": refS("ChatSession")}), Errors: []int{409, 410}},
		{Method: "POST", Path: "/api/mitra/pairing-offers/{pairing_id}/decline", Summary: "Decline an offer",
			Status: 200, Response: objectS(map[string]schema{"declined": boolS()}), Errors: []int{409, 410}},
		{Method: "GET", Path: "/api/mitra/chat-sessions", Summary: "The caller's chat sessions (at most 100)",
			Query:  []queryParam{{Name: "status", Schema: enumS(sessionStates...)}},
			Status: 200, Response: objectS(map[string]schema{"chat_sessions": arrayS(refS("ChatSession"))})},
		{Method: "POST", Path: "/api/mitra/chat-sessions/{id}/end", Summary: "End the chat session",
			Status: 200, Response: objectS(map[string]schema{"chat_session": refS("ChatSession")}), Errors: []int{409}},
		{Method: "POST", Path: "/api/mitra/extensions/{id}/approve", Summary: "Approve an extension (its payment session is created)",
			Status: 200, Response: objectS(map[string]schema{"extension": refS("Extension"), "payment": refS("Payment")}), Errors: []int{409}},
		{Method: "POST", Path: "/api/mitra/extensions/{id}/reject", Summary: "Reject an extension",
			Status: 200, Response: objectS(map[string]schema{"extension": refS("Extension")}), Errors: []int{409}},
		{Method: "GET", Path: "/api/mitra/events", Summary: "Server-Sent Events for the caller", Status: 200, Stream: true, Errors: []int{429}},
		{Method: "POST", Path: "/api/mitra/logout", Summary: "Revoke the token of this request (204); its event streams close", Status: 204},
	}
}

var openAPIPathParam = regexp.MustCompile(`\{([^}]+)\}`)

// openAPIDocument builds the document; roles come from the route table.
func openAPIDocument(routes []route) map[string]any {
	roles := map[string]role{}
	for _, r := range routes {
		roles[r.Method+" "+r.Path] = r.Role
	}
	paths := map[string]map[string]any{}
	for _, op := range apiOperations() {
		who, ok := roles[op.Method+" "+op.Path]
		if !ok && op.Path == "/metrics" {
			continue // served on METRICS_ADDR, not by this API
		}
		if !ok {
			who = rolePublic // documented but not registered: the test names it
		}
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = op.document(who)
	}
	components := map[string]any{
		"schemas": componentSchemas(),
		"securitySchemes": map[string]any{
			"operator": schema{"type": "http", "scheme": "bearer", "description": "OPERATOR_TOKEN, or a token minted with subject_kind operator"},
			"client":   schema{"type": "http", "scheme": "bearer", "description": "a token minted with subject_kind client"},
			"mitra":    schema{"type": "http", "scheme": "bearer", "description": "a token minted with subject_kind mitra"},
		},
		"responses": map[string]any{},
	}
	for _, e := range errorResponses {
		components["responses"].(map[string]any)[e.name] = map[string]any{
			"description": e.desc,
			"headers":     requestIDHeaderDoc(),
			"content":     map[string]any{"application/json": map[string]any{"schema": refS("Error")}},
		}
	}
	return map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": map[string]any{
			"title":   "curhat reference server",
			"version": "1",
			"description": "Paid 1:1 live chat between clients and listeners (mitra). JSON in and out; ids are UUIDs, " +
				"times RFC 3339 UTC, money an integer amount in the currency's smallest unit. Every error is " +
				"{\"error\":{\"code\",\"message\",...}}, unknown paths (404 NOT_FOUND) and methods (405 METHOD_NOT_ALLOWED, " +
				"with Allow) included; bad input never yields a 5xx. Request bodies are refused with duplicate keys or keys " +
				"that differ from a property's name only in case. Every answer carries X-Request-Id, the request's name " +
				"in the server's log.",
		},
		"paths":      paths,
		"components": components,
	}
}

func (op apiOp) document(who role) map[string]any {
	out := map[string]any{
		"summary":     op.Summary,
		"operationId": operationID(op.Method, op.Path),
		"tags":        []string{who.String()},
	}
	if who == rolePublic {
		out["security"] = []any{}
	} else {
		out["security"] = []any{map[string]any{who.String(): []string{}}}
	}
	var params []any
	for _, m := range openAPIPathParam.FindAllStringSubmatch(op.Path, -1) {
		p := map[string]any{"name": m[1], "in": "path", "required": true, "schema": uuidS()}
		if m[1] == "key" {
			p["schema"] = componentSchemas()["ConfigItem"]["properties"].(map[string]schema)["key"]
		}
		params = append(params, p)
	}
	for _, q := range op.Query {
		p := map[string]any{"name": q.Name, "in": "query", "required": false, "schema": q.Schema}
		if q.Desc != "" {
			p["description"] = q.Desc
		}
		params = append(params, p)
	}
	for _, h := range op.Header {
		params = append(params, map[string]any{"name": h.Name, "in": "header", "required": h.Desc == "required",
			"schema": h.Schema, "description": h.Desc})
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if op.Body != nil {
		out["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": op.Body}},
		}
	}
	ok := map[string]any{"description": http.StatusText(op.Status), "headers": requestIDHeaderDoc()}
	switch {
	case op.Stream:
		ok["description"] = "an event stream: `event: <kind>` + `data: {\"kind\",\"data\",\"at\"}`; comments keep it open"
		ok["content"] = map[string]any{"text/event-stream": map[string]any{"schema": stringS("")}}
	case op.Path == "/metrics":
		ok["content"] = map[string]any{"text/plain": map[string]any{"schema": stringS("Prometheus text format")}}
	case op.Response != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": op.Response}}
	}
	responses := map[string]any{strconv.Itoa(op.Status): ok}
	if op.Path == "/readyz" {
		responses["503"] = map[string]any{"description": "Postgres is down (the same body)", "content": ok["content"]}
	}
	errs := map[int]bool{}
	for _, e := range op.Errors {
		errs[e] = true
	}
	if who != rolePublic {
		errs[401], errs[403], errs[503] = true, true, true
	}
	if op.Path == "/api/payments/webhook" {
		errs[401], errs[503] = true, true
	}
	if op.Body != nil {
		errs[400], errs[408], errs[413] = true, true, true
	}
	if strings.Contains(op.Path, "{id}") || strings.Contains(op.Path, "{pairing_id}") {
		errs[400], errs[404] = true, true
	}
	if op.Query != nil || strings.Contains(op.Path, "{key}") {
		errs[400] = true
	}
	for status := range errs {
		responses[strconv.Itoa(status)] = map[string]any{"$ref": "#/components/responses/" + errorResponses[status].name}
	}
	out["responses"] = responses
	return out
}

// requestIDHeaderDoc documents X-Request-Id, on every answer.
func requestIDHeaderDoc() map[string]any {
	return map[string]any{requestIDHeader: map[string]any{
		"description": "names the request in the server's log (16 hex digits)", "schema": stringS(""),
	}}
}

// operationID is e.g. "postApiClientChatStart" for POST /api/client/chat/start.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '-' || r == '_' || r == '.' }) {
		if strings.HasPrefix(part, "{") {
			part = "By" + strings.Trim(part, "{}")
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func (s *Server) openAPIRoutes() {
	// Built at the first request, when the route table is complete.
	doc := sync.OnceValue(func() []byte {
		raw, err := json.Marshal(openAPIDocument(s.routes))
		if err != nil {
			panic(err) // the document is static data
		}
		return raw
	})
	s.handle("GET", "/openapi.json", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc())
		return nil
	})
}
