package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// chatPair is an active chat session and its two parties.
type chatPair struct {
	session             string
	clientID, mitraID   uuid.UUID
	clientTok, mitraTok string
}

// activeChat: a new client pays a 30-minute blast and a new online mitra accepts it (the
// mitras of earlier chats hold their one session: only the new one is offered it). The
// server needs its tiers (ts.tiers) first.
func (ts *testServer) activeChat(client, mitra string) chatPair {
	ts.t.Helper()
	var p chatPair
	p.clientID, p.clientTok = ts.newClient(client)
	p.mitraID, p.mitraTok = ts.onlineMitra(mitra)
	start := ts.must(201, "POST", "/api/client/chat/start", p.clientTok, map[string]any{"minutes": 30})
	require.Equal(ts.t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)
	cs := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+obj(start, "pairing")["id"].(string)+"/accept", p.mitraTok, nil), "chat_session")
	p.session = cs["id"].(string)
	return p
}

// paths of one party's chat routes.
func (p chatPair) messages(party string) string {
	return "/api/" + party + "/chat-sessions/" + p.session + "/messages"
}

func (p chatPair) read(party string) string {
	return "/api/" + party + "/chat-sessions/" + p.session + "/read"
}

func (p chatPair) token(party string) string {
	if party == "mitra" {
		return p.mitraTok
	}
	return p.clientTok
}

// say sends a message as party and requires 201.
func (ts *testServer) say(p chatPair, party, clientMsgID, text string) map[string]any {
	ts.t.Helper()
	return ts.must(201, "POST", p.messages(party), p.token(party), map[string]any{"text": text, "client_msg_id": clientMsgID})
}

// awaitKind returns the data of the next event of kind on s (others are skipped).
func awaitKind(t *testing.T, s *testStream, kind string, within time.Duration) map[string]any {
	t.Helper()
	type frame struct {
		Kind string         `json:"kind"`
		Data map[string]any `json:"data"`
	}
	raw := s.await(t, within, "a "+kind+" event", func(data string) bool {
		var e frame
		require.NoError(t, json.Unmarshal([]byte(data), &e))
		return e.Kind == kind
	})
	var e frame
	require.NoError(t, json.Unmarshal([]byte(raw), &e))
	return e.Data
}

func seqOf(m map[string]any) int64 { return int64(m["seq"].(float64)) }

func TestMessages_ClientAndMitraExchangeInOrderOnTheirStreamsWithReceipts(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		p := ts.activeChat("Dewi", "Ayu")
		clientStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", p.clientTok)
		mitraStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", p.mitraTok)

		// Interleaved: the client's 1, 2, 4 and 5, the mitra's 3 and 6.
		script := []struct{ party, text string }{
			{"client", "Kak, aku mau cerita"}, {"client", "boleh?"}, {"mitra", "Boleh banget, aku dengerin 🙂"},
			{"client", "makasih"}, {"client", strings.Repeat("panjang ", 499) + "ya"}, {"mitra", "Ceritakan pelan-pelan"},
		}
		sent := make([]map[string]any, len(script))
		for i, s := range script {
			sent[i] = ts.say(p, s.party, fmt.Sprintf("%s-%d", s.party, i), s.text)
			require.Equal(t, int64(i+1), seqOf(sent[i]), "seq %d", i+1)
			require.Equal(t, s.party, sent[i]["sender"])
			require.Equal(t, s.text, sent[i]["text"])
			require.Equal(t, []any{}, sent[i]["flags"])
		}
		// Each party's stream carries the other's messages, in order, as they were sent.
		for i, s := range script {
			stream := mitraStream
			if s.party == "mitra" {
				stream = clientStream
			}
			got := awaitKind(t, stream, "message", 5*time.Second)
			require.Equal(t, p.session, got["chat_session_id"])
			for _, k := range []string{"id", "seq", "sender", "text", "flags", "created_at"} {
				require.Equal(t, sent[i][k], got[k], "message %d: %s", i+1, k)
			}
		}

		// Receipts: the mitra read up to 4, the client everything (asked beyond the last).
		mark := ts.must(200, "POST", p.read("mitra"), p.mitraTok, map[string]any{"seq": 4})
		require.Equal(t, map[string]any{"chat_session_id": p.session, "reader": "mitra", "seq": float64(4)}, mark)
		got := awaitKind(t, clientStream, "message_read", 5*time.Second)
		require.Equal(t, map[string]any{"chat_session_id": p.session, "reader": "mitra", "seq": float64(4)}, got)
		require.Equal(t, float64(4), ts.must(200, "POST", p.read("mitra"), p.mitraTok, map[string]any{"seq": 2})["seq"], "never back")
		mark = ts.must(200, "POST", p.read("client"), p.clientTok, map[string]any{"seq": 99})
		require.Equal(t, float64(6), mark["seq"], "never past the last message")
		got = awaitKind(t, mitraStream, "message_read", 5*time.Second)
		require.Equal(t, "client", got["reader"])
		require.Equal(t, float64(6), got["seq"])

		page := ts.must(200, "GET", p.messages("client"), p.clientTok, nil)
		items := page["items"].([]any)
		require.Len(t, items, 6)
		for i, it := range items {
			require.Equal(t, sent[i], it, "history %d as sent", i+1)
		}
		require.Equal(t, float64(6), page["last_seq"])
		require.Equal(t, map[string]any{"client": float64(6), "mitra": float64(4)}, page["read"])
		page = ts.must(200, "GET", p.messages("mitra")+"?after_seq=3&limit=2", p.mitraTok, nil)
		require.Equal(t, []any{sent[3], sent[4]}, page["items"])
		page = ts.must(200, "GET", p.messages("mitra")+"?after_seq=6", p.mitraTok, nil)
		require.Equal(t, []any{}, page["items"])
	})
}

