package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// sweepNoShows runs the no-show rule once, as its sweep does (the test servers run no
// sweeps of their own).
func (ts *testServer) sweepNoShows() int {
	ts.t.Helper()
	n, err := ts.app.pairer.SweepNoShows(context.Background())
	require.NoError(ts.t, err)
	return n
}

// sweepRetention runs the retention sweep once.
func (ts *testServer) sweepRetention() int {
	ts.t.Helper()
	n, err := ts.app.client.Chat().SweepRetention(context.Background())
	require.NoError(ts.t, err)
	return n
}

// exportOf is the client's GET /api/client/me/export.
func (ts *testServer) exportOf(clientTok string) (map[string]any, response) {
	ts.t.Helper()
	r := ts.do("GET", "/api/client/me/export", clientTok, nil)
	require.Equal(ts.t, 200, r.Status, "%s", r.Raw)
	return r.Body, r
}

// listOf returns the objects of m's array key.
func listOf(m map[string]any, key string) []map[string]any {
	var out []map[string]any
	for _, v := range m[key].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func TestNoShowRoutes_ASilentMitrasChatEndsMitraNoShowRefundedInFullAndTheMitraGoesAway(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("mitra_first_reply_seconds", 60)
		ts.setConfig("mitra_missed_offers_before_away", 1)
		mitraID, mitraTok := ts.onlineMitra("Ayu")
		clientTok, sessionID, payID := ts.activeSession(mitraTok)
		clientStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", clientTok)
		mitraStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", mitraTok)
		ts.must(201, "POST", "/api/client/chat-sessions/"+sessionID+"/messages", clientTok,
			map[string]any{"text": "halo, kak?", "client_msg_id": "c1"}) // the client's messages do not count

		ts.clock.Advance(59 * time.Second)
		require.Zero(t, ts.sweepNoShows(), "before the deadline")
		ts.clock.Advance(time.Second)
		require.Equal(t, 1, ts.sweepNoShows())

		s := ts.must(200, "GET", "/api/client/chat-sessions/"+sessionID, clientTok, nil)
		require.Equal(t, "ended", s["status"])
		require.Equal(t, "mitra_no_show", s["end_reason"])
		// The mitra is told it is away (the miss is counted before the slot frees), then
		// both parties that the chat ended.
		awaitKind(t, mitraStream, "mitra_away", 5*time.Second)
		for _, st := range []*testStream{clientStream, mitraStream} {
			ended := awaitKind(t, st, "session_ended", 5*time.Second)
			require.Equal(t, sessionID, ended["chat_session_id"])
			require.Equal(t, "mitra_no_show", ended["reason"])
		}
		pay := ts.must(200, "GET", "/api/client/payments/"+payID, clientTok, nil)
		require.Equal(t, "refunded", pay["status"])
		require.Equal(t, float64(25000), pay["refunded_amount"], "in full")

		// A missed offer: with mitra_missed_offers_before_away 1 the mitra is away.
		st := ts.must(200, "GET", "/api/mitra/status", mitraTok, nil)
		require.Equal(t, false, st["online"])
		require.Equal(t, "missed_offers", st["away_reason"])

		// Not a completed chat, neither in the statistics nor on the client's page; the
		// mitra earned nothing of it and the books balance.
		stats := ts.must(200, "GET", "/api/internal/stats?window=1h", ts.op, nil)
		require.Equal(t, float64(0), stats["sessions_completed"])
		clientID := uuid.MustParse(s["client_id"].(string))
		glance := ts.must(200, "GET", "/api/internal/clients/"+clientID.String(), ts.op, nil)
		require.Equal(t, float64(0), glance["chat_sessions_completed"])
		require.Equal(t, float64(1), glance["chat_sessions"])
		ts.requireBooksBalance()
		earned := ts.earnings(mitraID)
		require.Equal(t, float64(0), earned["pending"], "%v", earned)

		ts.clock.Advance(time.Minute)
		require.Zero(t, ts.sweepNoShows(), "once")
		res := ts.do("POST", "/api/mitra/chat-sessions/"+sessionID+"/messages", mitraTok,
			map[string]any{"text": "maaf telat", "client_msg_id": "m1"})
		require.Equal(t, 409, res.Status, "too late: the chat is over")
	})
}

