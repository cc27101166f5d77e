package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// reportSession: a fresh client pays a 30-minute blast that the mitra of mitraTok
// accepts; each party sends a message.
type reportSession struct {
	clientID            uuid.UUID
	clientTok           string
	session, payment    string
	clientMsg, mitraMsg string
	mitraID             uuid.UUID
	mitraTok            string
}

func (ts *testServer) reportSession(name string) reportSession {
	ts.t.Helper()
	mitraID, mitraTok := ts.onlineMitra(name)
	clientID, clientTok := ts.newClient("Dewi " + name)
	start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
	rs := reportSession{clientID: clientID, clientTok: clientTok, mitraID: mitraID, mitraTok: mitraTok,
		payment: obj(start, "payment")["id"].(string)}
	ts.webhook(rs.payment, "paid")
	accepted := ts.must(200, "POST", "/api/mitra/pairing-offers/"+obj(start, "pairing")["id"].(string)+"/accept", mitraTok, nil)
	rs.session = obj(accepted, "chat_session")["id"].(string)
	chat := "/chat-sessions/" + rs.session + "/messages"
	rs.clientMsg = ts.must(201, "POST", "/api/client"+chat, clientTok, map[string]any{"text": "halo", "client_msg_id": "c1"})["id"].(string)
	rs.mitraMsg = ts.must(201, "POST", "/api/mitra"+chat, mitraTok, map[string]any{"text": "kasar", "client_msg_id": "m1"})["id"].(string)
	return rs
}

// report files a report as party ("client" or "mitra") and requires 201.
func (ts *testServer) report(party, tok string, body map[string]any) map[string]any {
	ts.t.Helper()
	return ts.must(201, "POST", "/api/"+party+"/reports", tok, body)
}

// resolve resolves a report as the bootstrap operator.
func (ts *testServer) resolve(id any, outcome, note string) response {
	ts.t.Helper()
	return ts.do("POST", "/api/internal/reports/"+id.(string)+"/resolve", ts.op, map[string]any{"outcome": outcome, "note": note})
}

// openReport: a fresh client reports "mitra" in a new session; the report's id (the
// authorization matrix resolves it).
func (f *authzFixture) openReport() string {
	f.t.Helper()
	s := f.activeSession(f.mitraTok)
	return f.ts.must(201, "POST", "/api/client/reports", s.client.tok,
		map[string]any{"chat_session_id": s.session, "reason": "harassment"})["id"].(string)
}

func TestReports_EachPartyReportsTheOtherOnlyOnceWhileOpen(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		rs := ts.reportSession("Ayu")
		ts.clock.Advance(3 * time.Minute)
		byClient := ts.report("client", rs.clientTok, map[string]any{"chat_session_id": rs.session, "reason": "harassment",
			"message_ids": []string{rs.mitraMsg}, "note": "Dia kasar padaku."})
		require.Equal(t, "client", byClient["reporter"])
		require.Equal(t, rs.clientID.String(), byClient["reporter_id"])
		require.Equal(t, "mitra", byClient["reported"])
		require.Equal(t, rs.mitraID.String(), byClient["reported_id"])
		require.Equal(t, []any{rs.mitraMsg}, byClient["message_ids"])
		require.Equal(t, "Dia kasar padaku.", byClient["note"])
		require.Equal(t, "open", byClient["status"])
		require.Equal(t, false, byClient["overdue"])
		require.Nil(t, byClient["outcome"])
		created, err := time.Parse(time.RFC3339Nano, byClient["created_at"].(string))
		require.NoError(t, err)
		require.Equal(t, ts.clock.Now().UTC().Truncate(time.Microsecond), created)
		due, err := time.Parse(time.RFC3339Nano, byClient["due_at"].(string))
		require.NoError(t, err)
		require.Equal(t, created.Add(72*time.Hour), due, "due 72 hours after it was filed")

		byMitra := ts.report("mitra", rs.mitraTok, map[string]any{"chat_session_id": rs.session, "reason": "spam"})
		require.Equal(t, "client", byMitra["reported"])
		require.Equal(t, rs.clientID.String(), byMitra["reported_id"])
		require.Nil(t, byMitra["note"])
		require.Equal(t, []any{}, byMitra["message_ids"])

		// Nobody else: a third party learns nothing of the session.
		_, otherClient := ts.newClient("Sari")
		_, otherMitra := ts.newMitra("Bima")
		for _, c := range []struct{ party, tok string }{{"client", otherClient}, {"mitra", otherMitra}} {
			r := ts.do("POST", "/api/"+c.party+"/reports", c.tok, map[string]any{"chat_session_id": rs.session, "reason": "spam"})
			require.Equal(t, 404, r.Status, c.party)
			require.Equal(t, "NOT_FOUND", r.ErrorCode())
		}
		r := ts.do("POST", "/api/client/reports", rs.clientTok, map[string]any{"chat_session_id": uuid.NewString(), "reason": "spam"})
		require.Equal(t, 404, r.Status, "an unknown session")

		// One open report per reporter and session.
		r = ts.do("POST", "/api/client/reports", rs.clientTok, map[string]any{"chat_session_id": rs.session, "reason": "other"})
		require.Equal(t, 409, r.Status)
		require.Equal(t, "REPORT_ALREADY_OPEN", r.ErrorCode())
		require.Equal(t, byClient["id"], obj(r.Body, "error")["report_id"])
		require.Equal(t, 200, ts.resolve(byClient["id"], "no_action", "Sudah kami periksa.").Status)
		again := ts.report("client", rs.clientTok, map[string]any{"chat_session_id": rs.session, "reason": "other"})
		require.NotEqual(t, byClient["id"], again["id"], "once resolved, the session may be reported again")
	})
}

