package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestOperators_MeNamesTheSignedInOperatorAndItsRole(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		me := ts.must(200, "GET", "/api/internal/operators/me", ts.op, nil)
		require.Equal(t, uuid.Nil.String(), me["id"])
		require.Equal(t, "admin", me["role"])
		require.Equal(t, bootstrapOperatorName, me["display_name"])

		id, tok := ts.newOperator("viewer")
		me = ts.must(200, "GET", "/api/internal/operators/me", tok, nil)
		require.Equal(t, id.String(), me["id"])
		require.Equal(t, "viewer", me["role"])
		require.Equal(t, true, me["is_active"])
	})
}

func TestOperators_ADeactivatedOperatorsTokenIsRefusedAtOnceAndStaysRevoked(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		id, tok := ts.newOperator("support")
		ts.must(200, "GET", "/api/internal/dashboard", tok, nil) // verified, and remembered

		off := ts.must(200, "PATCH", "/api/internal/operators/"+id.String(), ts.op, map[string]any{"is_active": false})
		require.Equal(t, false, off["is_active"])
		r := ts.do("GET", "/api/internal/dashboard", tok, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Raw)
		require.Equal(t, "UNAUTHENTICATED", r.ErrorCode())

		// No new token while it is deactivated; reactivated, the old token stays revoked.
		r = ts.do("POST", "/api/internal/tokens", ts.op, map[string]any{"subject_kind": "operator", "subject_id": id.String()})
		require.Equal(t, http.StatusConflict, r.Status, "%s", r.Raw)
		ts.must(200, "PATCH", "/api/internal/operators/"+id.String(), ts.op, map[string]any{"is_active": true})
		require.Equal(t, http.StatusUnauthorized, ts.do("GET", "/api/internal/dashboard", tok, nil).Status)
		ts.must(200, "GET", "/api/internal/dashboard", ts.token("operator", id), nil)
	})
}

func TestOperators_ATokenOfAnOperatorWithoutAnAccountIsRefused(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		// A token row for an id no operator has (an account never created, or a store
		// restored without it): refused, as a deactivated one is.
		ghost := uuid.New()
		tok, _, err := ts.app.auth.issue(context.Background(), SubjectOperator, ghost, defaultTokenTTL)
		require.NoError(t, err)
		r := ts.do("GET", "/api/internal/operators/me", tok, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Raw)
		// Minting through the API needs the account.
		r = ts.do("POST", "/api/internal/tokens", ts.op, map[string]any{"subject_kind": "operator", "subject_id": ghost.String()})
		require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
	})
}

func TestOperators_ARoleChangeAppliesToTheNextRequest(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		id, tok := ts.newOperator("support")
		ts.must(201, "POST", "/api/internal/clients", tok, map[string]any{"display_name": "Dewi"})

		ts.must(200, "PATCH", "/api/internal/operators/"+id.String(), ts.op, map[string]any{"role": "viewer"})
		r := ts.do("POST", "/api/internal/clients", tok, map[string]any{"display_name": "Dewi"})
		require.Equal(t, http.StatusForbidden, r.Status, "%s", r.Raw)
		e := r.Body["error"].(map[string]any)
		require.Equal(t, "FORBIDDEN", e["code"])
		require.Equal(t, "this needs the support role; you are signed in as viewer", e["message"])
		require.Equal(t, "support", e["required_role"])
		require.Equal(t, "viewer", e["role"])

		ts.must(200, "PATCH", "/api/internal/operators/"+id.String(), ts.op, map[string]any{"role": "admin"})
		ts.must(200, "PUT", "/api/internal/config/pairing_blast_timeout_seconds", tok, map[string]any{"value": 90})
	})
}

func TestOperators_OnlyAnAdminMintsOrRevokesOperatorsTokens(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		_, support := ts.newOperator("support")
		viewer, _ := ts.newOperator("viewer")
		client, _ := ts.newClient("Dewi")

		ts.must(201, "POST", "/api/internal/tokens", support, map[string]any{"subject_kind": "client", "subject_id": client.String()})
		for _, path := range []string{"/api/internal/tokens", "/api/internal/tokens/revoke"} {
			r := ts.do("POST", path, support, map[string]any{"subject_kind": "operator", "subject_id": viewer.String()})
			require.Equal(t, http.StatusForbidden, r.Status, "%s: %s", path, r.Raw)
			require.Contains(t, string(r.Raw), "needs the admin role")
		}
		tok := ts.must(201, "POST", "/api/internal/tokens", ts.op, map[string]any{"subject_kind": "operator", "subject_id": viewer.String()})["token"].(string)
		ts.must(200, "GET", "/api/internal/dashboard", tok, nil)
		ts.must(204, "POST", "/api/internal/tokens/revoke", ts.op, map[string]any{"subject_kind": "operator", "subject_id": viewer.String()})
		require.Equal(t, http.StatusUnauthorized, ts.do("GET", "/api/internal/dashboard", tok, nil).Status)
	})
}