func TestNoShowRoutes_TheMitrasMessageOrTheSettingAtZeroKeepsTheChat(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, mitraTok := ts.onlineMitra("Ayu")
		_, silentTok := ts.onlineMitra("Budi")
		_, answered, _ := ts.activeSession(mitraTok)
		_, silent, _ := ts.activeSession(silentTok)
		ts.clock.Advance(30 * time.Second)
		ts.must(201, "POST", "/api/mitra/chat-sessions/"+answered+"/messages", mitraTok,
			map[string]any{"text": "halo, aku di sini", "client_msg_id": "m1"})

		ts.clock.Advance(10 * time.Minute)
		require.Zero(t, ts.sweepNoShows(), "off by default")
		ts.setConfig("mitra_first_reply_seconds", 60)
		require.Equal(t, 1, ts.sweepNoShows(), "turned on, it applies to the chats running")
		for id, want := range map[string]string{answered: "active", silent: "ended"} {
			cs, err := ts.app.pairer.GetChatSession(context.Background(), uuid.MustParse(id))
			require.NoError(t, err)
			require.Equal(t, want, string(cs.Status), id)
		}
	})
}

func TestNoShowRoutes_TheSweepRunsAtNoShowSweepSeconds(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend, func(c *Config) { c.Sweeps, c.NoShowSweep, c.ChatRetentionSweep = true, 7*time.Minute, 3*time.Hour })
	cadences := map[string]time.Duration{}
	for _, sw := range ts.app.client.Sweeps() {
		cadences[sw.Name()] = sw.Interval()
	}
	require.Equal(t, 7*time.Minute, cadences["no_show"])
	require.Equal(t, 3*time.Hour, cadences["chat_retention"])
	_, r := ts.runSweep("no_show")
	require.Equal(t, 0, r.Counts["ended"])
}

func TestRetentionRoutes_OldMessagesGoButAReportedSessionsStayWhileItsReportIsOpen(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		reported := ts.reportSession("Ayu")
		plain := ts.reportSession("Budi")
		rep := ts.report("client", reported.clientTok, map[string]any{"chat_session_id": reported.session, "reason": "harassment",
			"message_ids": []string{reported.mitraMsg}, "note": "dia kasar"})
		ts.setConfig("chat_message_retention_days", 1)

		ts.clock.Advance(23 * time.Hour)
		require.Zero(t, ts.sweepRetention(), "a day not gone yet")
		ts.clock.Advance(time.Hour + time.Second)
		require.Equal(t, 2, ts.sweepRetention(), "the session without a report")

		transcript := func(session string) []map[string]any {
			return listOf(ts.must(200, "GET", "/api/internal/chat-sessions/"+session+"/messages", ts.op, nil), "items")
		}
		require.Len(t, transcript(plain.session), 0)
		kept := transcript(reported.session)
		require.Len(t, kept, 2, "the message reported and the rest of its session")
		require.Equal(t, reported.mitraMsg, kept[1]["id"])

		require.Equal(t, 200, ts.resolve(rep["id"], "no_action", "tidak terbukti").Status)
		require.Equal(t, 2, ts.sweepRetention(), "a resolved report holds nothing")
		require.Len(t, transcript(reported.session), 0)
		ts.requireBooksBalance() // money records stay
		pay := ts.must(200, "GET", "/api/internal/payments/"+plain.payment, ts.op, nil)
		require.Equal(t, float64(25000), obj(pay, "payment")["amount"])
	})
}

