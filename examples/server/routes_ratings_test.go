package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// chatWith gives the client an active chat session with the mitra (a paid blast the mitra
// accepts) and returns its id.
func (ts *testServer) chatWith(clientTok, mitraTok string) string {
	ts.t.Helper()
	pid, _ := ts.paidStart(clientTok)
	return obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", mitraTok, nil), "chat_session")["id"].(string)
}

// ratedChat is a new client's chat with the mitra, ended by the client and rated stars
// with comment ("" for none); it returns the rating.
func (ts *testServer) ratedChat(mitraTok string, stars int, comment string) map[string]any {
	ts.t.Helper()
	_, clientTok := ts.newClient("Dewi")
	sid := ts.chatWith(clientTok, mitraTok)
	ts.must(200, "POST", "/api/client/chat-sessions/"+sid+"/end", clientTok, nil)
	body := map[string]any{"stars": stars}
	if comment != "" {
		body["comment"] = comment
	}
	return ts.must(201, "POST", "/api/client/chat-sessions/"+sid+"/rating", clientTok, body)
}

// mitraRow is the mitra's row of GET /api/internal/mitras?q=name.
func (ts *testServer) mitraRow(name string, id uuid.UUID) map[string]any {
	ts.t.Helper()
	for _, it := range ts.must(200, "GET", "/api/internal/mitras?q="+name, ts.op, nil)["items"].([]any) {
		if row := it.(map[string]any); row["id"] == id.String() {
			return row
		}
	}
	ts.t.Fatalf("mitra %s is not listed", id)
	return nil
}

func TestRatingRoutes_TheClientRatesItsEndedSessionOnce(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		_, otherTok := ts.newClient("Rina")
		mitra, mitraTok := ts.onlineMitra("Ayu")
		sid := ts.chatWith(clientTok, mitraTok)
		path := "/api/client/chat-sessions/" + sid + "/rating"

		r := ts.do("POST", path, clientTok, map[string]any{"stars": 5})
		require.Equal(t, 409, r.Status, "%s", r.Raw)
		require.Equal(t, "INVALID_STATE", r.ErrorCode(), "the session is active")
		require.Contains(t, string(r.Raw), "only an ended chat session may be rated")
		ts.must(200, "POST", "/api/client/chat-sessions/"+sid+"/end", clientTok, nil)

		require.Equal(t, "NOT_FOUND", ts.do("POST", path, otherTok, map[string]any{"stars": 5}).ErrorCode(), "another client's session")
		require.Equal(t, "NOT_FOUND", ts.do("POST", "/api/client/chat-sessions/"+uuid.NewString()+"/rating", clientTok,
			map[string]any{"stars": 5}).ErrorCode())
		require.Equal(t, "INVALID_ID", ts.do("POST", "/api/client/chat-sessions/nope/rating", clientTok, map[string]any{"stars": 5}).ErrorCode())
		for _, tc := range []struct {
			body  any
			field string
		}{
			{map[string]any{}, "stars"},
			{map[string]any{"stars": 0}, "stars"},
			{map[string]any{"stars": 6}, "stars"},
			{map[string]any{"stars": 4.5}, "stars"},
			{map[string]any{"stars": 4, "comment": strings.Repeat("a", 1001)}, "comment"},
			{map[string]any{"stars": 4, "comment": "a\u0000b"}, "comment"},
			{map[string]any{"stars": 4, "note": "hi"}, "note"},
		} {
			r := ts.do("POST", path, clientTok, tc.body)
			require.Equal(t, 400, r.Status, "%v: %s", tc.body, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), "%v", tc.body)
			require.Equal(t, tc.field, r.Body["error"].(map[string]any)["field"], "%v", tc.body)
		}

		rating := ts.must(201, "POST", path, clientTok, map[string]any{"stars": 4, "comment": "  makasih kak Ayu  "})
		require.Equal(t, sid, rating["chat_session_id"])
		require.Equal(t, mitra.String(), rating["mitra_id"])
		require.EqualValues(t, 4, rating["stars"])
		require.Equal(t, "makasih kak Ayu", rating["comment"])
		require.Equal(t, false, rating["comment_hidden"])
		require.Nil(t, rating["comment_hidden_at"])

		again := ts.do("POST", path, clientTok, map[string]any{"stars": 1})
		require.Equal(t, 409, again.Status, "%s", again.Raw)
		require.Equal(t, "ALREADY_RATED", again.ErrorCode())
	})
}

