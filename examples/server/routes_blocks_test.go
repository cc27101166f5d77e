package main

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// endedChat gives the client a chat with the mitra (a blast only it is offered, accepted,
// ended by the client): what "Curhat lagi", and a mitra's block, need.
func (ts *testServer) endedChat(clientTok, mitraTok string) {
	ts.t.Helper()
	pid, _ := ts.paidStart(clientTok)
	sid := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", mitraTok, nil), "chat_session")["id"].(string)
	ts.must(200, "POST", "/api/client/chat-sessions/"+sid+"/end", clientTok, nil)
}

// blockItems lists the ids of a GET …/blocks answer (field: mitra_id or client_id).
func (ts *testServer) blockItems(path, tok, field string) []string {
	ts.t.Helper()
	out := []string{}
	for _, it := range ts.must(200, "GET", path, tok, nil)["items"].([]any) {
		out = append(out, it.(map[string]any)[field].(string))
	}
	return out
}

func TestBlockRoutes_AClientsBlockRefusesCurhatLagiAndLeavesTheMitraOutOfItsBlastsUntilUnblocked(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		ayu, ayuTok := ts.onlineMitra("Ayu")
		ts.endedChat(clientTok, ayuTok)
		_, bimaTok := ts.onlineMitra("Bima")

		first := ts.must(201, "POST", "/api/client/blocks", clientTok, map[string]any{"mitra_id": ayu.String()})
		require.Equal(t, ayu.String(), first["mitra_id"])
		require.NotEmpty(t, first["created_at"])
		ts.clock.Advance(time.Second)
		again := ts.do("POST", "/api/client/blocks", clientTok, map[string]any{"mitra_id": ayu.String()})
		require.Equal(t, 200, again.Status, "blocking again: the same block")
		require.Equal(t, first, again.Body)
		require.Equal(t, []string{ayu.String()}, ts.blockItems("/api/client/blocks", clientTok, "mitra_id"))
		require.Empty(t, ts.blockItems("/api/mitra/blocks", ayuTok, "client_id"), "a mitra does not see who blocked it")

		r := ts.do("POST", "/api/client/chat/returning", clientTok, map[string]any{"mitra_id": ayu.String(), "minutes": 30})
		require.Equal(t, 409, r.Status, "%s", r.Raw)
		require.Equal(t, "BLOCKED", r.ErrorCode())

		pid, _ := ts.paidStart(clientTok)
		require.Empty(t, ts.offerIDs(ayuTok), "the blocked mitra gets no offer of the client's blast")
		require.Equal(t, []string{pid}, ts.offerIDs(bimaTok), "another mitra does")
		require.Equal(t, "NOT_FOUND", ts.do("POST", "/api/mitra/pairing-offers/"+pid+"/accept", ayuTok, nil).ErrorCode(),
			"never offered it")
		ts.must(200, "POST", "/api/client/chat/cancel", clientTok, map[string]any{"pairing_id": pid})

		ts.must(204, "DELETE", "/api/client/blocks/"+ayu.String(), clientTok, nil)
		ts.must(204, "DELETE", "/api/client/blocks/"+ayu.String(), clientTok, nil) // gone already: the same answer
		require.Empty(t, ts.blockItems("/api/client/blocks", clientTok, "mitra_id"))
		pid, _ = ts.paidStart(clientTok)
		require.Equal(t, []string{pid}, ts.offerIDs(ayuTok), "unblocked: offered again")
		ts.must(200, "POST", "/api/client/chat/cancel", clientTok, map[string]any{"pairing_id": pid})
		p := obj(ts.must(201, "POST", "/api/client/chat/returning", clientTok, map[string]any{"mitra_id": ayu.String(), "minutes": 30}), "pairing")
		require.Equal(t, "targeted_waiting", p["status"])
	})
}

func TestBlockRoutes_AMitraBlocksAClientItChattedWithAndOnlyThatOne(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		client, clientTok := ts.newClient("Dewi")
		ayu, ayuTok := ts.onlineMitra("Ayu")
		ts.endedChat(clientTok, ayuTok)
		_, bimaTok := ts.onlineMitra("Bima")
		stranger, _ := ts.newClient("Rina")

		r := ts.do("POST", "/api/mitra/blocks", bimaTok, map[string]any{"client_id": client.String()})
		require.Equal(t, 404, r.Status, "Bima never chatted with Dewi: %s", r.Raw)
		require.Equal(t, "NOT_FOUND", r.ErrorCode())
		require.Equal(t, 404, ts.do("POST", "/api/mitra/blocks", ayuTok, map[string]any{"client_id": stranger.String()}).Status)
		require.Equal(t, 404, ts.do("POST", "/api/mitra/blocks", ayuTok, map[string]any{"client_id": uuid.NewString()}).Status)
		require.Equal(t, 404, ts.do("DELETE", "/api/mitra/blocks/"+client.String(), bimaTok, nil).Status)

		b := ts.must(201, "POST", "/api/mitra/blocks", ayuTok, map[string]any{"client_id": client.String()})
		require.Equal(t, client.String(), b["client_id"])
		require.Equal(t, 200, ts.do("POST", "/api/mitra/blocks", ayuTok, map[string]any{"client_id": client.String()}).Status)
		require.Equal(t, []string{client.String()}, ts.blockItems("/api/mitra/blocks", ayuTok, "client_id"))
		require.Empty(t, ts.blockItems("/api/client/blocks", clientTok, "mitra_id"), "a client does not see who blocked it")

		require.Equal(t, "BLOCKED", ts.do("POST", "/api/client/chat/returning", clientTok,
			map[string]any{"mitra_id": ayu.String(), "minutes": 30}).ErrorCode())
		pid, _ := ts.paidStart(clientTok)
		require.Empty(t, ts.offerIDs(ayuTok))
		require.Equal(t, []string{pid}, ts.offerIDs(bimaTok))
		ts.must(200, "POST", "/api/client/chat/cancel", clientTok, map[string]any{"pairing_id": pid})

		// The client has no block of its own to remove: the mitra's stays.
		ts.must(204, "DELETE", "/api/client/blocks/"+ayu.String(), clientTok, nil)
		require.Equal(t, "BLOCKED", ts.do("POST", "/api/client/chat/returning", clientTok,
			map[string]any{"mitra_id": ayu.String(), "minutes": 30}).ErrorCode())
		ts.must(204, "DELETE", "/api/mitra/blocks/"+client.String(), ayuTok, nil)
		require.Empty(t, ts.blockItems("/api/mitra/blocks", ayuTok, "client_id"))
		ts.must(201, "POST", "/api/client/chat/returning", clientTok, map[string]any{"mitra_id": ayu.String(), "minutes": 30})
	})
}

