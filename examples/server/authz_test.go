package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The authorization matrix: every registered route × every kind of caller → the expected
// status. authzRows is keyed by the route as registered ("METHOD PATTERN"); a route added
// without its row fails TestAuthz_MatrixCoversEveryRoute.

// subject is a kind of caller.
type subject int

const (
	subjNone             subject = iota // no Authorization header
	subjExpired                         // a client token past its expires_at
	subjRevoked                         // a client token revoked in the store
	subjClient                          // the client owning the row's resources
	subjOtherClient                     // a client owning none of them
	subjMitra                           // the mitra owning the row's resources
	subjOtherMitra                      // a mitra owning none of them
	subjDeactivatedMitra                // a mitra deactivated after its token was minted (403 MITRA_DEACTIVATED)
	subjInactiveOperator                // an operator deactivated after its token was minted (401)
	subjViewer                          // an operator account with the viewer role
	subjSupport                         // an operator account with the support role
	subjAdmin                           // an operator account with the admin role
	subjBootstrap                       // the OPERATOR_TOKEN of the environment (an admin)
)

var allSubjects = []subject{subjNone, subjExpired, subjRevoked, subjClient, subjOtherClient,
	subjMitra, subjOtherMitra, subjDeactivatedMitra, subjInactiveOperator, subjViewer, subjSupport, subjAdmin, subjBootstrap}

func (s subject) String() string {
	return [...]string{"no token", "expired token", "revoked token", "client", "another client",
		"mitra", "another mitra", "deactivated mitra", "deactivated operator", "viewer", "support", "admin",
		"bootstrap operator"}[s]
}

// role is the role the subject's token passes as; rolePublic when it passes as none.
func (s subject) role() role {
	switch s {
	case subjClient, subjOtherClient:
		return roleClient
	case subjMitra, subjOtherMitra:
		return roleMitra
	case subjViewer:
		return roleViewer
	case subjSupport:
		return roleSupport
	case subjAdmin, subjBootstrap:
		return roleAdmin
	}
	return rolePublic
}

// owner reports whether s is served as the owner of a route of role r: the owning client
// or mitra, or an operator whose role is r's or above.
func (s subject) owner(r role) bool {
	switch {
	case r.operator():
		return s.role() >= r
	case r == roleClient:
		return s == subjClient
	case r == roleMitra:
		return s == subjMitra
	}
	return false
}

// authzRow is the expectation of one route.
type authzRow struct {
	// setup makes what the route acts on (owned by "client" and "mitra") and returns the
	// request. Nil: the registered path, no body.
	setup func(f *authzFixture) authzRequest
	// public is the status of a public route for every subject.
	public int
	// owner is the status for the subject of the route's role that owns the resources
	// (client, mitra or operator); other is the status for the other client or mitra.
	owner, other int
	// after restores what the request changed that later rows rely on.
	after func(f *authzFixture)
	// auditedRead marks an operator GET whose every 2xx answer writes an audit row (a read
	// of what operators may see only with a trace: a chat session's messages).
	auditedRead bool
}

// authzRequest is one row's request.
type authzRequest struct {
	path string
	body any
	// client is the owning client's token when the row made a fresh one (a client has
	// one open pairing at a time, so rows about pairings each need their own).
	client string
	// tokens replace the fixture's tokens of some subjects for this row (a logout revokes
	// the token it is called with).
	tokens map[subject]string
	// header holds request headers: name, value, … (an operator refund's Idempotency-Key).
	header []string
}

const (
	tiersPath = "/api/internal/pricing/tiers"
	promoPath = "/api/internal/pricing/promotions/first-session"
)