func TestMessages_AResentClientMsgIDAnswersTheFirstMessage(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		p := ts.activeChat("Dewi", "Ayu")
		first := ts.say(p, "client", "01HZX3KQ", "halo")
		again := ts.say(p, "client", "01HZX3KQ", "halo, sent again with other text")
		require.Equal(t, first, again, "201 with the first message, as stored")
		// The mitra's own message with the same id is another message.
		mine := ts.say(p, "mitra", "01HZX3KQ", "halo juga")
		require.Equal(t, float64(2), mine["seq"])
		items := ts.must(200, "GET", p.messages("mitra"), p.mitraTok, nil)["items"].([]any)
		require.Len(t, items, 2, "stored once")
		require.Equal(t, first, items[0])

		// After the end a resend still answers it; a new message does not.
		ts.must(200, "POST", "/api/client/chat-sessions/"+p.session+"/end", p.clientTok, nil)
		require.Equal(t, first, ts.say(p, "client", "01HZX3KQ", "halo"))
		r := ts.do("POST", p.messages("client"), p.clientTok, map[string]any{"text": "halo", "client_msg_id": "new"})
		require.Equal(t, http.StatusConflict, r.Status, "%s", r.Raw)
	})
}

func TestMessages_ThirdPartiesAndUnknownSessionsAreNotFound(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		p := ts.activeChat("Dewi", "Ayu")
		other := ts.activeChat("Sari", "Bima") // another client and another mitra, each with a session of their own
		ts.say(p, "client", "c-1", "rahasia")
		send := map[string]any{"text": "hi", "client_msg_id": "x-1"}
		for _, party := range []string{"client", "mitra"} {
			tok := other.token(party)
			for _, c := range []struct {
				method, path string
				body         any
			}{{"POST", p.messages(party), send}, {"GET", p.messages(party), nil}, {"POST", p.read(party), map[string]any{"seq": 1}}} {
				r := ts.do(c.method, c.path, tok, c.body)
				require.Equal(t, http.StatusNotFound, r.Status, "another %s: %s %s: %s", party, c.method, c.path, r.Raw)
				require.Equal(t, "NOT_FOUND", r.ErrorCode())
			}
			unknown := "/api/" + party + "/chat-sessions/" + uuid.NewString() + "/messages"
			r := ts.do("POST", unknown, p.token(party), send)
			require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Raw)
			r = ts.do("GET", "/api/"+party+"/chat-sessions/not-a-uuid/messages", p.token(party), nil)
			require.Equal(t, http.StatusBadRequest, r.Status)
			require.Equal(t, "INVALID_ID", r.ErrorCode())
		}
		items := ts.must(200, "GET", p.messages("client"), p.clientTok, nil)["items"].([]any)
		require.Len(t, items, 1, "nothing was stored by the others")
	})
}