func TestReports_MessageIDsMustBeTheSessionsAndBadInputIs400(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		rs := ts.reportSession("Ayu")
		elsewhere := ts.reportSession("Bima")
		unknown := uuid.NewString()
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"an unknown message", map[string]any{"chat_session_id": rs.session, "reason": "spam", "message_ids": []string{rs.mitraMsg, unknown}}, "message_ids"},
			{"another session's message", map[string]any{"chat_session_id": rs.session, "reason": "spam", "message_ids": []string{elsewhere.mitraMsg}}, "message_ids"},
			{"a message id that is no UUID", map[string]any{"chat_session_id": rs.session, "reason": "spam", "message_ids": []string{"m1"}}, "message_ids"},
			{"a message twice", map[string]any{"chat_session_id": rs.session, "reason": "spam", "message_ids": []string{rs.mitraMsg, rs.mitraMsg}}, "message_ids"},
			{"an unknown reason", map[string]any{"chat_session_id": rs.session, "reason": "rude"}, "reason"},
			{"no reason", map[string]any{"chat_session_id": rs.session}, "reason"},
			{"no session", map[string]any{"reason": "spam"}, "chat_session_id"},
			{"a long note", map[string]any{"chat_session_id": rs.session, "reason": "spam", "note": strings.Repeat("x", 2001)}, "note"},
		} {
			r := ts.do("POST", "/api/client/reports", rs.clientTok, tc.body)
			require.Equal(t, 400, r.Status, "%s: %s", tc.name, r.Raw)
			require.Equal(t, tc.field, obj(r.Body, "error")["field"], tc.name)
		}
		r := ts.do("POST", "/api/client/reports", rs.clientTok,
			map[string]any{"chat_session_id": rs.session, "reason": "spam", "message_ids": []string{rs.mitraMsg, unknown}})
		require.Contains(t, obj(r.Body, "error")["message"], unknown, "the answer names the ids that are not the session's")
		require.NotContains(t, obj(r.Body, "error")["message"], rs.mitraMsg)
		r = ts.do("POST", "/api/client/reports", rs.clientTok, map[string]any{"chat_session_id": "s1", "reason": "spam"})
		require.Equal(t, 400, r.Status)
		require.Equal(t, "INVALID_ID", r.ErrorCode())
		// The client's own message may be named too; the report is then filed.
		ts.report("client", rs.clientTok, map[string]any{"chat_session_id": rs.session, "reason": "spam",
			"message_ids": []string{rs.clientMsg, rs.mitraMsg}})
	})
}