func authzRows() map[string]authzRow {
	path := func(p string) func(*authzFixture) authzRequest {
		return func(*authzFixture) authzRequest { return authzRequest{path: p} }
	}
	req := func(p string, body any) func(*authzFixture) authzRequest {
		return func(*authzFixture) authzRequest { return authzRequest{path: p, body: body} }
	}
	return map[string]authzRow{
		// Public.
		"GET /healthz":        {public: 200},
		"GET /readyz":         {public: 200},
		"GET /metrics":        {public: 200},
		"GET /openapi.json":   {public: 200},
		"GET /console":        {public: 200}, // redirected to /console/ (the client follows)
		"GET /console/{$}":    {public: 200, setup: path("/console/")},
		"GET /console/{file}": {public: 200, setup: path("/console/app.js")},

		// The apps.
		"GET /app/client":        {public: 200}, // redirected to /app/client/ (the client follows)
		"GET /app/client/{$}":    {public: 200, setup: path("/app/client/")},
		"GET /app/client/{file}": {public: 200, setup: path("/app/client/app.js")},
		"GET /app/mitra":         {public: 200},
		"GET /app/mitra/{$}":     {public: 200, setup: path("/app/mitra/")},
		"GET /app/mitra/{file}":  {public: 200, setup: path("/app/mitra/api.js")},
		"GET /fake-gateway/checkout/{token}": {public: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: f.checkoutPath(f.activeSession(f.mitraTok).payment)}
		}},
		"POST /fake-gateway/checkout/{token}": {public: 400, setup: func(f *authzFixture) authzRequest { // no outcome field
			return authzRequest{path: f.checkoutPath(f.activeSession(f.mitraTok).payment), body: map[string]any{}}
		}},
		"POST /api/payments/webhook": {public: 401, // no X-Signature, whatever the bearer token
			setup: req("/api/payments/webhook", map[string]any{"payment_id": uuid.NewString(), "status": "paid"})},

		// Operators.
		"POST /api/internal/mitras": {owner: 201, setup: req("/api/internal/mitras", map[string]any{"display_name": "Matrix"})},
		"GET /api/internal/mitras/{id}": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/mitras/" + f.mitra.String()}
		}},
		"PATCH /api/internal/mitras/{id}/status": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/mitras/" + f.mitra.String() + "/status", body: map[string]any{"is_active": true}}
		}},
		"POST /api/internal/clients": {owner: 201, setup: req("/api/internal/clients", map[string]any{"display_name": "Matrix"})},
		"POST /api/internal/tokens": {owner: 201, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/tokens", body: map[string]any{"subject_kind": "client", "subject_id": f.client.String()}}
		}},
		"POST /api/internal/tokens/revoke": {owner: 204, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/tokens/revoke", body: map[string]any{"subject_kind": "client", "subject_id": f.freshClient().id.String()}}
		}},
		"GET /api/internal/operators/me": {owner: 200},
		"GET /api/internal/operators":    {owner: 200},
		"POST /api/internal/operators": {owner: 201,
			setup: req("/api/internal/operators", map[string]any{"display_name": "Matrix", "role": "viewer"})},
		"PATCH /api/internal/operators/{id}": {owner: 200, setup: func(f *authzFixture) authzRequest {
			id, _ := f.ts.newOperator("viewer")
			return authzRequest{path: "/api/internal/operators/" + id.String(), body: map[string]any{"role": "support"}}
		}},
		"GET /api/internal/audit":  {owner: 200, setup: path("/api/internal/audit?action=operator.create&page_size=5")},
		"GET /api/internal/config": {owner: 200},
		"PUT /api/internal/config/{key}": {owner: 200,
			setup: req("/api/internal/config/pairing_blast_timeout_seconds", map[string]any{"value": 60})},
		"GET /api/internal/dashboard":       {owner: 200},
		"GET /api/internal/mitras":          {owner: 200, setup: path("/api/internal/mitras?online=true&page_size=5")},
		"GET /api/internal/events":          {owner: 200},
		"GET /api/internal/failed-pairings": {owner: 200},
		"GET /api/internal/refunds":         {owner: 200},
		"POST /api/internal/refunds/{id}/retry": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/refunds/" + f.failedRefund() + "/retry"}
		}},
		"POST /api/internal/refunds/{id}/settle-manually": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/refunds/" + f.refundIn("not_possible", "manual") + "/settle-manually",
				body: map[string]any{"note": "bank transfer BT-1"}}
		}},
		"GET /api/internal/ledger/balance":  {owner: 200},
		"GET /api/internal/ledger/findings": {owner: 200},
		"GET /api/internal/mitras/{id}/earnings": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/mitras/" + f.mitra.String() + "/earnings"}
		}},
		"GET /api/internal/stats": {owner: 200, setup: path("/api/internal/stats?window=1h")},
		"GET /api/internal/mitras/{id}/stats": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/mitras/" + f.mitra.String() + "/stats?window=24h"}
		}},
		"POST /api/internal/fake-gateway/refund-failures": {owner: 200,
			setup: req("/api/internal/fake-gateway/refund-failures", map[string]any{"count": 0})},
		"POST /api/internal/fake-gateway/refunds/{id}/outcome": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/fake-gateway/refunds/" + f.refundIn("processing", "processing") + "/outcome",
				body: map[string]any{"succeeded": true}}
		}},
		"POST /api/internal/fake-gateway/payout-failures": {owner: 200,
			setup: req("/api/internal/fake-gateway/payout-failures", map[string]any{"count": 0})},
		"PUT /api/internal/mitras/{id}/payout-destination": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/mitras/" + f.mitra.String() + "/payout-destination", body: testDestination}
		}},
		// Nobody has an available balance: the run creates nothing.
		"POST /api/internal/payouts/run": {owner: 200, setup: req("/api/internal/payouts/run", map[string]any{})},
		"GET /api/internal/payouts":      {owner: 200, setup: path("/api/internal/payouts?status=succeeded&page_size=5")},
		"POST /api/internal/failed-pairings/{id}/actions": {owner: 200, setup: func(f *authzFixture) authzRequest {
			_, pairingID := f.declinedTargeted()
			return authzRequest{path: "/api/internal/failed-pairings/" + f.failureOf(pairingID) + "/actions",
				body: map[string]any{"action": "resolve", "note": "checked with the client"}}
		}},
		"GET " + tiersPath: {owner: 200},
		"POST " + tiersPath: {owner: 201, setup: func(f *authzFixture) authzRequest { // minutes no tier has yet
			f.minutes++
			return authzRequest{path: tiersPath, body: map[string]any{"mode": "session", "minutes": 200 + f.minutes, "price": 30000}}
		}},
		"POST " + tiersPath + "/reorder": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: tiersPath + "/reorder", body: map[string]any{"mode": "extension", "tiers": []any{
				map[string]any{"id": f.extTier, "expected_updated_at": f.tierUpdatedAt(f.extTier)},
			}}}
		}},
		"PATCH " + tiersPath + "/{id}": {owner: 200, setup: func(f *authzFixture) authzRequest {
			f.minutes++
			t := f.ts.createTier("session", 300+f.minutes, 40000)
			return authzRequest{path: tiersPath + "/" + t["id"].(string), body: map[string]any{"expected_updated_at": t["updated_at"], "price": 41000}}
		}},
		"POST " + tiersPath + "/{id}/deactivate": {owner: 200, setup: func(f *authzFixture) authzRequest {
			f.minutes++
			t := f.ts.createTier("session", 300+f.minutes, 40000)
			return authzRequest{path: tiersPath + "/" + t["id"].(string) + "/deactivate", body: map[string]any{"expected_updated_at": t["updated_at"]}}
		}},
		"POST " + tiersPath + "/{id}/reactivate": {owner: 200, setup: func(f *authzFixture) authzRequest {
			f.minutes++
			t := f.ts.createTier("session", 300+f.minutes, 40000)
			id := t["id"].(string)
			off := f.ts.must(200, "POST", tiersPath+"/"+id+"/deactivate", f.ts.op, map[string]any{"expected_updated_at": t["updated_at"]})
			return authzRequest{path: tiersPath + "/" + id + "/reactivate", body: map[string]any{"expected_updated_at": off["updated_at"]}}
		}},
		"GET " + tiersPath + "/{id}/history": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: tiersPath + "/" + f.extTier + "/history"}
		}},
		"GET " + promoPath: {owner: 200},
		"PUT " + promoPath: {owner: 200, setup: func(f *authzFixture) authzRequest {
			cur := f.ts.must(200, "GET", promoPath, f.ts.op, nil)
			return authzRequest{path: promoPath, body: map[string]any{"expected_updated_at": cur["updated_at"], "enabled": false, "discount_percent": 0}}
		}},
		"GET " + promoPath + "/history": {owner: 200},

		// A payment's story, a client's timeline, operator refunds and session ends.
		"GET /api/internal/payments/{id}": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/payments/" + f.activeSession(f.mitraTok).payment}
		}},
		"POST /api/internal/payments/{id}/refunds": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/payments/" + f.activeSession(f.mitraTok).payment + "/refunds",
				body: map[string]any{"amount": 1000, "reason": "matrix"}, header: []string{"Idempotency-Key", uuid.NewString()}}
		}},
		"GET /api/internal/clients/{id}/timeline": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/clients/" + f.client.String() + "/timeline"}
		}},
		"POST /api/internal/chat-sessions/{id}/end": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/chat-sessions/" + f.activeSession(f.mitraTok).session + "/end",
				body: map[string]any{"reason": "matrix", "refund": "unused"}}
		}},

		// Live work, clients and mitra profiles.
		"GET /api/internal/pairings":      {owner: 200, setup: path("/api/internal/pairings?status=searching&page_size=5")},
		"GET /api/internal/chat-sessions": {owner: 200, setup: path("/api/internal/chat-sessions?status=active&page_size=5")},
		"GET /api/internal/clients":       {owner: 200, setup: path("/api/internal/clients?q=dewi&page_size=5")},
		"GET /api/internal/clients/{id}": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/clients/" + f.client.String()}
		}},
		"PATCH /api/internal/clients/{id}/status": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/clients/" + f.freshClient().id.String() + "/status", body: map[string]any{"is_active": false}}
		}},
		// Safety alerts (routes_safety.go).
		"GET /api/internal/safety-alerts": {owner: 200, setup: path("/api/internal/safety-alerts?status=open&page_size=5")},
		"POST /api/internal/safety-alerts/{id}/ack": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/safety-alerts/" + f.crisisAlert() + "/ack"}
		}},
		// Reports (routes_reports.go).
		"POST /api/client/reports": {owner: 201, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/reports", client: s.client.tok,
				body: map[string]any{"chat_session_id": s.session, "reason": "spam"}}
		}},
		"POST /api/mitra/reports": {owner: 201, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/reports",
				body: map[string]any{"chat_session_id": f.activeSession(f.mitraTok).session, "reason": "harassment"}}
		}},
		"GET /api/internal/reports": {owner: 200, setup: path("/api/internal/reports?status=open&page_size=5")},
		"POST /api/internal/reports/{id}/resolve": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/reports/" + f.openReport() + "/resolve",
				body: map[string]any{"outcome": "no_action", "note": "matrix"}}
		}},
		"GET /api/internal/chat-sessions/{id}/messages": {owner: 200, auditedRead: true, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/chat-sessions/" + f.activeSession(f.mitraTok).session + "/messages"}
		}},
		"PATCH /api/internal/mitras/{id}": {owner: 200, setup: func(f *authzFixture) authzRequest {
			id, _ := f.newMitra()
			m := f.ts.must(200, "GET", "/api/internal/mitras/"+id.String(), f.ts.op, nil)
			return authzRequest{path: "/api/internal/mitras/" + id.String(),
				body: map[string]any{"expected_profile_updated_at": m["profile_updated_at"], "display_name": "Ayu Lestari"}}
		}},

		// Clients.
		"GET /api/client/chat/pricing":       {owner: 200, other: 200},
		"GET /api/client/mitra-availability": {owner: 200, other: 200},
		"POST /api/client/chat/start": {owner: 201, other: 201, setup: func(f *authzFixture) authzRequest {
			c := f.freshClient()
			return authzRequest{path: "/api/client/chat/start", body: map[string]any{"minutes": 30}, client: c.tok}
		}},
		"POST /api/client/chat/returning": {owner: 201, other: 409, setup: func(f *authzFixture) authzRequest { // other: NO_PREVIOUS_SESSION
			s := f.activeSession(f.mitraTok)
			f.ts.must(200, "POST", "/api/client/chat-sessions/"+s.session+"/end", s.client.tok, nil)
			return authzRequest{path: "/api/client/chat/returning", client: s.client.tok,
				body: map[string]any{"mitra_id": f.mitra.String(), "minutes": 30}}
		}},
		"POST /api/client/chat/cancel": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			c := f.freshClient()
			start := f.ts.must(201, "POST", "/api/client/chat/start", c.tok, map[string]any{"minutes": 30})
			return authzRequest{path: "/api/client/chat/cancel", client: c.tok,
				body: map[string]any{"pairing_id": start["pairing"].(map[string]any)["id"]}}
		}},
		"POST /api/client/chat/fallback-to-blast": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			c, pairingID := f.declinedTargeted()
			return authzRequest{path: "/api/client/chat/fallback-to-blast", client: c.tok, body: map[string]any{"pairing_id": pairingID}}
		}},
		"GET /api/client/pairings/{id}": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/pairings/" + s.pairing, client: s.client.tok}
		}},
		"GET /api/client/payments/{id}": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/payments/" + s.payment, client: s.client.tok}
		}},
		"GET /api/client/chat-sessions": {owner: 200, other: 200, setup: path("/api/client/chat-sessions?page=1")},
		"GET /api/client/pairings":      {owner: 200, other: 200, setup: path("/api/client/pairings?status=open")},
		"GET /api/client/chat-sessions/{id}": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/chat-sessions/" + s.session, client: s.client.tok}
		}},
		"POST /api/client/chat-sessions/{id}/end": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/chat-sessions/" + s.session + "/end", client: s.client.tok}
		}},
		"POST /api/client/chat-sessions/{id}/extensions": {owner: 201, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/chat-sessions/" + s.session + "/extensions", client: s.client.tok,
				body: map[string]any{"minutes": 10}}
		}},
		"GET /api/client/chat-sessions/{id}/extensions": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/chat-sessions/" + s.session + "/extensions", client: s.client.tok}
		}},
		"POST /api/client/chat-sessions/{id}/reroute": {owner: 201, other: 404, setup: func(f *authzFixture) authzRequest {
			// The session's mitra (the spare one) goes offline: the client may reroute.
			f.ts.must(200, "POST", "/api/mitra/status/online", f.spareTok, nil)
			s := f.activeSession(f.spareTok)
			f.ts.must(200, "POST", "/api/mitra/status/offline", f.spareTok, nil)
			return authzRequest{path: "/api/client/chat-sessions/" + s.session + "/reroute", client: s.client.tok}
		}},
		"POST /api/client/chat-sessions/{id}/messages": {owner: 201, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/chat-sessions/" + s.session + "/messages", client: s.client.tok,
				body: map[string]any{"text": "halo", "client_msg_id": uuid.NewString()}}
		}},
		"GET /api/client/chat-sessions/{id}/messages": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/chat-sessions/" + s.session + "/messages?after_seq=0&limit=10", client: s.client.tok}
		}},
		"POST /api/client/chat-sessions/{id}/read": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/client/chat-sessions/" + s.session + "/read", client: s.client.tok, body: map[string]any{"seq": 0}}
		}},
		// Ratings (routes_ratings.go): each row rates a session of its own.
		"POST /api/client/chat-sessions/{id}/rating": {owner: 201, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.endedSession()
			return authzRequest{path: "/api/client/chat-sessions/" + s.session + "/rating", client: s.client.tok,
				body: map[string]any{"stars": 5, "comment": "makasih"}}
		}},
		"GET /api/internal/mitras/{id}/ratings": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/mitras/" + f.mitra.String() + "/ratings?page=1"}
		}},
		"POST /api/internal/ratings/{id}/hide": {owner: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/internal/ratings/" + f.ratingWithComment() + "/hide"}
		}},
		// Blocks act on a fresh mitra (or a fresh client): the other rows' pairs stay unblocked.
		"POST /api/client/blocks": {owner: 201, other: 201, setup: func(f *authzFixture) authzRequest {
			m, _ := f.newMitra()
			return authzRequest{path: "/api/client/blocks", body: map[string]any{"mitra_id": m.String()}}
		}},
		"DELETE /api/client/blocks/{mitra_id}": {owner: 204, other: 204, setup: func(f *authzFixture) authzRequest {
			m, _ := f.newMitra()
			f.ts.must(201, "POST", "/api/client/blocks", f.tokens[subjClient], map[string]any{"mitra_id": m.String()})
			return authzRequest{path: "/api/client/blocks/" + m.String()}
		}},
		"GET /api/client/blocks": {owner: 200, other: 200},
		"GET /api/client/events": {owner: 200, other: 200},
		"POST /api/client/logout": {owner: 204, other: 204, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/client/logout", tokens: map[subject]string{
				subjClient: f.freshClient().tok, subjOtherClient: f.freshClient().tok}}
		}},
		// Each client exports its own data; each erases a fresh client of its own (the other
		// rows need theirs).
		"GET /api/client/me/export": {owner: 200, other: 200},
		"DELETE /api/client/me": {owner: 200, other: 200, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/client/me", tokens: map[subject]string{
				subjClient: f.freshClient().tok, subjOtherClient: f.freshClient().tok}}
		}},

		// Mitras.
		"POST /api/mitra/status/online": {owner: 200, other: 200},
		"POST /api/mitra/status/offline": {owner: 200, other: 200, after: func(f *authzFixture) {
			f.ts.must(200, "POST", "/api/mitra/status/online", f.mitraTok, nil)
		}},
		"POST /api/mitra/status/heartbeat": {owner: 200, other: 200},
		"GET /api/mitra/status":            {owner: 200, other: 200},
		"GET /api/mitra/pairing-offers":    {owner: 200, other: 200},
		"POST /api/mitra/pairing-offers/{pairing_id}/accept": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/pairing-offers/" + f.searchingBlast() + "/accept"}
		}},
		"POST /api/mitra/pairing-offers/{pairing_id}/decline": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/pairing-offers/" + f.searchingBlast() + "/decline"}
		}},
		"GET /api/mitra/chat-sessions": {owner: 200, other: 200, setup: path("/api/mitra/chat-sessions?status=active")},
		"POST /api/mitra/chat-sessions/{id}/end": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/chat-sessions/" + f.activeSession(f.mitraTok).session + "/end"}
		}},
		"GET /api/mitra/chat-sessions/{id}/extensions": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/chat-sessions/" + f.activeSession(f.mitraTok).session + "/extensions"}
		}},
		"POST /api/mitra/extensions/{id}/approve": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/extensions/" + f.requestedExtension() + "/approve"}
		}},
		"POST /api/mitra/extensions/{id}/reject": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/extensions/" + f.requestedExtension() + "/reject"}
		}},
		"POST /api/mitra/chat-sessions/{id}/messages": {owner: 201, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/chat-sessions/" + f.activeSession(f.mitraTok).session + "/messages",
				body: map[string]any{"text": "halo juga", "client_msg_id": uuid.NewString()}}
		}},
		"GET /api/mitra/chat-sessions/{id}/messages": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/chat-sessions/" + f.activeSession(f.mitraTok).session + "/messages"}
		}},
		"POST /api/mitra/chat-sessions/{id}/read": {owner: 200, other: 404, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/chat-sessions/" + f.activeSession(f.mitraTok).session + "/read",
				body: map[string]any{"seq": 5}}
		}},
		// Another mitra had no chat session with the client: 404.
		"POST /api/mitra/blocks": {owner: 201, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			return authzRequest{path: "/api/mitra/blocks", body: map[string]any{"client_id": s.client.id.String()}}
		}},
		"DELETE /api/mitra/blocks/{client_id}": {owner: 204, other: 404, setup: func(f *authzFixture) authzRequest {
			s := f.activeSession(f.mitraTok)
			f.ts.must(201, "POST", "/api/mitra/blocks", f.mitraTok, map[string]any{"client_id": s.client.id.String()})
			return authzRequest{path: "/api/mitra/blocks/" + s.client.id.String()}
		}},
		"GET /api/mitra/blocks":           {owner: 200, other: 200},
		"GET /api/mitra/earnings":         {owner: 200, other: 200},
		"GET /api/mitra/earnings/entries": {owner: 200, other: 200, setup: path("/api/mitra/earnings/entries?page=1&page_size=5")},
		"GET /api/mitra/events":           {owner: 200, other: 200},
		// Both mitras have a destination (each may read its own only).
		"GET /api/mitra/payout-destination": {owner: 200, other: 200, setup: func(f *authzFixture) authzRequest {
			for _, id := range []uuid.UUID{f.mitra, f.otherMitra} {
				f.ts.must(200, "PUT", "/api/internal/mitras/"+id.String()+"/payout-destination", f.ts.op, testDestination)
			}
			return authzRequest{path: "/api/mitra/payout-destination"}
		}},
		"PUT /api/mitra/payout-destination": {owner: 200, other: 200, setup: req("/api/mitra/payout-destination", testDestination)},
		"POST /api/mitra/logout": {owner: 204, other: 204, setup: func(f *authzFixture) authzRequest {
			return authzRequest{path: "/api/mitra/logout", tokens: map[subject]string{
				subjMitra: f.ts.token("mitra", f.mitra), subjOtherMitra: f.ts.token("mitra", f.otherMitra)}}
		}},
	}
}

