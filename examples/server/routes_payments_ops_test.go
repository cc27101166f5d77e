package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// operatorRefund posts an operator's refund of payID under key and returns the answer.
func (ts *testServer) operatorRefund(payID, key string, body map[string]any) response {
	ts.t.Helper()
	if key == "" {
		return ts.do("POST", "/api/internal/payments/"+payID+"/refunds", ts.op, body)
	}
	return ts.doWith("POST", "/api/internal/payments/"+payID+"/refunds", ts.op, body, "Idempotency-Key", key)
}

// operatorEnd ends a chat session as an operator choosing refund, and requires 200.
func (ts *testServer) operatorEnd(sessionID, refund string) map[string]any {
	ts.t.Helper()
	return ts.must(200, "POST", "/api/internal/chat-sessions/"+sessionID+"/end", ts.op,
		map[string]any{"reason": "the client reported abuse", "refund": refund})
}

// story is GET /api/internal/payments/{id}.
func (ts *testServer) story(payID string) map[string]any {
	ts.t.Helper()
	return ts.must(200, "GET", "/api/internal/payments/"+payID, ts.op, nil)
}

// kindsOf returns the kinds of a timeline in order, a ledger event as
// "ledger:<ledger_kind>".
func kindsOf(items []any) []string {
	var out []string
	for _, it := range items {
		it := it.(map[string]any)
		k := it["kind"].(string)
		if k == "ledger" {
			k += ":" + it["ledger_kind"].(string)
		}
		out = append(out, k)
	}
	return out
}

// auditActions counts the audit rows of action.
func (ts *testServer) auditActions(action string) int {
	ts.t.Helper()
	n := 0
	for _, it := range ts.must(200, "GET", "/api/internal/audit?page_size=200", ts.op, nil)["items"].([]any) {
		if it.(map[string]any)["action"] == action {
			n++
		}
	}
	return n
}

func TestPaymentStory_TellsAFullStoryOldestFirstOnEveryLookup(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers() // 30 minutes for 25,000; 10 more for 10,000
		clientID, clientTok := ts.newClient("Dewi")
		mitra, mitraTok := ts.onlineMitra("Ayu")
		ts.onlineMitra("Bima")

		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		payID, pairingID := obj(start, "payment")["id"].(string), obj(start, "pairing")["id"].(string)
		ts.clock.Advance(time.Second)
		require.Equal(t, 200, ts.webhook(payID, "paid").Status)
		ts.clock.Advance(5 * time.Second)
		sessionID := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", mitraTok, nil), "chat_session")["id"].(string)
		ts.clock.Advance(time.Minute)
		ext := ts.must(201, "POST", "/api/client/chat-sessions/"+sessionID+"/extensions", clientTok, map[string]any{"minutes": 10})
		extPayID := obj(ext, "payment")["id"].(string)
		ts.clock.Advance(time.Second)
		require.Equal(t, 200, ts.webhook(extPayID, "paid").Status)
		ts.clock.Advance(10 * time.Minute)
		ended := ts.operatorEnd(sessionID, "unused")

		// 40 minutes bought for 35,000; 28 min 59 s left: floor(35000 × 1739 / 2400) =
		// 25360, the extension's 10,000 first, then 15,360 of the chat.
		refunds := ended["refunds"].([]any)
		require.Len(t, refunds, 2)
		require.Equal(t, extPayID, refunds[0].(map[string]any)["payment_id"])
		require.Equal(t, float64(10000), refunds[0].(map[string]any)["amount"])
		require.Equal(t, payID, refunds[1].(map[string]any)["payment_id"])
		require.Equal(t, float64(15360), refunds[1].(map[string]any)["amount"])

		got := ts.story(payID)
		pay := obj(got, "payment")
		require.Equal(t, payID, pay["id"])
		require.Equal(t, clientID.String(), pay["client_id"])
		require.Equal(t, pairingID, pay["pairing_id"])
		require.Equal(t, "partially_refunded", pay["status"])
		require.Equal(t, float64(15360), pay["refunded_amount"])
		require.Equal(t, float64(25000-15360), pay["refundable"])
		require.Len(t, got["refunds"], 1)
		require.Equal(t, "succeeded", got["refunds"].([]any)[0].(map[string]any)["status"])

		timeline := got["timeline"].([]any)
		require.Equal(t, []string{
			"payment_created",             // the blast's payment, as the client starts
			"payment_paid", "offers_sent", // paid: offered to both mitras at once
			"ledger:payment_paid",        // …and posted
			"matched", "session_started", // Ayu accepts
			"payment_created",                // the extension's payment
			"payment_paid", "extension_paid", // paid and applied
			"ledger:payment_paid",                  // …and posted
			"session_ended",                        // the operator ends the chat
			"refund_requested", "refund_requested", // the unused part, from both payments
			"refund_succeeded", "refund_succeeded",
			"ledger:session_value",    // what the mitra earned: the rest
			"ledger:refund_succeeded", // the refunds, as posted
			"ledger:refund_succeeded",
		}, kindsOf(timeline))
		for i := 1; i < len(timeline); i++ {
			prev, cur := timeline[i-1].(map[string]any)["at"].(string), timeline[i].(map[string]any)["at"].(string)
			require.LessOrEqual(t, mustTime(t, prev), mustTime(t, cur), "oldest first")
		}
		offers := timeline[2].(map[string]any)
		require.Equal(t, float64(2), offers["count"])
		require.Equal(t, pairingID, offers["pairing_id"])
		matched := timeline[4].(map[string]any)
		require.Equal(t, mitra.String(), matched["mitra_id"])
		require.Equal(t, sessionID, matched["chat_session_id"])
		endedAt := timeline[10].(map[string]any)
		require.Equal(t, "operator_ended", endedAt["reason"])
		value := timeline[15].(map[string]any)
		require.Equal(t, float64(25000-15360), value["amount"], "the session's value leaves the refund out")
		require.NotEmpty(t, value["txn_id"])

		// The extension's payment tells the same story; so does the client's timeline.
		require.Equal(t, timeline, ts.story(extPayID)["timeline"])
		items := ts.must(200, "GET", "/api/internal/clients/"+clientID.String()+"/timeline", ts.op, nil)["items"]
		require.Equal(t, timeline, items)

		ts.requireBooksBalance()
		ts.requireSettled()
	})
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return at
}