func TestReports_TheQueueListsOpenReportsOldestDueFirstAndTellsWhichAreOverdue(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		var ids []string
		for i, name := range []string{"Ayu", "Bima", "Citra"} {
			if i > 0 {
				ts.clock.Advance(time.Hour)
			}
			rs := ts.reportSession(name)
			ids = append(ids, ts.report("client", rs.clientTok, map[string]any{"chat_session_id": rs.session, "reason": "spam"})["id"].(string))
		}
		_, viewer := ts.newOperator("viewer")
		list := func(query string) map[string]any {
			t.Helper()
			return ts.must(200, "GET", "/api/internal/reports"+query, viewer, nil)
		}
		itemIDs := func(page map[string]any) []string {
			var out []string
			for _, it := range page["items"].([]any) {
				out = append(out, it.(map[string]any)["id"].(string))
			}
			return out
		}
		page := list("")
		require.Equal(t, ids, itemIDs(page), "status defaults to open: oldest due first")
		require.Equal(t, float64(3), page["total"])
		for _, it := range page["items"].([]any) {
			require.Equal(t, false, it.(map[string]any)["overdue"])
		}
		page = list("?status=open&page=2&page_size=2")
		require.Equal(t, ids[2:], itemIDs(page))
		require.Equal(t, float64(3), page["total"])

		// 72 hours after the first was filed, plus a second: the first is overdue.
		ts.clock.Advance(70*time.Hour + time.Second)
		_, viewer = ts.newOperator("viewer") // the first token expired meanwhile
		page = list("?status=open")
		overdue := map[string]bool{}
		for _, it := range page["items"].([]any) {
			overdue[it.(map[string]any)["id"].(string)] = it.(map[string]any)["overdue"].(bool)
		}
		require.Equal(t, map[string]bool{ids[0]: true, ids[1]: false, ids[2]: false}, overdue)

		require.Equal(t, 200, ts.resolve(ids[1], "no_action", "ok").Status)
		ts.clock.Advance(time.Minute)
		require.Equal(t, 200, ts.resolve(ids[0], "no_action", "ok").Status)
		require.Equal(t, []string{ids[2]}, itemIDs(list("?status=open")))
		resolved := list("?status=resolved")
		require.Equal(t, []string{ids[0], ids[1]}, itemIDs(resolved), "newest resolution first")
		require.Equal(t, false, resolved["items"].([]any)[0].(map[string]any)["overdue"], "a resolved report is never overdue")

		for _, q := range []string{"?status=closed", "?page=0", "?page_size=101"} {
			r := ts.do("GET", "/api/internal/reports"+q, viewer, nil)
			require.Equal(t, 400, r.Status, q)
		}
	})
}

func TestReports_ResolveWarnsTheReportedPartyAndCountsItOnItsProfile(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		rs := ts.reportSession("Ayu")
		mitraEvents := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", rs.mitraTok)
		clientEvents := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", rs.clientTok)
		byClient := ts.report("client", rs.clientTok, map[string]any{"chat_session_id": rs.session, "reason": "harassment"})
		byMitra := ts.report("mitra", rs.mitraTok, map[string]any{"chat_session_id": rs.session, "reason": "spam"})
		_, support := ts.newOperator("support")
		supportID, _ := uuid.Parse(ts.must(200, "GET", "/api/internal/operators/me", support, nil)["id"].(string))

		r := ts.do("POST", "/api/internal/reports/"+byClient["id"].(string)+"/resolve", support,
			map[string]any{"outcome": "warned", "note": "Jaga bahasamu."})
		require.Equal(t, 200, r.Status, "%s", r.Raw)
		require.Equal(t, "resolved", r.Body["status"])
		require.Equal(t, "warned", r.Body["outcome"])
		require.Equal(t, "Jaga bahasamu.", r.Body["resolution_note"])
		require.Equal(t, supportID.String(), r.Body["resolved_by"])
		mitraEvents.requireEvent(t, 5*time.Second, `"data":{"report_id":"`+byClient["id"].(string)+`","note":"Jaga bahasamu."}`)
		require.Equal(t, float64(1), ts.must(200, "GET", "/api/internal/mitras/"+rs.mitraID.String(), ts.op, nil)["warnings_count"])

		require.Equal(t, 200, ts.resolve(byMitra["id"], "warned", "Tolong sopan.").Status)
		clientEvents.requireEvent(t, 5*time.Second, `"data":{"report_id":"`+byMitra["id"].(string)+`","note":"Tolong sopan."}`)
		overview := ts.must(200, "GET", "/api/internal/clients/"+rs.clientID.String(), ts.op, nil)
		require.Equal(t, float64(1), obj(overview, "client")["warnings_count"])
		found := ts.must(200, "GET", "/api/internal/clients?q="+rs.clientID.String(), ts.op, nil)["items"].([]any)
		require.Len(t, found, 1)
		require.Equal(t, float64(1), found[0].(map[string]any)["warnings_count"])
		require.Equal(t, float64(0), ts.must(200, "GET", "/api/internal/mitras/"+ts.reportSession("Bima").mitraID.String(),
			ts.op, nil)["warnings_count"], "nobody else is warned")

		// Audited with the report before and after.
		audit := ts.must(200, "GET", "/api/internal/audit?action=report.resolve&target_id="+byClient["id"].(string), ts.op, nil)
		items := audit["items"].([]any)
		require.Len(t, items, 1)
		entry := items[0].(map[string]any)
		require.Equal(t, supportID.String(), entry["operator_id"])
		require.Equal(t, "report", entry["target_kind"])
		require.Equal(t, "open", obj(entry, "before")["status"])
		require.Equal(t, "warned", obj(entry, "after")["outcome"])

		// Twice: 409, and nothing more is counted or sent.
		again := ts.resolve(byClient["id"], "warned", "Sekali lagi.")
		require.Equal(t, 409, again.Status)
		require.Equal(t, "INVALID_STATE", again.ErrorCode())
		require.Equal(t, float64(1), ts.must(200, "GET", "/api/internal/mitras/"+rs.mitraID.String(), ts.op, nil)["warnings_count"])
		require.Equal(t, 2, ts.auditActions("report.resolve"), "the refused second resolution is not audited")

		require.Equal(t, 404, ts.resolve(uuid.NewString(), "no_action", "x").Status)
		for _, body := range []map[string]any{{"outcome": "banned", "note": "x"}, {"outcome": "warned"}, {"note": "x"},
			{"outcome": "warned", "note": "  "}} {
			r := ts.do("POST", "/api/internal/reports/"+byClient["id"].(string)+"/resolve", ts.op, body)
			require.Equal(t, 400, r.Status, "%v", body)
		}
	})
}