func TestBlockRoutes_ABlockDismissesTheLiveOfferAndTheQueuePassesOverThePair(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, clientTok := ts.newClient("Dewi")
		ayu, ayuTok := ts.onlineMitra("Ayu")
		_, bimaTok := ts.onlineMitra("Bima")
		pid, _ := ts.paidStart(clientTok)
		require.Equal(t, []string{pid}, ts.offerIDs(ayuTok))

		ts.must(201, "POST", "/api/client/blocks", clientTok, map[string]any{"mitra_id": ayu.String()})
		require.Empty(t, ts.offerIDs(ayuTok), "the block dismissed Ayu's offer")
		require.Equal(t, "BLOCKED", ts.do("POST", "/api/mitra/pairing-offers/"+pid+"/accept", ayuTok, nil).ErrorCode())
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+pid+"/accept", bimaTok, nil)

		// With the queue on, Ayu going online takes the first queued chat it may take.
		ts.setConfig("pairing_queue_enabled", true)
		ts.must(200, "POST", "/api/mitra/status/offline", ayuTok, nil)
		_, rinaTok := ts.newClient("Rina")
		_, sariTok := ts.newClient("Sari")
		ts.must(201, "POST", "/api/client/blocks", sariTok, map[string]any{"mitra_id": ayu.String()})
		head, _ := ts.paidStart(sariTok)
		ts.clock.Advance(time.Second) // paid a second apart: the queue's order
		next, _ := ts.paidStart(rinaTok)
		require.Equal(t, "queued", ts.pairingView(sariTok, head)["status"])
		require.Equal(t, "queued", ts.pairingView(rinaTok, next)["status"])
		ts.must(200, "POST", "/api/mitra/status/online", ayuTok, nil)
		require.Equal(t, []string{next}, ts.offerIDs(ayuTok), "the head is blocked with Ayu: the next one")
		require.Equal(t, float64(1), ts.pairingView(sariTok, head)["queue_position"], "the head keeps its place")
	})
}

func TestBlockRoutes_RefuseBadInputAndUnknownParties(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		_, clientTok := ts.newClient("Dewi")
		_, mitraTok := ts.newMitra("Ayu")
		for _, tc := range []struct {
			method, path, tok string
			body              any
			status            int
			code              string
		}{
			{"POST", "/api/client/blocks", clientTok, map[string]any{}, 400, "INVALID_ID"},
			{"POST", "/api/client/blocks", clientTok, map[string]any{"mitra_id": "Ayu"}, 400, "INVALID_ID"},
			{"POST", "/api/client/blocks", clientTok, map[string]any{"client_id": uuid.NewString()}, 400, "VALIDATION_FAILED"},
			{"POST", "/api/client/blocks", clientTok, `{"mitra_id": 7}`, 400, "VALIDATION_FAILED"},
			{"POST", "/api/client/blocks", clientTok, map[string]any{"mitra_id": uuid.NewString()}, 404, "NOT_FOUND"},
			{"DELETE", "/api/client/blocks/Ayu", clientTok, nil, 400, "INVALID_ID"},
			{"DELETE", "/api/client/blocks/" + uuid.NewString(), clientTok, nil, 404, "NOT_FOUND"},
			{"POST", "/api/mitra/blocks", mitraTok, map[string]any{"mitra_id": uuid.NewString()}, 400, "VALIDATION_FAILED"},
			{"POST", "/api/mitra/blocks", mitraTok, map[string]any{"client_id": ""}, 400, "INVALID_ID"},
			{"DELETE", "/api/mitra/blocks/" + uuid.NewString(), mitraTok, nil, 404, "NOT_FOUND"},
			{"POST", "/api/mitra/blocks", clientTok, map[string]any{"client_id": uuid.NewString()}, 403, "FORBIDDEN"},
		} {
			r := ts.do(tc.method, tc.path, tc.tok, tc.body)
			require.Equal(t, tc.status, r.Status, "%s %s %v: %s", tc.method, tc.path, tc.body, r.Raw)
			require.Equal(t, tc.code, r.ErrorCode(), "%s %s %v", tc.method, tc.path, tc.body)
		}
		require.Empty(t, ts.blockItems("/api/client/blocks", clientTok, "mitra_id"))
	})
}