func TestPaymentStory_FollowsAReroutedSessionIntoItsContinuationAndShowsAFailedPayment(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		mitra, mitraTok := ts.onlineMitra("Ayu")
		_, sessionID, payID := ts.activeSession(mitraTok)
		ts.clock.Advance(10 * time.Minute)
		_, nextTok := ts.onlineMitra("Bima")
		ts.must(200, "PATCH", "/api/internal/mitras/"+mitra.String()+"/status", ts.op, map[string]any{"is_active": false})
		offers := ts.must(200, "GET", "/api/mitra/pairing-offers", nextTok, nil)["offers"].([]any)
		require.Len(t, offers, 1)
		cont := offers[0].(map[string]any)["pairing_id"].(string)
		ts.clock.Advance(time.Second)
		next := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+cont+"/accept", nextTok, nil), "chat_session")["id"].(string)

		kinds := kindsOf(ts.story(payID)["timeline"].([]any))
		require.Equal(t, 2, strings.Count(strings.Join(kinds, ","), "matched"), "%v", kinds)
		var sessions []string
		for _, it := range ts.story(payID)["timeline"].([]any) {
			if it := it.(map[string]any); it["kind"] == "session_started" {
				sessions = append(sessions, it["chat_session_id"].(string))
			}
		}
		require.Equal(t, []string{sessionID, next}, sessions, "the continuation is part of the story")

		// A payment that failed: created, then failed, nothing else.
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		failed := obj(start, "payment")["id"].(string)
		ts.clock.Advance(time.Second)
		require.Equal(t, 200, ts.webhook(failed, "failed").Status)
		got := ts.story(failed)
		require.Equal(t, []string{"payment_created", "payment_failed"}, kindsOf(got["timeline"].([]any)))
		require.Nil(t, obj(got, "payment")["refundable"], "never paid: nothing to refund")

		require.Equal(t, 404, ts.do("GET", "/api/internal/payments/"+uuid.NewString(), ts.op, nil).Status)
		require.Equal(t, "INVALID_ID", ts.do("GET", "/api/internal/payments/nope", ts.op, nil).ErrorCode())
		require.Equal(t, 404, ts.do("GET", "/api/internal/clients/"+uuid.NewString()+"/timeline", ts.op, nil).Status)
		newcomer, _ := ts.newClient("Eko")
		require.Empty(t, ts.must(200, "GET", "/api/internal/clients/"+newcomer.String()+"/timeline", ts.op, nil)["items"])
	})
}