// expected is the status of route r called by s.
func (row authzRow) expected(r route, s subject) int {
	switch {
	case r.Role == rolePublic:
		return row.public
	case s == subjDeactivatedMitra:
		return http.StatusForbidden
	case s.role() == rolePublic:
		return http.StatusUnauthorized
	case s.owner(r.Role):
		return row.owner
	case r.Role.operator() || s.role() != r.Role:
		return http.StatusForbidden // a lesser operator role, or another kind of caller
	default:
		return row.other
	}
}

func TestAuthz_MatrixCoversEveryRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	rows := authzRows()
	registered := map[string]bool{}
	for _, r := range ts.srv.routes {
		key := r.Method + " " + r.Path
		registered[key] = true
		row, ok := rows[key]
		require.True(t, ok, "route %s has no row in authzRows (authz_test.go): add its expected statuses", key)
		if r.Role == rolePublic {
			require.NotZero(t, row.public, "public route %s needs a public status", key)
			continue
		}
		require.NotZero(t, row.owner, "%s needs an owner status", key)
		if !r.Role.operator() {
			require.NotZero(t, row.other, "%s needs a status for the other %s", key, r.Role)
		}
		if strings.Contains(r.Path, "{") {
			require.NotNil(t, row.setup, "%s has path parameters: its row must build the path", key)
		}
		if row.auditedRead {
			require.True(t, r.Role.operator() && r.Method == http.MethodGet, "%s: only an operator's GET is an audited read", key)
		}
	}
	for key := range rows {
		require.True(t, registered[key], "authzRows has a row for %s, which is not registered", key)
	}
}