func TestMessages_AFinishedSessionRefusesMessagesAndKeepsItsHistoryForADay(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		p := ts.activeChat("Dewi", "Ayu")
		ts.say(p, "client", "c-1", "terima kasih ya kak")
		ts.must(200, "POST", "/api/mitra/chat-sessions/"+p.session+"/end", p.mitraTok, nil)
		for _, party := range []string{"client", "mitra"} {
			r := ts.do("POST", p.messages(party), p.token(party), map[string]any{"text": "masih di sini?", "client_msg_id": "late-" + party})
			require.Equal(t, http.StatusConflict, r.Status, "%s: %s", party, r.Raw)
			require.Equal(t, "INVALID_STATE", r.ErrorCode())
		}
		ts.clock.Advance(24*time.Hour - time.Second)
		for _, party := range []string{"client", "mitra"} {
			require.Len(t, ts.must(200, "GET", p.messages(party), p.token(party), nil)["items"], 1, "%s, within a day", party)
		}
		ts.must(200, "POST", p.read("mitra"), p.mitraTok, map[string]any{"seq": 1})
		ts.clock.Advance(time.Second)
		// Their tokens lapsed a day after they were minted: new ones.
		p.clientTok, p.mitraTok = ts.token("client", p.clientID), ts.token("mitra", p.mitraID)
		for _, party := range []string{"client", "mitra"} {
			r := ts.do("GET", p.messages(party), p.token(party), nil)
			require.Equal(t, http.StatusConflict, r.Status, "%s, a day after the end: %s", party, r.Raw)
			require.Equal(t, "INVALID_STATE", r.ErrorCode())
			r = ts.do("POST", p.read(party), p.token(party), map[string]any{"seq": 1})
			require.Equal(t, http.StatusConflict, r.Status)
		}
	})
}

func TestMessages_ASenderPastTheRateGets429WithRetryAfter(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.must(200, "PUT", "/api/internal/config/chat_message_rate_per_minute", ts.op, map[string]any{"value": 3})
		p := ts.activeChat("Dewi", "Ayu")
		for i := range 3 {
			ts.clock.Advance(5 * time.Second)
			ts.say(p, "client", fmt.Sprint("c-", i), "spam?")
		}
		r := ts.do("POST", p.messages("client"), p.clientTok, map[string]any{"text": "one more", "client_msg_id": "c-3"})
		require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Raw)
		require.Equal(t, "RATE_LIMITED", r.ErrorCode())
		require.Equal(t, "50", r.Header.Get("Retry-After"), "sent at 5, 10 and 15 s: the first leaves the minute at 65 s")
		ts.say(p, "mitra", "m-1", "the mitra counts apart")

		ts.clock.Advance(49 * time.Second)
		r = ts.do("POST", p.messages("client"), p.clientTok, map[string]any{"text": "too soon", "client_msg_id": "c-3"})
		require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Raw)
		require.Equal(t, "1", r.Header.Get("Retry-After"))
		ts.clock.Advance(time.Second)
		ts.say(p, "client", "c-3", "fits again")
		require.Len(t, ts.must(200, "GET", p.messages("client"), p.clientTok, nil)["items"], 5, "nothing stored for the 429")
	})
}