func TestOperatorRefund_RefundsInPartsUpToWhatIsLeftThenRefuses(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, mitraTok := ts.onlineMitra("Ayu")
		_, _, payID := ts.activeSession(mitraTok) // 25,000, nothing earned while the chat runs

		first := ts.operatorRefund(payID, "refund-1", map[string]any{"amount": 10000, "reason": "goodwill"})
		require.Equal(t, 200, first.Status, "%s", first.Raw)
		refund := obj(first.Body, "refund")
		require.Equal(t, "succeeded", refund["status"])
		require.Equal(t, float64(10000), refund["amount"])
		require.Equal(t, "goodwill", refund["reason"])
		require.Equal(t, "partially_refunded", obj(first.Body, "payment")["status"])
		require.Equal(t, float64(15000), obj(first.Body, "payment")["refundable"])

		over := ts.operatorRefund(payID, "refund-2", map[string]any{"amount": 15001, "reason": "goodwill"})
		require.Equal(t, 409, over.Status)
		require.Equal(t, "REFUND_EXCEEDS_REMAINING", over.ErrorCode())
		require.Equal(t, float64(15000), obj(over.Body, "error")["remaining"])
		require.Equal(t, float64(15000), obj(over.Body, "error")["unearned"])

		rest := ts.operatorRefund(payID, "refund-3", map[string]any{"amount": 15000, "reason": "goodwill"})
		require.Equal(t, 200, rest.Status, "%s", rest.Raw)
		require.Equal(t, "refunded", obj(rest.Body, "payment")["status"])
		require.Equal(t, float64(0), obj(rest.Body, "payment")["refundable"])
		none := ts.operatorRefund(payID, "refund-4", map[string]any{"amount": 1, "reason": "goodwill"})
		require.Equal(t, "REFUND_EXCEEDS_REMAINING", none.ErrorCode())
		require.Equal(t, float64(0), obj(none.Body, "error")["remaining"])

		// The key names the refund: the same request again is the same refund, sent once;
		// another amount or reason under it is refused.
		replay := ts.operatorRefund(payID, "refund-1", map[string]any{"amount": 10000, "reason": "goodwill"})
		require.Equal(t, 200, replay.Status)
		require.Equal(t, refund["id"], obj(replay.Body, "refund")["id"])
		require.Equal(t, 2, ts.app.fakeGateway.RefundsFor(uuid.MustParse(payID)), "two refunds made, the replay none")
		require.Equal(t, int64(25000), ts.app.fakeGateway.RefundedAmount(uuid.MustParse(payID)))
		for _, body := range []map[string]any{
			{"amount": 9999, "reason": "goodwill"}, {"amount": 10000, "reason": "something else"},
		} {
			r := ts.operatorRefund(payID, "refund-1", body)
			require.Equal(t, 422, r.Status, "%v", body)
			require.Equal(t, "IDEMPOTENCY_KEY_REUSED", r.ErrorCode())
		}
		require.Equal(t, 3, ts.auditActions("payment.refund"), "each 2xx audited")

		for _, tc := range []struct {
			key   string
			body  any
			field string
		}{
			{"", map[string]any{"amount": 1, "reason": "x"}, "Idempotency-Key"},
			{strings.Repeat("k", 129), map[string]any{"amount": 1, "reason": "x"}, "Idempotency-Key"},
			{"k", map[string]any{"amount": 0, "reason": "x"}, "amount"},
			{"k", map[string]any{"reason": "x"}, "amount"},
			{"k", map[string]any{"amount": 1}, "reason"},
			{"k", map[string]any{"amount": 1, "reason": " "}, "reason"},
			{"k", map[string]any{"amount": 1, "reason": "x", "extra": true}, "extra"},
		} {
			r := ts.operatorRefund(payID, tc.key, tc.body.(map[string]any))
			require.Equal(t, 400, r.Status, "%v: %s", tc.body, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
			require.Equal(t, tc.field, obj(r.Body, "error")["field"], "%v", tc.body)
		}
		require.Equal(t, 404, ts.operatorRefund(uuid.NewString(), "k", map[string]any{"amount": 1, "reason": "x"}).Status)

		_, clientTok := ts.newClient("Eko")
		pending := obj(ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30}), "payment")["id"].(string)
		r := ts.operatorRefund(pending, "k", map[string]any{"amount": 1, "reason": "x"})
		require.Equal(t, 409, r.Status)
		require.Equal(t, "INVALID_STATE", r.ErrorCode(), "a payment never paid")
		ts.requireBooksBalance()
	})
}