func TestAuthz_EveryRouteRefusesOrServesEachKindOfCaller(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		f := newAuthzFixture(t, ts)
		rows := authzRows()
		for _, r := range ts.srv.routes {
			key := r.Method + " " + r.Path
			row, ok := rows[key]
			require.True(t, ok, "no row for %s", key)
			t.Run(key, func(t *testing.T) {
				f.t = t
				rq := authzRequest{path: r.Path}
				if row.setup != nil {
					rq = row.setup(f)
				}
				// The owners go last: their requests may change what the others would see.
				// Each operator the route admits acts on what a setup of its own made (the
				// first one on rq's).
				order := slices.DeleteFunc(slices.Clone(allSubjects), func(s subject) bool { return s.owner(r.Role) })
				for _, s := range allSubjects {
					if s.owner(r.Role) {
						order = append(order, s)
					}
				}
				served := 0
				for _, s := range order {
					if r.Role.operator() && s.owner(r.Role) {
						if served++; served > 1 && row.setup != nil {
							rq = row.setup(f)
						}
					}
					tok := f.tokens[s]
					if s == subjClient && rq.client != "" {
						tok = rq.client
					}
					if t, ok := rq.tokens[s]; ok {
						tok = t
					}
					audited := f.auditCount(s)
					status, body := f.call(r.Method, rq.path, tok, rq.body, rq.header...)
					want := row.expected(r, s)
					require.Equal(t, want, status, "%s %s as %s: %s", r.Method, rq.path, s, body)
					if r.Role != rolePublic {
						switch status {
						case http.StatusUnauthorized:
							require.Contains(t, string(body), `"UNAUTHENTICATED"`, "as %s", s)
						case http.StatusForbidden:
							code := `"FORBIDDEN"`
							if s == subjDeactivatedMitra {
								code = `"MITRA_DEACTIVATED"`
							}
							require.Contains(t, string(body), code, "as %s", s)
							if r.Role.operator() && s.role().operator() {
								require.Contains(t, string(body), "needs the "+r.Role.String()+" role", "as %s", s)
							}
						}
					}
					// Every operator write is audited, under the operator who made it, and so
					// is an audited read; any other read, or a refused request, is not.
					wantRows := audited
					if r.Role.operator() && (r.Method != http.MethodGet || row.auditedRead) && status/100 == 2 {
						wantRows++
					}
					require.Equal(t, wantRows, f.auditCount(s), "audit rows of %s after %s %s", s, r.Method, rq.path)
				}
				if row.after != nil {
					row.after(f)
				}
			})
		}
	})
}