func TestExportRoutes_TheClientGetsItsOwnDataAndNothingOfAnotherClients(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		mine := ts.reportSession("Ayu")
		theirs := ts.reportSession("Budi")
		ts.must(201, "POST", "/api/client/chat-sessions/"+theirs.session+"/messages", theirs.clientTok,
			map[string]any{"text": "rahasia orang lain", "client_msg_id": "secret"})
		ts.report("client", mine.clientTok, map[string]any{"chat_session_id": mine.session, "reason": "spam", "note": "iklan"})
		ts.must(200, "POST", "/api/client/chat-sessions/"+mine.session+"/end", mine.clientTok, nil)
		ts.must(201, "POST", "/api/client/blocks", mine.clientTok, map[string]any{"mitra_id": mine.mitraID.String()})
		ts.clock.Advance(48 * time.Hour) // past the 24 hours the chat's history is open: the export still has it
		mine.clientTok = ts.token("client", mine.clientID)

		doc, res := ts.exportOf(mine.clientTok)
		require.Equal(t, `attachment; filename="curhat-export-`+mine.clientID.String()+`.json"`, res.Header.Get("Content-Disposition"))
		require.Equal(t, ts.clock.Now().UTC().Format(time.RFC3339Nano), doc["exported_at"])
		require.Equal(t, mine.clientID.String(), obj(doc, "client")["id"])
		require.Equal(t, "Dewi Ayu", obj(doc, "client")["display_name"])
		pairings := listOf(doc, "pairings")
		require.Len(t, pairings, 1)
		require.Equal(t, "matched", pairings[0]["status"])
		sessions := listOf(doc, "chat_sessions")
		require.Len(t, sessions, 1)
		require.Equal(t, mine.session, sessions[0]["id"])
		require.Equal(t, "client_ended", sessions[0]["end_reason"])
		msgs := listOf(sessions[0], "messages")
		require.Len(t, msgs, 2, "both parties' messages")
		require.Equal(t, mine.clientMsg, msgs[0]["id"])
		require.Equal(t, "mitra", msgs[1]["sender"])
		payments := listOf(doc, "payments")
		require.Len(t, payments, 1)
		require.Equal(t, mine.payment, payments[0]["id"])
		require.Equal(t, float64(25000), payments[0]["amount"])
		require.Empty(t, payments[0]["refunds"])
		reports := listOf(doc, "reports")
		require.Len(t, reports, 1)
		require.Equal(t, "iklan", reports[0]["note"])
		blocks := listOf(doc, "blocks")
		require.Len(t, blocks, 1)
		require.Equal(t, mine.mitraID.String(), blocks[0]["mitra_id"])

		raw := string(res.Raw)
		for _, other := range []string{theirs.clientID.String(), theirs.session, theirs.payment, theirs.clientMsg, "rahasia orang lain"} {
			require.NotContains(t, raw, other, "nothing of another client")
		}
	})
}