func TestOperatorRefund_ARefusedRefundKeepsItsShareAndIsRetried(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, mitraTok := ts.onlineMitra("Ayu")
		_, _, payID := ts.activeSession(mitraTok)
		ts.setRefundMode("refuse", 1)
		r := ts.operatorRefund(payID, "k1", map[string]any{"amount": 20000, "reason": "goodwill"})
		require.Equal(t, 200, r.Status, "%s", r.Raw)
		refund := obj(r.Body, "refund")
		require.Equal(t, "failed", refund["status"], "the refusal is the refund's status")
		require.Equal(t, "refund_failed", obj(r.Body, "payment")["status"])
		over := ts.operatorRefund(payID, "k2", map[string]any{"amount": 5001, "reason": "goodwill"})
		require.Equal(t, "REFUND_EXCEEDS_REMAINING", over.ErrorCode(), "the failed refund keeps its share")

		done := ts.must(200, "POST", "/api/internal/refunds/"+refund["id"].(string)+"/retry", ts.op, nil)
		require.Equal(t, "succeeded", done["status"])
		kinds := kindsOf(ts.story(payID)["timeline"].([]any))
		require.Contains(t, kinds, "refund_succeeded")
		require.NotContains(t, kinds, "refund_failed", "the refund's present outcome")
	})
}

func TestOperatorRefund_ConcurrentRefundsNeverExceedWhatIsLeft(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, mitraTok := ts.onlineMitra("Ayu")
		_, _, payID := ts.activeSession(mitraTok) // 25,000: five refunds of 5,000 fit
		const operators = 12
		statuses := make([]int, operators)
		var wg sync.WaitGroup
		for i := range operators {
			wg.Go(func() {
				r := ts.operatorRefund(payID, fmt.Sprintf("op-%d", i), map[string]any{"amount": 5000, "reason": "race"})
				statuses[i] = r.Status
				if r.Status != 200 {
					require.Equal(t, "REFUND_EXCEEDS_REMAINING", r.ErrorCode())
				}
			})
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == 200 {
				ok++
			}
		}
		require.Equal(t, 5, ok, "%v", statuses)
		require.Equal(t, int64(25000), ts.app.fakeGateway.RefundedAmount(uuid.MustParse(payID)))
		pay := obj(ts.story(payID), "payment")
		require.Equal(t, "refunded", pay["status"])
		require.Equal(t, float64(25000), pay["refunded_amount"])
		ts.requireBooksBalance()
	})
}

func TestOperatorRefund_EarnedMoneyGoesBackOnlyWithReverseEarning(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		mitra, mitraTok := ts.onlineMitra("Ayu")
		clientTok, sessionID, payID := ts.activeSession(mitraTok)
		// While the chat runs nothing is earned: part of it goes back without reversal.
		require.Equal(t, 200, ts.operatorRefund(payID, "before-end", map[string]any{"amount": 5000, "reason": "late start"}).Status)
		ts.clock.Advance(10 * time.Minute)
		ts.must(200, "POST", "/api/client/chat-sessions/"+sessionID+"/end", clientTok, nil)
		// The session's value is the rest, 20,000: 14,000 earned by the mitra, 6,000 the fee.
		require.Equal(t, float64(14000), ts.earnings(mitra)["pending"])

		r := ts.operatorRefund(payID, "after-end", map[string]any{"amount": 3000, "reason": "complaint"})
		require.Equal(t, 409, r.Status)
		require.Equal(t, "EARNING_REVERSAL_REQUIRED", r.ErrorCode())
		require.Equal(t, float64(20000), obj(r.Body, "error")["remaining"])
		require.Equal(t, float64(0), obj(r.Body, "error")["unearned"])

		r = ts.operatorRefund(payID, "after-end", map[string]any{"amount": 3000, "reason": "complaint", "reverse_earning": true})
		require.Equal(t, 200, r.Status, "%s", r.Raw)
		require.Equal(t, "succeeded", obj(r.Body, "refund")["status"])
		// 3,000 taken back: 2,100 from the mitra's pending earning, 900 of the fee.
		require.Equal(t, float64(14000-2100), ts.earnings(mitra)["pending"])
		kinds := kindsOf(ts.story(payID)["timeline"].([]any))
		require.Equal(t, "ledger:earning_reversed", kinds[len(kinds)-1], "%v", kinds)
		replay := ts.operatorRefund(payID, "after-end", map[string]any{"amount": 3000, "reason": "complaint"})
		require.Equal(t, 200, replay.Status, "a replay is the same refund, whatever reverse_earning says")
		require.Equal(t, obj(r.Body, "refund")["id"], obj(replay.Body, "refund")["id"])

		accounts := ts.requireBooksBalance()
		require.Equal(t, float64(0), accounts["client_funds"])
		ts.requireSettled()
	})
}