// authzFixture holds the callers of the matrix and builds what rows act on.
type authzFixture struct {
	t         *testing.T
	ts        *testServer
	tokens    map[subject]string
	operators map[subject]uuid.UUID // the operator subjects' ids (the bootstrap's is the nil UUID)
	minutes   int                   // the last tier minutes a row used (each row's own)

	client                   uuid.UUID // "client"
	mitra                    uuid.UUID // "mitra": online, capacity 100
	otherMitra               uuid.UUID
	mitraTok, otherMitraTok  string
	spareTok                 string // a third mitra, online only while a row needs it
	extTier                  string // the extension tier's id
	webhookSecret, ownerName string
}

type fixtureClient struct {
	id  uuid.UUID
	tok string
}

func newAuthzFixture(t *testing.T, ts *testServer) *authzFixture {
	f := &authzFixture{t: t, ts: ts, tokens: map[subject]string{}, webhookSecret: ts.app.cfg.PaymentWebhookSecret}
	ctx := context.Background()

	// Expired first: the clock moves on past its lifetime before anything else exists.
	expired := f.freshClient()
	f.tokens[subjExpired] = ts.must(201, "POST", "/api/internal/tokens", ts.op,
		map[string]any{"subject_kind": "client", "subject_id": expired.id.String(), "ttl_seconds": 60})["token"].(string)
	ts.clock.Advance(61 * time.Second)

	ts.createTier("session", 30, 25000)
	f.extTier = ts.createTier("extension", 10, 8000)["id"].(string)

	owner := f.freshClient()
	f.client, f.tokens[subjClient] = owner.id, owner.tok
	f.tokens[subjOtherClient] = f.freshClient().tok
	revoked := f.freshClient()
	f.tokens[subjRevoked] = revoked.tok
	require.NoError(t, ts.app.accounts.RevokeSubject(ctx, SubjectClient, revoked.id, ts.clock.Now()))
	ts.app.auth.revoked(ctx, SubjectClient, revoked.id)

	f.mitra, f.mitraTok = f.newMitra()
	ts.must(200, "POST", "/api/mitra/status/online", f.mitraTok, nil)
	f.otherMitra, f.otherMitraTok = f.newMitra()
	_, f.spareTok = f.newMitra()
	deactivated, deactivatedTok := f.newMitra()
	ts.must(200, "PATCH", "/api/internal/mitras/"+deactivated.String()+"/status", ts.op, map[string]any{"is_active": false})

	f.tokens[subjMitra], f.tokens[subjOtherMitra] = f.mitraTok, f.otherMitraTok
	f.tokens[subjDeactivatedMitra] = deactivatedTok
	f.operators = map[subject]uuid.UUID{subjBootstrap: uuid.Nil}
	for s, name := range map[subject]string{subjViewer: "viewer", subjSupport: "support", subjAdmin: "admin", subjInactiveOperator: "viewer"} {
		f.operators[s], f.tokens[s] = ts.newOperator(name)
	}
	ts.must(200, "PATCH", "/api/internal/operators/"+f.operators[subjInactiveOperator].String(), ts.op, map[string]any{"is_active": false})
	f.tokens[subjBootstrap] = ts.op
	f.tokens[subjNone] = ""
	return f
}