func TestReports_ResolveDeactivatesTheMitraOrSuspendsTheClientReported(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		rs := ts.reportSession("Ayu")
		byClient := ts.report("client", rs.clientTok, map[string]any{"chat_session_id": rs.session, "reason": "harassment"})
		byMitra := ts.report("mitra", rs.mitraTok, map[string]any{"chat_session_id": rs.session, "reason": "safety"})

		// The outcome must fit the reported party: 400 on outcome, nothing done.
		for _, tc := range []struct {
			id      any
			outcome string
		}{{byClient["id"], "client_suspended"}, {byMitra["id"], "mitra_deactivated"}} {
			r := ts.resolve(tc.id, tc.outcome, "x")
			require.Equal(t, 400, r.Status, tc.outcome)
			require.Equal(t, "outcome", obj(r.Body, "error")["field"])
		}
		require.Equal(t, 200, ts.do("GET", "/api/mitra/status", rs.mitraTok, nil).Status)
		require.Equal(t, 200, ts.do("GET", "/api/client/mitra-availability", rs.clientTok, nil).Status)

		// The mitra: deactivated as by its status route — its token refused, its session ended.
		require.Equal(t, 200, ts.resolve(byClient["id"], "mitra_deactivated", "Melanggar aturan.").Status)
		require.Equal(t, false, ts.must(200, "GET", "/api/internal/mitras/"+rs.mitraID.String(), ts.op, nil)["is_active"])
		r := ts.do("GET", "/api/mitra/status", rs.mitraTok, nil)
		require.Equal(t, 403, r.Status)
		require.Equal(t, "MITRA_DEACTIVATED", r.ErrorCode())
		view := ts.must(200, "GET", "/api/client/chat-sessions/"+rs.session, rs.clientTok, nil)
		require.Equal(t, "mitra_deactivated", view["end_reason"])

		// The client: suspended as by its status route.
		require.Equal(t, 200, ts.resolve(byMitra["id"], "client_suspended", "Mengancam mitra.").Status)
		overview := ts.must(200, "GET", "/api/internal/clients/"+rs.clientID.String(), ts.op, nil)
		require.Equal(t, false, obj(overview, "client")["is_active"])
		r = ts.do("GET", "/api/client/mitra-availability", rs.clientTok, nil)
		require.Equal(t, 403, r.Status)
		require.Equal(t, "CLIENT_SUSPENDED", r.ErrorCode())
		require.Equal(t, 2, ts.auditActions("report.resolve"))
	})
}