func TestOperatorEnd_EndsWithNoneUnusedOrFullAndTheAmountsFollow(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		for _, tc := range []struct {
			refund   string
			refunded float64 // of 25,000 for 30 minutes, 12 of them used
			earned   float64 // the mitra's 70 % of the rest
			status   string
		}{
			{"none", 0, 17500, "paid"},
			{"unused", 15000, 7000, "partially_refunded"},
			{"full", 25000, 0, "refunded"},
		} {
			mitra, mitraTok := ts.onlineMitra("Ayu " + tc.refund)
			clientTok, sessionID, payID := func() (string, string, string) {
				_, tok := ts.newClient("Dewi")
				start := ts.must(201, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30})
				pay := obj(start, "payment")["id"].(string)
				ts.webhook(pay, "paid")
				cs := ts.must(200, "POST", "/api/mitra/pairing-offers/"+obj(start, "pairing")["id"].(string)+"/accept", mitraTok, nil)
				return tok, obj(cs, "chat_session")["id"].(string), pay
			}()
			clientEvents := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", clientTok)
			mitraEvents := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", mitraTok)
			ts.clock.Advance(12 * time.Minute)

			got := ts.operatorEnd(sessionID, tc.refund)
			cs := obj(got, "chat_session")
			require.Equal(t, "ended", cs["status"], tc.refund)
			require.Equal(t, "operator_ended", cs["end_reason"])
			var sum float64
			for _, r := range got["refunds"].([]any) {
				require.Equal(t, "succeeded", r.(map[string]any)["status"])
				sum += r.(map[string]any)["amount"].(float64)
			}
			require.Equal(t, tc.refunded, sum, tc.refund)
			pay := obj(ts.story(payID), "payment")
			require.Equal(t, tc.status, pay["status"], tc.refund)
			require.Equal(t, tc.refunded, pay["refunded_amount"])
			require.Equal(t, tc.earned, ts.earnings(mitra)["pending"], tc.refund)
			for _, s := range []*testStream{clientEvents, mitraEvents} {
				s.requireEvent(t, 5*time.Second, `"reason":"operator_ended"`)
			}
			require.Equal(t, float64(0), ts.must(200, "GET", "/api/mitra/status", mitraTok, nil)["active_sessions"])

			again := ts.do("POST", "/api/internal/chat-sessions/"+sessionID+"/end", ts.op,
				map[string]any{"reason": "again", "refund": "full"})
			require.Equal(t, 409, again.Status)
			require.Equal(t, "INVALID_STATE", again.ErrorCode())
			view := ts.must(200, "GET", "/api/client/chat-sessions/"+sessionID, clientTok, nil)
			require.Equal(t, "operator_ended", view["end_reason"])
		}
		require.Equal(t, 3, ts.auditActions("chat_session.end"))
		ts.requireBooksBalance()
		ts.requireSettled()

		for _, body := range []map[string]any{
			{"reason": "x", "refund": "half"}, {"reason": "x"}, {"refund": "none"}, {"reason": " ", "refund": "none"},
		} {
			r := ts.do("POST", "/api/internal/chat-sessions/"+uuid.NewString()+"/end", ts.op, body)
			require.Equal(t, 400, r.Status, "%v", body)
		}
		require.Equal(t, 404, ts.do("POST", "/api/internal/chat-sessions/"+uuid.NewString()+"/end", ts.op,
			map[string]any{"reason": "x", "refund": "none"}).Status)
	})
}

func TestOperatorEnd_ASessionWaitingForItsPaymentIsNotRunning(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		mitra, mitraTok := ts.onlineMitra("Ayu")
		clientTok, sessionID, _ := ts.activeSession(mitraTok)
		ts.must(200, "POST", "/api/client/chat-sessions/"+sessionID+"/end", clientTok, nil)
		returning := ts.must(201, "POST", "/api/client/chat/returning", clientTok, map[string]any{"mitra_id": mitra.String(), "minutes": 30})
		cs := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+obj(returning, "pairing")["id"].(string)+"/accept", mitraTok, nil), "chat_session")
		require.Equal(t, "pending_payment", cs["status"])
		r := ts.do("POST", "/api/internal/chat-sessions/"+cs["id"].(string)+"/end", ts.op, map[string]any{"reason": "x", "refund": "full"})
		require.Equal(t, 409, r.Status)
		require.Equal(t, "INVALID_STATE", r.ErrorCode())
	})
}