// auditCount is the number of audit rows written by operator subject s (0 for others).
func (f *authzFixture) auditCount(s subject) int {
	id, ok := f.operators[s]
	if !ok {
		return 0
	}
	_, total, err := f.ts.app.accounts.ListAudit(context.Background(), auditFilter{OperatorID: &id, Page: 1, PageSize: 1})
	require.NoError(f.t, err)
	return total
}

func (f *authzFixture) freshClient() fixtureClient {
	id, tok := f.ts.newClient("Dewi")
	return fixtureClient{id: id, tok: tok}
}

// newMitra creates a mitra that can hold many sessions (the matrix opens several).
func (f *authzFixture) newMitra() (uuid.UUID, string) {
	m := f.ts.must(201, "POST", "/api/internal/mitras", f.ts.op, map[string]any{"display_name": "Ayu", "max_concurrent_sessions": 100})
	id := uuid.MustParse(m["id"].(string))
	return id, f.ts.token("mitra", id)
}

// baseline puts the mitras where blasts expect them: "mitra" online, the others offline,
// so that only "mitra" is offered what a row creates.
func (f *authzFixture) baseline() {
	f.ts.must(200, "POST", "/api/mitra/status/online", f.mitraTok, nil)
	f.ts.must(200, "POST", "/api/mitra/status/offline", f.otherMitraTok, nil)
}