func TestReports_ResolveRefundsWhatIsLeftOfTheSessionOnceAndTheBooksBalance(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		// Ended: the mitra earned it; the refund takes the earning back.
		ended := ts.reportSession("Ayu")
		ts.clock.Advance(10 * time.Minute)
		ts.must(200, "POST", "/api/client/chat-sessions/"+ended.session+"/end", ended.clientTok, nil)
		require.Equal(t, float64(17500), ts.earnings(ended.mitraID)["pending"])
		rep := ts.report("client", ended.clientTok, map[string]any{"chat_session_id": ended.session, "reason": "harassment"})

		// The act succeeds but the mark is lost (the act runs alone): the resolution acts
		// again, and refunds nothing twice.
		stored, err := ts.app.client.Reports().Get(context.Background(), uuid.MustParse(rep["id"].(string)))
		require.NoError(t, err)
		require.NoError(t, reportActs{ts.app}.RefundClient(context.Background(), stored))
		r := ts.resolve(rep["id"], "refunded", "Uang dikembalikan.")
		require.Equal(t, 200, r.Status, "%s", r.Raw)
		require.Equal(t, "refunded", r.Body["outcome"])
		story := ts.story(ended.payment)
		require.Equal(t, "refunded", obj(story, "payment")["status"])
		require.Equal(t, float64(25000), obj(story, "payment")["refunded_amount"])
		require.Len(t, story["refunds"].([]any), 1, "one refund")
		require.Equal(t, "succeeded", story["refunds"].([]any)[0].(map[string]any)["status"])
		require.Equal(t, float64(0), ts.earnings(ended.mitraID)["pending"], "the earning reversed")

		// Running: the session ends operator_ended with the full refund.
		running := ts.reportSession("Bima")
		rep = ts.report("mitra", running.mitraTok, map[string]any{"chat_session_id": running.session, "reason": "other"})
		require.Equal(t, 200, ts.resolve(rep["id"], "refunded", "Sesi dihentikan.").Status)
		view := ts.must(200, "GET", "/api/client/chat-sessions/"+running.session, running.clientTok, nil)
		require.Equal(t, "operator_ended", view["end_reason"])
		story = ts.story(running.payment)
		require.Equal(t, "refunded", obj(story, "payment")["status"])
		require.Equal(t, float64(25000), obj(story, "payment")["refunded_amount"])
		require.Equal(t, float64(0), ts.earnings(running.mitraID)["pending"])

		accounts := ts.requireBooksBalance()
		require.Equal(t, float64(0), accounts["client_funds"])
		ts.requireSettled() // and requireBooksBalance found no ledger finding
	})
}

func TestReports_ReadingASessionsMessagesIsForSupportAndAudited(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		rs := ts.reportSession("Ayu")
		ts.must(201, "POST", "/api/client/chat-sessions/"+rs.session+"/messages", rs.clientTok,
			map[string]any{"text": "kamu di mana?", "client_msg_id": "c2"})
		ts.clock.Advance(30 * time.Minute) // over: the parties' own window does not bind operators
		path := "/api/internal/chat-sessions/" + rs.session + "/messages"
		_, viewer := ts.newOperator("viewer")
		r := ts.do("GET", path, viewer, nil)
		require.Equal(t, 403, r.Status, "a viewer may not read messages")
		supportID, support := ts.newOperator("support")

		page := ts.must(200, "GET", path+"?after_seq=1&limit=5", support, nil)
		require.Equal(t, rs.clientID.String(), page["client_id"])
		require.Equal(t, rs.mitraID.String(), page["mitra_id"])
		var texts []string
		for _, it := range page["items"].([]any) {
			texts = append(texts, it.(map[string]any)["text"].(string))
		}
		require.Equal(t, []string{"kasar", "kamu di mana?"}, texts, "after seq 1, oldest first")

		audit := ts.must(200, "GET", "/api/internal/audit?action=chat_session.read_messages&target_id="+rs.session, ts.op, nil)
		items := audit["items"].([]any)
		require.Len(t, items, 1, "the read is audited")
		entry := items[0].(map[string]any)
		require.Equal(t, supportID.String(), entry["operator_id"])
		require.Equal(t, "chat_session", entry["target_kind"])
		require.Equal(t, float64(2), obj(entry, "after")["messages"])
		require.Equal(t, float64(3), obj(entry, "after")["last_seq"])
		raw, err := json.Marshal(entry)
		require.NoError(t, err)
		require.NotContains(t, string(raw), "kamu di mana", "the audit names what was read, not the text")

		require.Equal(t, 404, ts.do("GET", "/api/internal/chat-sessions/"+uuid.NewString()+"/messages", support, nil).Status)
		for _, q := range []string{"?limit=0", "?limit=501", "?after_seq=-1"} {
			require.Equal(t, 400, ts.do("GET", path+q, support, nil).Status, q)
		}
		require.Equal(t, 1, ts.auditActions("chat_session.read_messages"), "refused reads are not audited")
	})
}