func TestRatingRoutes_ASessionEndedMoreThanSevenDaysAgoIsNotRated(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		client, clientTok := ts.newClient("Dewi")
		_, mitraTok := ts.onlineMitra("Ayu")
		onTime := ts.chatWith(clientTok, mitraTok)
		ts.must(200, "POST", "/api/client/chat-sessions/"+onTime+"/end", clientTok, nil)
		other, lateTok := ts.newClient("Rina")
		late := ts.chatWith(lateTok, mitraTok)
		ts.must(200, "POST", "/api/client/chat-sessions/"+late+"/end", lateTok, nil)

		ts.clock.Advance(7 * 24 * time.Hour)
		clientTok, lateTok = ts.token("client", client), ts.token("client", other) // theirs expired meanwhile
		ts.must(201, "POST", "/api/client/chat-sessions/"+onTime+"/rating", clientTok, map[string]any{"stars": 5})
		ts.clock.Advance(time.Second)
		r := ts.do("POST", "/api/client/chat-sessions/"+late+"/rating", lateTok, map[string]any{"stars": 5})
		require.Equal(t, 409, r.Status, "%s", r.Raw)
		require.Equal(t, "INVALID_STATE", r.ErrorCode())
		require.Contains(t, string(r.Raw), "within 7 days of its end")
	})
}

func TestRatingRoutes_OperatorsSeeTheBayesianRatingInTheListsAndStats(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, viewerTok := ts.newOperator("viewer")
		mitra, mitraTok := ts.onlineMitra("Ayu")
		quiet, _ := ts.newMitra("Ayuni")
		var made []map[string]any
		for _, stars := range []int{5, 5, 3} {
			made = append(made, ts.ratedChat(mitraTok, stars, ""))
			ts.clock.Advance(time.Second)
		}
		want := (10*4.0 + 13) / 13

		page := ts.must(200, "GET", "/api/internal/mitras/"+mitra.String()+"/ratings?page_size=2", viewerTok, nil)
		require.InDelta(t, want, page["rating"], 1e-12)
		require.EqualValues(t, 3, page["ratings_count"])
		require.EqualValues(t, 3, page["total"])
		items := page["items"].([]any)
		require.Len(t, items, 2)
		require.Equal(t, made[2]["id"], items[0].(map[string]any)["id"], "newest first")
		require.Equal(t, made[1]["id"], items[1].(map[string]any)["id"])
		page2 := ts.must(200, "GET", "/api/internal/mitras/"+mitra.String()+"/ratings?page=2&page_size=2", viewerTok, nil)
		require.Equal(t, made[0]["id"], page2["items"].([]any)[0].(map[string]any)["id"])

		row := ts.mitraRow("Ayu", mitra)
		require.InDelta(t, want, row["rating"], 1e-12)
		require.EqualValues(t, 3, row["ratings_count"])
		none := ts.mitraRow("Ayuni", quiet)
		require.EqualValues(t, 4.0, none["rating"], "no ratings: the prior")
		require.EqualValues(t, 0, none["ratings_count"])

		stats := ts.must(200, "GET", "/api/internal/mitras/"+mitra.String()+"/stats?window=5m", viewerTok, nil)
		require.InDelta(t, want, stats["rating"], 1e-12)
		require.EqualValues(t, 3, stats["ratings_count"])
		quietStats := ts.must(200, "GET", "/api/internal/mitras/"+quiet.String()+"/stats?window=5m", viewerTok, nil)
		require.EqualValues(t, 4.0, quietStats["rating"])

		require.Equal(t, "NOT_FOUND", ts.do("GET", "/api/internal/mitras/"+uuid.NewString()+"/ratings", viewerTok, nil).ErrorCode())
		require.Equal(t, "VALIDATION_FAILED", ts.do("GET", "/api/internal/mitras/"+mitra.String()+"/ratings?page_size=101", viewerTok, nil).ErrorCode())
	})
}