func TestEraseRoutes_TheClientIsScrubbedInPlaceItsMoneyKeptAndItsTokensRefused(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		s := ts.reportSession("Ayu")
		path := "/api/client/chat-sessions/" + s.session + "/messages"
		// A report the client filed, resolved (an open one would hold the session's messages).
		rep := ts.report("client", s.clientTok, map[string]any{"chat_session_id": s.session, "reason": "other", "note": "dia minta nomorku"})
		require.Equal(t, 200, ts.resolve(rep["id"], "warned", "mitra diperingatkan").Status)

		res := ts.do("DELETE", "/api/client/me", s.clientTok, nil)
		require.Equal(t, 409, res.Status, "while the chat is active")
		require.Equal(t, "INVALID_STATE", res.ErrorCode())
		require.Len(t, listOf(ts.must(200, "GET", path, s.clientTok, nil), "items"), 2, "nothing deleted")

		ts.must(200, "POST", "/api/client/chat-sessions/"+s.session+"/end", s.clientTok, nil)
		// A second chat of the client's finds nobody and is refunded (the mitra went offline).
		ts.must(200, "POST", "/api/mitra/status/offline", s.mitraTok, nil)
		start := ts.must(201, "POST", "/api/client/chat/start", s.clientTok, map[string]any{"minutes": 30})
		res = ts.do("DELETE", "/api/client/me", s.clientTok, nil)
		require.Equal(t, 409, res.Status, "while a pairing waits for its payment")
		failedPay := obj(start, "payment")["id"].(string)
		require.Equal(t, 200, ts.webhook(failedPay, "paid").Status)

		before, _ := ts.exportOf(s.clientTok)
		require.Len(t, listOf(before, "payments"), 2)
		money := func(payments []string) (paid, refunded float64) {
			for _, id := range payments {
				p := obj(ts.must(200, "GET", "/api/internal/payments/"+id, ts.op, nil), "payment")
				paid += p["amount"].(float64)
				refunded += p["refunded_amount"].(float64)
			}
			return paid, refunded
		}
		paidBefore, refundedBefore := money([]string{s.payment, failedPay})
		require.Equal(t, float64(50000), paidBefore)
		require.Equal(t, float64(25000), refundedBefore)
		booksBefore := ts.requireBooksBalance()

		stream := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", s.clientTok)
		out := ts.must(200, "DELETE", "/api/client/me", s.clientTok, nil)
		c := obj(out, "client")
		require.Equal(t, s.clientID.String(), c["id"], "the same id")
		require.Equal(t, "Deleted client", c["display_name"])
		require.Equal(t, false, c["is_active"])
		require.Equal(t, ts.clock.Now().UTC().Format(time.RFC3339Nano), c["erased_at"])
		require.Equal(t, float64(2), out["messages_deleted"], "both parties' messages")
		require.Equal(t, float64(1), out["reports_redacted"])
		closed := awaitKind(t, stream, "account_closed", 5*time.Second)
		require.Equal(t, "client_erased", closed["reason"])
		stream.requireClosedWithin(t, 5*time.Second, "the erased client's stream")

		// Its tokens are refused, the old and any new one.
		require.Equal(t, http.StatusUnauthorized, ts.do("GET", "/api/client/me/export", s.clientTok, nil).Status)
		fresh := ts.token("client", s.clientID)
		require.Equal(t, http.StatusUnauthorized, ts.do("GET", "/api/client/me/export", fresh, nil).Status)

		// Operators see the scrubbed client, cannot reinstate it, and the money is as it was.
		glance := ts.must(200, "GET", "/api/internal/clients/"+s.clientID.String(), ts.op, nil)
		require.Equal(t, "Deleted client", obj(glance, "client")["display_name"])
		require.NotNil(t, obj(glance, "client")["erased_at"])
		require.Equal(t, float64(1), glance["chat_sessions"], "its chat stays")
		res = ts.do("PATCH", "/api/internal/clients/"+s.clientID.String()+"/status", ts.op, map[string]any{"is_active": true})
		require.Equal(t, 409, res.Status)
		paidAfter, refundedAfter := money([]string{s.payment, failedPay})
		require.Equal(t, paidBefore, paidAfter)
		require.Equal(t, refundedBefore, refundedAfter)
		require.Equal(t, booksBefore, ts.requireBooksBalance(), "the ledger untouched, balanced")

		// The messages are gone for the mitra too; the report stays, its note redacted.
		require.Len(t, listOf(ts.must(200, "GET", "/api/mitra/chat-sessions/"+s.session+"/messages", s.mitraTok, nil), "items"), 0)
		resolved := listOf(ts.must(200, "GET", "/api/internal/reports?status=resolved", ts.op, nil), "items")
		require.Len(t, resolved, 1)
		require.Equal(t, "[redacted]", resolved[0]["note"])
		require.Equal(t, "[redacted]", resolved[0]["resolution_note"])
		require.Equal(t, "other", resolved[0]["reason"])
		require.Equal(t, "warned", resolved[0]["outcome"])
	})
}

func TestEraseRoutes_MessagesAnOpenReportHoldsStayUntilTheRetentionTakesThem(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		s := ts.reportSession("Ayu")
		// The mitra reports the client; the client erases itself once the chat is over.
		rep := ts.report("mitra", s.mitraTok, map[string]any{"chat_session_id": s.session, "reason": "harassment",
			"message_ids": []string{s.clientMsg}})
		ts.must(200, "POST", "/api/client/chat-sessions/"+s.session+"/end", s.clientTok, nil)
		out := ts.must(200, "DELETE", "/api/client/me", s.clientTok, nil)
		require.Equal(t, float64(0), out["messages_deleted"], "held by the open report")
		require.Len(t, listOf(ts.must(200, "GET", "/api/internal/chat-sessions/"+s.session+"/messages", ts.op, nil), "items"), 2)

		require.Equal(t, 200, ts.resolve(rep["id"], "no_action", "selesai").Status)
		ts.clock.Advance(91 * 24 * time.Hour)
		require.Equal(t, 2, ts.sweepRetention())
		require.True(t, strings.Contains(string(ts.do("GET", "/api/internal/chat-sessions/"+s.session+"/messages", ts.op, nil).Raw), `"items":[]`))
	})
}