// call sends a request and returns the status and body. An event stream is closed as
// soon as its headers arrive.
func (f *authzFixture) call(method, path, tok string, body any, header ...string) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(f.t, err)
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, f.ts.http.URL+path, rd)
	require.NoError(f.t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.ts.http.Client().Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, nil
	}
	raw, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return resp.StatusCode, raw
}

// pay confirms a payment through the signed webhook.
func (f *authzFixture) pay(paymentID string) {
	f.t.Helper()
	raw, _ := json.Marshal(map[string]any{"payment_id": paymentID, "status": "paid", "provider_ref": "fake_ch_" + paymentID})
	req, err := http.NewRequest("POST", f.ts.http.URL+"/api/payments/webhook", bytes.NewReader(raw))
	require.NoError(f.t, err)
	req.Header.Set("X-Signature", signBody(f.webhookSecret, raw))
	resp, err := f.ts.http.Client().Do(req)
	require.NoError(f.t, err)
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(f.t, http.StatusOK, resp.StatusCode, "webhook: %s", out)
}

type fixtureSession struct {
	client                    fixtureClient
	pairing, payment, session string
}

// checkoutPath is the path of the fake checkout link of payment.
func (f *authzFixture) checkoutPath(payment string) string {
	return fakeCheckoutPath + f.ts.app.checkout.links.token(uuid.MustParse(payment))
}