func TestMessages_ConcurrentSendsTakeSeq1ToNWithoutGapsOrRepeats(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		p := ts.activeChat("Dewi", "Ayu")
		// 48 messages, both parties at once, 8 of them sent twice at the same moment.
		const n = 48
		type answer struct {
			status int
			body   map[string]any
		}
		answers := make([]answer, n+8)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range answers {
			k := i % n
			party := []string{"client", "mitra"}[k%2]
			wg.Go(func() {
				<-start
				r := ts.do("POST", p.messages(party), p.token(party), map[string]any{"text": fmt.Sprint("message ", k),
					"client_msg_id": fmt.Sprint("k-", k)})
				answers[i] = answer{r.Status, r.Body}
			})
		}
		close(start)
		wg.Wait()
		byKey := map[string]float64{}
		for i, a := range answers {
			require.Equal(t, http.StatusCreated, a.status, "send %d: %v", i, a.body)
			key := a.body["sender"].(string) + "/" + a.body["client_msg_id"].(string)
			if seq, ok := byKey[key]; ok {
				require.Equal(t, seq, a.body["seq"], "both attempts of %s answer one message", key)
			}
			byKey[key] = a.body["seq"].(float64)
		}
		var seqs []float64
		for _, s := range byKey {
			seqs = append(seqs, s)
		}
		slices.Sort(seqs)
		want := make([]float64, n)
		for i := range want {
			want[i] = float64(i + 1)
		}
		require.Equal(t, want, seqs, "1..N")
		page := ts.must(200, "GET", p.messages("mitra")+"?limit=200", p.mitraTok, nil)
		require.Len(t, page["items"], n)
		require.Equal(t, float64(n), page["last_seq"])
	})
}

func TestMessages_BadInputIs400NamingTheField(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	ts.tiers()
	p := ts.activeChat("Dewi", "Ayu")
	for _, tc := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"text too long", "POST", p.messages("client"), map[string]any{"text": strings.Repeat("é", 4001), "client_msg_id": "a"}, "text"},
		{"blank text", "POST", p.messages("client"), map[string]any{"text": "   ", "client_msg_id": "a"}, "text"},
		{"no text", "POST", p.messages("client"), map[string]any{"client_msg_id": "a"}, "text"},
		{"no client_msg_id", "POST", p.messages("mitra"), map[string]any{"text": "hi"}, "client_msg_id"},
		{"client_msg_id too long", "POST", p.messages("mitra"), map[string]any{"text": "hi", "client_msg_id": strings.Repeat("a", 101)}, "client_msg_id"},
		{"client_msg_id with a space", "POST", p.messages("mitra"), map[string]any{"text": "hi", "client_msg_id": "a b"}, "client_msg_id"},
		{"text not a string", "POST", p.messages("client"), map[string]any{"text": 7, "client_msg_id": "a"}, ""},
		{"an unknown field", "POST", p.messages("client"), map[string]any{"text": "hi", "client_msg_id": "a", "to": "x"}, ""},
		{"negative after_seq", "GET", p.messages("client") + "?after_seq=-1", nil, "after_seq"},
		{"after_seq not a number", "GET", p.messages("client") + "?after_seq=x", nil, "after_seq"},
		{"limit 0", "GET", p.messages("client") + "?limit=0", nil, "limit"},
		{"limit 201", "GET", p.messages("mitra") + "?limit=201", nil, "limit"},
		{"no seq", "POST", p.read("client"), map[string]any{}, "seq"},
		{"negative seq", "POST", p.read("mitra"), map[string]any{"seq": -1}, "seq"},
	} {
		tok := p.clientTok
		if strings.Contains(tc.path, "/api/mitra/") {
			tok = p.mitraTok
		}
		r := ts.do(tc.method, tc.path, tok, tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tc.name, r.Raw)
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), tc.name)
		if tc.field != "" {
			require.Equal(t, tc.field, r.Body["error"].(map[string]any)["field"], tc.name)
		}
	}
	require.Empty(t, ts.must(200, "GET", p.messages("client"), p.clientTok, nil)["items"])
}