func TestRatingRoutes_SupportHidesACommentAuditedAndItsStarsStillCount(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, viewerTok := ts.newOperator("viewer")
		supportID, supportTok := ts.newOperator("support")
		mitra, mitraTok := ts.onlineMitra("Ayu")
		rated := ts.ratedChat(mitraTok, 1, "wa aku di 0812 3456 7890")
		ts.clock.Advance(time.Second)
		bare := ts.ratedChat(mitraTok, 5, "")
		hide := "/api/internal/ratings/" + rated["id"].(string) + "/hide"

		r := ts.do("POST", hide, viewerTok, nil)
		require.Equal(t, 403, r.Status, "a viewer may not")
		ts.clock.Advance(time.Minute)
		hidden := ts.must(200, "POST", hide, supportTok, nil)
		require.Nil(t, hidden["comment"], "the words are not answered")
		require.Equal(t, true, hidden["comment_hidden"])
		require.Equal(t, ts.clock.Now().UTC().Format(time.RFC3339), hidden["comment_hidden_at"])
		again := ts.must(200, "POST", hide, supportTok, nil)
		require.Equal(t, hidden, again, "hiding twice changes nothing")

		list := ts.must(200, "GET", "/api/internal/mitras/"+mitra.String()+"/ratings", viewerTok, nil)
		items := list["items"].([]any)
		require.Len(t, items, 2)
		require.Equal(t, hidden, items[1].(map[string]any))
		require.InDelta(t, (10*4.0+6)/12, list["rating"], 1e-12, "the hidden comment's stars still count")

		audit := ts.must(200, "GET", "/api/internal/audit?action=rating.hide_comment&target_id="+rated["id"].(string), ts.op, nil)
		rows := audit["items"].([]any)
		require.Len(t, rows, 2, "each answered hide is audited")
		first := rows[1].(map[string]any)
		require.Equal(t, supportID.String(), first["operator_id"])
		require.Equal(t, map[string]any{"comment_hidden": false}, first["before"])
		require.NotContains(t, string(ts.do("GET", "/api/internal/audit?action=rating.hide_comment", ts.op, nil).Raw), "0812",
			"the words are not in the audit")

		r = ts.do("POST", "/api/internal/ratings/"+bare["id"].(string)+"/hide", supportTok, nil)
		require.Equal(t, 409, r.Status, "%s", r.Raw)
		require.Equal(t, "INVALID_STATE", r.ErrorCode(), "no comment to hide")
		require.Equal(t, "NOT_FOUND", ts.do("POST", "/api/internal/ratings/"+uuid.NewString()+"/hide", supportTok, nil).ErrorCode())
	})
}

// endedSession: a fresh client's chat with "mitra", ended by the client.
func (f *authzFixture) endedSession() fixtureSession {
	f.t.Helper()
	s := f.activeSession(f.mitraTok)
	f.ts.must(200, "POST", "/api/client/chat-sessions/"+s.session+"/end", s.client.tok, nil)
	return s
}

// ratingWithComment: a fresh client's ended chat with "mitra", rated with a comment; it
// returns the rating's id.
func (f *authzFixture) ratingWithComment() string {
	f.t.Helper()
	s := f.endedSession()
	return f.ts.must(201, "POST", "/api/client/chat-sessions/"+s.session+"/rating", s.client.tok,
		map[string]any{"stars": 2, "comment": "kurang ramah"})["id"].(string)
}
