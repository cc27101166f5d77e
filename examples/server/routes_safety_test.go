package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// crisisAlert: a fresh chat whose client wrote a crisis term; the id of its open alert.
func (f *authzFixture) crisisAlert() string {
	f.t.Helper()
	s := f.activeSession(f.mitraTok)
	m := f.ts.must(201, "POST", "/api/client/chat-sessions/"+s.session+"/messages", s.client.tok,
		map[string]any{"text": "aku ingin mati", "client_msg_id": uuid.NewString()})
	if a := f.ts.alertOf(m["id"].(string)); a != nil {
		return a["id"].(string)
	}
	f.t.Fatalf("no alert for message %s", m["id"])
	return ""
}

// alertOf returns the alert of a message, as the list answers it (nil: none).
func (ts *testServer) alertOf(messageID string) map[string]any {
	ts.t.Helper()
	for _, it := range ts.must(200, "GET", "/api/internal/safety-alerts?page_size=200", ts.op, nil)["items"].([]any) {
		if a := it.(map[string]any); a["message_id"] == messageID {
			return a
		}
	}
	return nil
}

func TestSafety_ACrisisMessageAlertsTheOperatorsAndSendsTheClientTheText(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		const help = "Kamu tidak sendirian. Hubungi 119 ext 8."
		ts.must(200, "PUT", "/api/internal/config/safety_resources_text", ts.op, map[string]any{"value": help})
		p := ts.activeChat("Dewi", "Ayu")
		_, viewer := ts.newOperator("viewer")
		supportID, support := ts.newOperator("support")
		clientStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", p.clientTok)
		mitraStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", p.mitraTok)
		operatorStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/internal/events", viewer)
		awaitKind(t, operatorStream, "dashboard", 5*time.Second) // the stream is up

		sent := time.Now()
		m := ts.say(p, "client", "c-1", "Aku ingin mati. WA aku 0812-3456-7890 atau t.me/dewi")
		require.Equal(t, "Aku ingin mati. WA aku [hidden] atau [hidden]", m["text"], "stored and answered masked")
		require.Equal(t, []any{"contact", "crisis"}, m["flags"])

		// The mitra gets the message as stored; the client, the help.
		got := awaitKind(t, mitraStream, "message", 5*time.Second)
		require.Equal(t, m["text"], got["text"])
		require.Equal(t, m["flags"], got["flags"])
		res := awaitKind(t, clientStream, "safety_resources", 5*time.Second)
		require.Equal(t, map[string]any{"chat_session_id": p.session, "message_id": m["id"], "text": help}, res)

		// The operators: on their stream and in the list, within 5 s.
		alert := awaitKind(t, operatorStream, "safety_alert", 5*time.Second)
		want := map[string]any{"id": alert["id"], "message_id": m["id"], "chat_session_id": p.session,
			"client_id": p.clientID.String(), "mitra_id": p.mitraID.String(), "terms": []any{"ingin mati"}, "status": "open",
			"created_at": m["created_at"], "acknowledged_at": nil, "acknowledged_by": nil}
		require.Equal(t, want, alert)
		var listed map[string]any
		require.Eventually(t, func() bool {
			items := ts.must(200, "GET", "/api/internal/safety-alerts?status=open", viewer, nil)["items"].([]any)
			if len(items) == 1 {
				listed = items[0].(map[string]any)
			}
			return listed != nil
		}, 5*time.Second, 20*time.Millisecond)
		require.Equal(t, want, listed)
		require.Less(t, time.Since(sent), 5*time.Second)

		// The history holds the message as delivered.
		items := ts.must(200, "GET", p.messages("mitra"), p.mitraTok, nil)["items"].([]any)
		require.Equal(t, m, items[0])

		// Sent again (a lost answer): the same message, no second alert.
		require.Equal(t, m, ts.say(p, "client", "c-1", "Aku ingin mati. WA aku 0812-3456-7890 atau t.me/dewi"))
		page := ts.must(200, "GET", "/api/internal/safety-alerts", viewer, nil)
		require.Equal(t, float64(1), page["total"])

		// Acknowledged by support; again by an admin: the first acknowledgement stands.
		before := ts.auditActions("safety_alert.ack")
		ts.clock.Advance(time.Minute)
		acked := ts.must(200, "POST", "/api/internal/safety-alerts/"+alert["id"].(string)+"/ack", support, nil)
		require.Equal(t, "acknowledged", acked["status"])
		require.Equal(t, supportID.String(), acked["acknowledged_by"])
		require.Equal(t, ts.clock.Now().UTC().Format(time.RFC3339Nano), acked["acknowledged_at"])
		ts.clock.Advance(time.Minute)
		require.Equal(t, acked, ts.must(200, "POST", "/api/internal/safety-alerts/"+alert["id"].(string)+"/ack", ts.op, nil))
		require.Equal(t, before+2, ts.auditActions("safety_alert.ack"), "each acknowledgement audited")
		require.Empty(t, ts.must(200, "GET", "/api/internal/safety-alerts?status=open", viewer, nil)["items"])
		require.Equal(t, []any{acked}, ts.must(200, "GET", "/api/internal/safety-alerts?status=acknowledged", viewer, nil)["items"])
	})
}