func TestOperators_BadInputIsA4xxAndNobodyChangesTheirOwnAccount(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"display_name": "Ana", "role": "owner"}, "role"},
		{map[string]any{"display_name": "", "role": "viewer"}, "display_name"},
		{map[string]any{"display_name": "Ana"}, "role"},
	} {
		r := ts.do("POST", "/api/internal/operators", ts.op, tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
		require.Equal(t, tc.field, r.Body["error"].(map[string]any)["field"])
	}
	id, tok := ts.newOperator("admin")
	require.Equal(t, http.StatusBadRequest, ts.do("PATCH", "/api/internal/operators/"+id.String(), ts.op, map[string]any{}).Status)
	require.Equal(t, http.StatusBadRequest, ts.do("PATCH", "/api/internal/operators/"+id.String(), ts.op, map[string]any{"role": "root"}).Status)
	require.Equal(t, http.StatusNotFound, ts.do("PATCH", "/api/internal/operators/"+uuid.NewString(), ts.op, map[string]any{"role": "viewer"}).Status)
	r := ts.do("PATCH", "/api/internal/operators/"+id.String(), tok, map[string]any{"is_active": false})
	require.Equal(t, http.StatusConflict, r.Status, "%s", r.Raw)
	require.Equal(t, "INVALID_STATE", r.ErrorCode())
	require.Equal(t, http.StatusBadRequest, ts.do("GET", "/api/internal/operators?page_size=0", ts.op, nil).Status)

	list := ts.must(200, "GET", "/api/internal/operators?page_size=1", ts.op, nil)
	require.EqualValues(t, 1, list["total"])
	require.Len(t, list["items"], 1)
}

func TestOperators_ChangedByIsTheOperatorsID(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		id, admin := ts.newOperator("admin")
		tier := ts.must(201, "POST", tiersPath, admin, map[string]any{"mode": "session", "minutes": 90, "price": 25000})
		h := ts.must(200, "GET", tiersPath+"/"+tier["id"].(string)+"/history", admin, nil)["entries"].([]any)
		require.Equal(t, id.String(), h[0].(map[string]any)["changed_by"])

		cur := ts.must(200, "GET", promoPath, admin, nil)
		ts.must(200, "PUT", promoPath, admin, map[string]any{"expected_updated_at": cur["updated_at"], "enabled": true, "discount_percent": 20})
		ph := ts.must(200, "GET", promoPath+"/history", admin, nil)["entries"].([]any)
		require.Equal(t, id.String(), ph[0].(map[string]any)["changed_by"])

		f := newAuthzFixture(t, ts)
		_, pairingID := f.declinedTargeted()
		supportID, support := ts.newOperator("support")
		res := ts.must(200, "POST", "/api/internal/failed-pairings/"+f.failureOf(pairingID)+"/actions", support,
			map[string]any{"action": "resolve", "note": "called the client"})
		require.Equal(t, supportID.String(), res["resolved_by"])
	})
}

