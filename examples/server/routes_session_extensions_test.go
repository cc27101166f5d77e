package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Both parties re-read a session's extensions (after a reconnect): a request waiting for
// the mitra's answer shows as requested, then as it was decided; nobody else reads them.
func TestSessionExtensions_BothPartiesReadTheirSessionsExtensions(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("extension_auto_approve", false)
		_, clientTok := ts.newClient("Dewi")
		_, mitraTok := ts.onlineMitra("Ayu")
		_, otherTok := ts.onlineMitra("Bima")
		pid, _ := ts.paidStart(clientTok)
		cs := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", mitraTok, nil), "chat_session")
		sid := cs["id"].(string)
		list := func(path, tok string) []any {
			return ts.must(200, "GET", path, tok, nil)["extensions"].([]any)
		}
		require.Empty(t, list("/api/client/chat-sessions/"+sid+"/extensions", clientTok))

		ext := obj(ts.must(201, "POST", "/api/client/chat-sessions/"+sid+"/extensions", clientTok, map[string]any{"minutes": 10}), "extension")
		require.Equal(t, "requested", ext["status"], "waits for the mitra's answer")
		got := list("/api/mitra/chat-sessions/"+sid+"/extensions", mitraTok)
		require.Len(t, got, 1)
		require.Equal(t, ext["id"], got[0].(map[string]any)["id"])
		require.Equal(t, "requested", got[0].(map[string]any)["status"])
		require.NotEmpty(t, got[0].(map[string]any)["expires_at"], "when the request lapses")

		ts.must(200, "POST", "/api/mitra/extensions/"+ext["id"].(string)+"/reject", mitraTok, nil)
		got = list("/api/client/chat-sessions/"+sid+"/extensions", clientTok)
		require.Equal(t, "rejected", got[0].(map[string]any)["status"])

		for _, tc := range []struct{ path, tok string }{
			{"/api/mitra/chat-sessions/" + sid + "/extensions", otherTok},
			{"/api/mitra/chat-sessions/not-a-uuid/extensions", mitraTok},
		} {
			r := ts.do("GET", tc.path, tc.tok, nil)
			require.GreaterOrEqual(t, r.Status, 400)
			require.Less(t, r.Status, 500)
		}
		require.Equal(t, 404, ts.do("GET", "/api/mitra/chat-sessions/"+sid+"/extensions", otherTok, nil).Status)
	})
}