func TestSafety_AMitrasMessageIsMaskedAndRaisesNoAlert(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		p := ts.activeChat("Dewi", "Ayu")
		clientStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", p.clientTok)
		m := ts.say(p, "mitra", "m-1", "Kamu ingin mati? Email aku ayu@mail.com ya")
		require.Equal(t, "Kamu ingin mati? Email aku [hidden] ya", m["text"])
		require.Equal(t, []any{"contact"}, m["flags"], "a mitra's words are not matched against the crisis terms")
		got := awaitKind(t, clientStream, "message", 5*time.Second)
		require.Equal(t, m["text"], got["text"])
		// Nor a time, a price, an id: nothing masked, nothing flagged.
		clean := "Jam 08:30 ya, Rp 30.000 untuk 2 jam, sesi " + p.session
		m = ts.say(p, "client", "c-1", clean)
		require.Equal(t, clean, m["text"])
		require.Equal(t, []any{}, m["flags"])
		require.Empty(t, ts.must(200, "GET", "/api/internal/safety-alerts", ts.op, nil)["items"])
	})
}

func TestSafety_TheConfigPageEditsTheTermsAndTheText(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		got := ts.must(200, "PUT", "/api/internal/config/safety_crisis_terms", ts.op, map[string]any{"value": []string{" putus asa ", "Bunuh Diri"}})
		require.Equal(t, []any{"putus asa", "Bunuh Diri"}, got["value"], "trimmed")
		var listed map[string]any
		for _, it := range ts.must(200, "GET", "/api/internal/config", ts.op, nil)["items"].([]any) {
			if it := it.(map[string]any); it["key"] == "safety_crisis_terms" {
				listed = it
			}
		}
		require.Equal(t, got, listed)
		for _, bad := range []any{[]string{}, "putus asa", []any{"ok", 1}, []string{"!!!"}, nil} {
			r := ts.do("PUT", "/api/internal/config/safety_crisis_terms", ts.op, map[string]any{"value": bad})
			require.Equal(t, http.StatusBadRequest, r.Status, "%v", bad)
		}
		for _, bad := range []any{"", "   ", 112, []string{"a"}} {
			r := ts.do("PUT", "/api/internal/config/safety_resources_text", ts.op, map[string]any{"value": bad})
			require.Equal(t, http.StatusBadRequest, r.Status, "%v", bad)
		}

		p := ts.activeChat("Dewi", "Ayu")
		require.Equal(t, []any{"crisis"}, ts.say(p, "client", "c-1", "aku putus asa")["flags"], "the new list applies")
		require.Equal(t, []any{}, ts.say(p, "client", "c-2", "aku ingin mati")["flags"], "the default list is gone")
	})
}

func TestSafety_AlertRoutesRefuseBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/internal/safety-alerts?status=closed", 400},
		{"GET", "/api/internal/safety-alerts?page=0", 400},
		{"GET", "/api/internal/safety-alerts?page_size=201", 400},
		{"POST", "/api/internal/safety-alerts/not-a-uuid/ack", 400},
		{"POST", "/api/internal/safety-alerts/" + uuid.NewString() + "/ack", 404},
	} {
		require.Equal(t, c.status, ts.do(c.method, c.path, ts.op, nil).Status, "%s %s", c.method, c.path)
	}
}

// A clean message is still one Postgres statement (the screening reads the cached
// terms); a crisis message adds the alert's insert.
func TestSafety_ACrisisMessageCostsOneMoreStatement(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	ts.tiers()
	p := ts.activeChat("Dewi", "Ayu")
	ts.say(p, "client", "warm", "halo") // the runtime settings read once, then cached
	ts.say(p, "client", "warm-2", "aku ingin mati")
	for _, c := range []struct {
		name, text string
		statements int64
	}{
		{"clean", "halo kak", 1},
		{"masked", "WA aku 0812-3456-7890", 1},
		{"crisis", "aku mau bunuh diri", 2},
	} {
		before := ts.app.pgQueries()
		ts.say(p, "client", c.name, c.text)
		require.Equal(t, c.statements, ts.app.pgQueries()-before, c.name)
	}
}
