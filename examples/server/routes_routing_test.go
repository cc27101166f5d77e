package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Routing quality over HTTP (SPEC §26): labels set by an operator, preferences on
// chat/start, the routing step on the pairing, widening on the clock.
func TestRoutingRoutes_PreferencesRouteTheBlastAndWidenAtEachStep(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		ayu, ayuTok := ts.onlineMitra("Ayu")
		_, budiTok := ts.onlineMitra("Budi")
		path := "/api/internal/mitras/" + ayu.String()
		cur := ts.must(200, "GET", path, ts.op, nil)
		ts.must(200, "PATCH", path, ts.op, map[string]any{"expected_profile_updated_at": cur["profile_updated_at"],
			"labels": map[string]any{"languages": []any{"id"}, "topics": []any{"Keluarga"}, "gender": "female"}})

		started := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30,
			"preferences": map[string]any{"language": "ID", "topics": []any{"keluarga"}, "gender": "female"}})
		require.Equal(t, map[string]any{"language": "id", "topics": []any{"keluarga"}, "gender": "female"},
			obj(started, "pairing")["preferences"], "normalised")
		require.Equal(t, 200, ts.webhook(obj(started, "payment")["id"], "paid").Status)
		pid := obj(started, "pairing")["id"].(string)
		offers := func(tok string) int {
			return len(ts.must(200, "GET", "/api/mitra/pairing-offers", tok, nil)["offers"].([]any))
		}
		step := func() float64 {
			return obj(ts.must(200, "GET", "/api/client/pairings/"+pid, clientTok, nil), "pairing")["routing_step"].(float64)
		}
		require.Equal(t, float64(0), step())
		require.Equal(t, 1, offers(ayuTok), "the mitra fitting every preference first")
		require.Equal(t, 0, offers(budiTok))

		ts.clock.Advance(19 * time.Second)
		require.Equal(t, float64(0), step())
		// → language: it adds nobody (Budi has no labels), so it is passed at once → any.
		ts.clock.Advance(time.Second)
		require.Equal(t, float64(2), step())
		require.Equal(t, 1, offers(budiTok), "any reaches everyone")
	})
}

func TestRoutingRoutes_BadPreferencesAre4xxNamingTheField(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	ts.tiers()
	_, clientTok := ts.newClient("Dewi")
	for _, tc := range []struct{ body, field string }{
		{`{"minutes":30,"preferences":{"language":"xx"}}`, "preferences.language"},
		{`{"minutes":30,"preferences":{"gender":"robot"}}`, "preferences.gender"},
		{`{"minutes":30,"preferences":{"topics":["` + strings.Repeat("t", 51) + `"]}}`, "preferences.topics"},
		{`{"minutes":30,"preferences":{"mood":"sad"}}`, ""},
		{`{"minutes":30,"preferences":"id"}`, ""},
	} {
		r := ts.do("POST", "/api/client/chat/start", clientTok, tc.body)
		require.GreaterOrEqual(t, r.Status, 400, tc.body)
		require.Less(t, r.Status, 500, tc.body)
		if tc.field != "" {
			require.Contains(t, string(r.Raw), tc.field, tc.body)
		}
	}
	require.Equal(t, http.StatusCreated, ts.do("POST", "/api/client/chat/start", clientTok,
		map[string]any{"minutes": 30, "preferences": map[string]any{}}).Status, "empty preferences are none")
}