// auditRows reads the audit rows matching query (newest first).
func auditRows(t *testing.T, ts *testServer, query string) []map[string]any {
	t.Helper()
	out := []map[string]any{}
	for _, it := range ts.must(200, "GET", "/api/internal/audit?"+query, ts.op, nil)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// lastAudit is the newest audit row of target id with action.
func lastAudit(t *testing.T, ts *testServer, target, action string) (before, after map[string]any, row map[string]any) {
	t.Helper()
	rows := auditRows(t, ts, "target_id="+target+"&action="+action)
	require.NotEmpty(t, rows, "no %s row for %s", action, target)
	row = rows[0]
	before, _ = row["before"].(map[string]any)
	after, _ = row["after"].(map[string]any)
	return before, after, row
}

func TestAudit_EachKindOfWriteIsRecordedWithItsBeforeAndAfter(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		f := newAuthzFixture(t, ts)
		adminID, admin := ts.newOperator("admin")
		supportID, support := ts.newOperator("support")

		// operator.create and operator.update.
		opID, _ := ts.newOperator("viewer")
		ts.must(200, "PATCH", "/api/internal/operators/"+opID.String(), admin, map[string]any{"role": "support"})
		before, after, row := lastAudit(t, ts, opID.String(), "operator.update")
		require.Equal(t, adminID.String(), row["operator_id"])
		require.Equal(t, "Op admin", row["operator_name"])
		require.Equal(t, "operator", row["target_kind"])
		require.Equal(t, "viewer", before["role"])
		require.Equal(t, "support", after["role"])
		before, after, row = lastAudit(t, ts, opID.String(), "operator.create")
		require.Nil(t, before)
		require.Equal(t, "viewer", after["role"])
		require.Equal(t, uuid.Nil.String(), row["operator_id"])
		require.Equal(t, bootstrapOperatorName, row["operator_name"])

		// token.mint: whose and until when, never the token.
		tok := ts.must(201, "POST", "/api/internal/tokens", support, map[string]any{"subject_kind": "mitra", "subject_id": f.otherMitra.String()})
		_, after, row = lastAudit(t, ts, f.otherMitra.String(), "token.mint")
		require.Equal(t, supportID.String(), row["operator_id"])
		require.Equal(t, "mitra", after["subject_kind"])
		require.Equal(t, tok["expires_at"], after["expires_at"])
		raw, _ := json.Marshal(auditRows(t, ts, "page_size=200"))
		require.NotContains(t, string(raw), tok["token"].(string), "a token is never in the audit")

		// mitra.status.
		away, _ := ts.newMitra("Sari")
		ts.must(200, "PATCH", "/api/internal/mitras/"+away.String()+"/status", support, map[string]any{"is_active": false})
		before, after, _ = lastAudit(t, ts, away.String(), "mitra.status")
		require.Equal(t, true, before["is_active"])
		require.Equal(t, false, after["is_active"])

		// config.set.
		ts.must(200, "PUT", "/api/internal/config/pairing_blast_timeout_seconds", admin, map[string]any{"value": 75})
		ts.must(200, "PUT", "/api/internal/config/pairing_blast_timeout_seconds", admin, map[string]any{"value": 80})
		before, after, row = lastAudit(t, ts, "pairing_blast_timeout_seconds", "config.set")
		require.EqualValues(t, 75, before["value"])
		require.EqualValues(t, 80, after["value"])
		require.Equal(t, "config", row["target_kind"])

		// pricing.tier.update.
		tier := ts.createTier("session", 45, 30000)
		ts.must(200, "PATCH", tiersPath+"/"+tier["id"].(string), admin, map[string]any{"expected_updated_at": tier["updated_at"], "price": 32000})
		before, after, _ = lastAudit(t, ts, tier["id"].(string), "pricing.tier.update")
		require.EqualValues(t, 30000, before["price"])
		require.EqualValues(t, 32000, after["price"])

		// failed_pairing.resolve.
		_, pairingID := f.declinedTargeted()
		failure := f.failureOf(pairingID)
		ts.must(200, "POST", "/api/internal/failed-pairings/"+failure+"/actions", support, map[string]any{"action": "resolve", "note": "called"})
		before, after, _ = lastAudit(t, ts, failure, "failed_pairing.resolve")
		require.Equal(t, "open", before["status"])
		require.Equal(t, "resolved", after["status"])
		require.Equal(t, supportID.String(), after["resolved_by"])

		// refund.settle_manually.
		refund := f.refundIn("not_possible", "manual")
		ts.must(200, "POST", "/api/internal/refunds/"+refund+"/settle-manually", support, map[string]any{"note": "BT-7"})
		before, after, _ = lastAudit(t, ts, refund, "refund.settle_manually")
		require.Equal(t, "manual", before["status"])
		require.Equal(t, "succeeded", after["status"])

		// payout_destination.set.
		ts.must(200, "PUT", "/api/internal/mitras/"+f.mitra.String()+"/payout-destination", admin, testDestination)
		before, after, _ = lastAudit(t, ts, f.mitra.String(), "payout_destination.set")
		require.Nil(t, before)
		require.Equal(t, testDestination["account_number"], after["account_number"])

		// Filters: by operator, by action; pages.
		bySupport := auditRows(t, ts, "operator_id="+supportID.String()+"&page_size=200")
		require.Len(t, bySupport, 4) // token.mint, mitra.status, failed_pairing.resolve, refund.settle_manually
		for _, r := range bySupport {
			require.Equal(t, supportID.String(), r["operator_id"])
		}
		require.Equal(t, "refund.settle_manually", bySupport[0]["action"], "newest first")
		page2 := ts.must(200, "GET", "/api/internal/audit?operator_id="+supportID.String()+"&page=2&page_size=3", ts.op, nil)
		require.EqualValues(t, 4, page2["total"])
		require.Len(t, page2["items"], 1)
		require.Equal(t, "token.mint", page2["items"].([]any)[0].(map[string]any)["action"])
		for _, q := range []string{"operator_id=nope", "page=0", "page_size=201"} {
			require.Equal(t, http.StatusBadRequest, ts.do("GET", "/api/internal/audit?"+q, ts.op, nil).Status, q)
		}
	})
}

func TestAudit_RowsAreNeverChangedInPostgres(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	ts.newOperator("viewer")
	ctx := context.Background()
	_, err := ts.app.pool.Exec(ctx, `UPDATE operator_audit SET action = 'x'`)
	require.ErrorContains(t, err, "audit rows are never updated or deleted")
	_, err = ts.app.pool.Exec(ctx, `DELETE FROM operator_audit`)
	require.ErrorContains(t, err, "audit rows are never updated or deleted")
}