func TestMultiInstance_MessagesAcrossInstancesKeepOneOrderAndOneRate(t *testing.T) {
	t.Parallel()
	f := newFleet(t, fleetOptions{})
	f.tiers()
	_, mtok := f.onlineMitra(0, "Ayu")
	_, ctok := f.newClient(1, "Dewi")
	mitraEvents := f.openEvents(2, "/api/mitra/events", mtok)
	pid, _ := f.paidBlast(0, ctok)
	fleetAwaitEvent(t, mitraEvents, 5*time.Second, "pairing_offer", pid)
	session := fleetObj(f.must(1, 200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", mtok, nil), "chat_session")["id"].(string)
	path := func(party string) string { return "/api/" + party + "/chat-sessions/" + session + "/messages" }

	// 30 messages from both parties at once, each through an instance of its own choosing.
	const n = 30
	answers := make([]fleetResp, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		party, tok := "client", ctok
		if i%3 == 2 {
			party, tok = "mitra", mtok
		}
		wg.Go(func() {
			answers[i], errs[i] = f.node(i).call(t.Context(), "POST", path(party), tok,
				map[string]any{"text": "pesan " + strconv.Itoa(i), "client_msg_id": strconv.Itoa(i)})
		})
	}
	wg.Wait()
	seqs := make([]float64, n)
	for i, a := range answers {
		require.NoError(t, errs[i])
		require.Equal(t, http.StatusCreated, a.Status, "send %d: %s", i, a.Raw)
		seqs[i] = a.Body["seq"].(float64)
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		require.Equal(t, float64(i+1), s)
	}
	// The mitra, streaming from a third instance, gets each of the client's 20 messages.
	got := 0
	deadline := time.After(10 * time.Second)
	for got < 20 {
		select {
		case e := <-mitraEvents:
			if e.Kind == "message" {
				got++
			}
		case <-deadline:
			t.Fatalf("the mitra's stream carried %d of the client's 20 messages", got)
		}
	}

	// The rate holds across instances: 5 a minute, 8 sends through three instances.
	f.must(0, 200, "PUT", "/api/internal/config/chat_message_rate_per_minute", f.op(), map[string]any{"value": 5})
	fleetEventually(t, 5*time.Second, "every instance reads the new rate", func() bool {
		for i := range 3 {
			if f.node(i).app.runtime.ChatMessageRatePerMinute(t.Context()) != 5 {
				return false
			}
		}
		return true
	})
	// A fresh session (Ayu holds its one slot: Bima takes it), whose client sends 8.
	_, btok := f.onlineMitra(1, "Bima")
	_, ctok2 := f.newClient(0, "Sari")
	pid2, _ := f.paidBlast(1, ctok2)
	session2 := fleetObj(f.must(2, 200, "POST", "/api/mitra/pairing-offers/"+pid2+"/accept", btok, nil), "chat_session")["id"].(string)
	statuses := map[int]int{}
	for i := range 8 {
		r, err := f.node(i).call(t.Context(), "POST", "/api/client/chat-sessions/"+session2+"/messages", ctok2,
			map[string]any{"text": "hi", "client_msg_id": "r-" + strconv.Itoa(i)})
		require.NoError(t, err)
		statuses[r.Status]++
	}
	require.Equal(t, map[int]int{http.StatusCreated: 5, http.StatusTooManyRequests: 3}, statuses)
}

// A send is one Postgres statement (the session, the sender, the replay, the seq and the
// insert in one), as is a page of history and a read receipt.
func TestMessages_EachCallIsOnePostgresStatement(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	ts.tiers()
	p := ts.activeChat("Dewi", "Ayu")
	ts.say(p, "client", "warm", "halo") // the runtime setting read once, then cached
	for _, c := range []struct {
		name       string
		do         func()
		statements int64
	}{
		{"five sends", func() {
			for i := range 5 {
				ts.say(p, []string{"client", "mitra"}[i%2], fmt.Sprint("s-", i), "pesan")
			}
		}, 5},
		{"a resend", func() { ts.say(p, "client", "s-0", "pesan") }, 1},
		{"a page of history", func() { ts.must(200, "GET", p.messages("mitra")+"?after_seq=2", p.mitraTok, nil) }, 1},
		{"a read receipt", func() { ts.must(200, "POST", p.read("mitra"), p.mitraTok, map[string]any{"seq": 4}) }, 1},
	} {
		before := ts.app.pgQueries()
		c.do()
		require.Equal(t, c.statements, ts.app.pgQueries()-before, c.name)
	}
}