// activeSession: a fresh client pays a 30-minute blast and the mitra of acceptTok accepts.
func (f *authzFixture) activeSession(acceptTok string) fixtureSession {
	f.t.Helper()
	c := f.freshClient()
	start := f.ts.must(201, "POST", "/api/client/chat/start", c.tok, map[string]any{"minutes": 30})
	s := fixtureSession{client: c, pairing: start["pairing"].(map[string]any)["id"].(string),
		payment: start["payment"].(map[string]any)["id"].(string)}
	f.pay(s.payment)
	cs := f.ts.must(200, "POST", "/api/mitra/pairing-offers/"+s.pairing+"/accept", acceptTok, nil)
	s.session = cs["chat_session"].(map[string]any)["id"].(string)
	return s
}

// searchingBlast: a fresh client's paid blast, offered to "mitra" only.
func (f *authzFixture) searchingBlast() string {
	f.t.Helper()
	f.baseline()
	c := f.freshClient()
	start := f.ts.must(201, "POST", "/api/client/chat/start", c.tok, map[string]any{"minutes": 30})
	f.pay(start["payment"].(map[string]any)["id"].(string))
	id := start["pairing"].(map[string]any)["id"].(string)
	p := f.ts.must(200, "GET", "/api/client/pairings/"+id, c.tok, nil)["pairing"].(map[string]any)
	require.Equal(f.t, "searching", p["status"])
	return id
}

// declinedTargeted: a fresh client's "Curhat lagi" with "mitra", declined by it: the
// pairing is targeted_unavailable with a failure row.
func (f *authzFixture) declinedTargeted() (fixtureClient, string) {
	f.t.Helper()
	f.baseline()
	s := f.activeSession(f.mitraTok)
	f.ts.must(200, "POST", "/api/client/chat-sessions/"+s.session+"/end", s.client.tok, nil)
	p := f.ts.must(201, "POST", "/api/client/chat/returning", s.client.tok,
		map[string]any{"mitra_id": f.mitra.String(), "minutes": 30})["pairing"].(map[string]any)
	require.Equal(f.t, "targeted_waiting", p["status"])
	id := p["id"].(string)
	f.ts.must(200, "POST", "/api/mitra/pairing-offers/"+id+"/decline", f.mitraTok, nil)
	return s.client, id
}

// failedRefund: a fresh client's paid blast fails (nobody online) and the gateway refuses
// its refund; it returns the refund's id.
func (f *authzFixture) failedRefund() string {
	f.t.Helper()
	return f.refundIn("refuse", "failed")
}

// refundIn: a fresh client's paid blast fails (nobody online) and the fake gateway answers
// its refund as mode says (refund-failures); it returns the id of the refund, now in status.
func (f *authzFixture) refundIn(mode, status string) string {
	f.t.Helper()
	f.ts.must(200, "POST", "/api/mitra/status/offline", f.mitraTok, nil)
	f.ts.must(200, "POST", "/api/mitra/status/offline", f.otherMitraTok, nil)
	defer f.baseline()
	c := f.freshClient()
	start := f.ts.must(201, "POST", "/api/client/chat/start", c.tok, map[string]any{"minutes": 30})
	payID := start["payment"].(map[string]any)["id"].(string)
	f.ts.must(200, "POST", "/api/internal/fake-gateway/refund-failures", f.ts.op, map[string]any{"count": 1, "mode": mode})
	f.pay(payID)
	for _, it := range f.ts.must(200, "GET", "/api/internal/refunds?page_size=100&status="+status, f.ts.op, nil)["items"].([]any) {
		if it := it.(map[string]any); it["payment_id"] == payID {
			return it["id"].(string)
		}
	}
	f.t.Fatalf("no %s refund of payment %s", status, payID)
	return ""
}

// failureOf returns the id of the failure row of a pairing.
func (f *authzFixture) failureOf(pairingID string) string {
	f.t.Helper()
	list := f.ts.must(200, "GET", "/api/internal/failed-pairings?page_size=100", f.ts.op, nil)
	for _, it := range list["items"].([]any) {
		if it := it.(map[string]any); it["pairing_id"] == pairingID {
			return it["id"].(string)
		}
	}
	f.t.Fatalf("no failure row for pairing %s", pairingID)
	return ""
}

// requestedExtension: with auto-approval off, a client asks "mitra" for 10 more minutes.
func (f *authzFixture) requestedExtension() string {
	f.t.Helper()
	f.baseline()
	f.ts.must(200, "PUT", "/api/internal/config/extension_auto_approve", f.ts.op, map[string]any{"value": false})
	s := f.activeSession(f.mitraTok)
	ext := f.ts.must(201, "POST", "/api/client/chat-sessions/"+s.session+"/extensions", s.client.tok,
		map[string]any{"minutes": 10})["extension"].(map[string]any)
	require.Equal(f.t, "requested", ext["status"])
	return ext["id"].(string)
}

// tierUpdatedAt reads a tier's current updated_at (its optimistic-lock token).
func (f *authzFixture) tierUpdatedAt(id string) any {
	f.t.Helper()
	for _, it := range f.ts.must(200, "GET", tiersPath+"?include_inactive=true", f.ts.op, nil)["tiers"].([]any) {
		if it := it.(map[string]any); it["id"] == id {
			return it["updated_at"]
		}
	}
	f.t.Fatalf("no tier %s", id)
	return nil
}
