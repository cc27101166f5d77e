package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
)

// requireAccountClosedFor requires that a stream's last event is account_closed for reason.
func requireAccountClosedFor(t *testing.T, events []string, reason string) {
	t.Helper()
	require.NotEmpty(t, events)
	var last struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(events[len(events)-1]), &last))
	require.Equal(t, "account_closed", last.Kind, "the last event of %v", events)
	require.Equal(t, map[string]string{"reason": reason}, last.Data)
}

func TestClientRoutes_SuspensionRefusesEveryTokenClosesStreamsAndReinstatementNeedsANewToken(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.onlineMitra("Ayu")
		supportID, support := ts.newOperator("support")
		id, before := ts.newClient("Dewi")
		st := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", before)
		_, other := ts.newClient("Rina")
		otherStream := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", other)
		path := "/api/internal/clients/" + id.String() + "/status"

		suspended := ts.must(200, "PATCH", path, support, map[string]any{"is_active": false})
		require.Equal(t, false, suspended["is_active"])
		requireAccountClosedFor(t, st.closedWith(t, 5*time.Second, "the suspended client's stream"), reasonClientSuspended)

		for _, tok := range []string{before, ts.token("client", id)} { // a token minted meanwhile too
			r := ts.do("GET", "/api/client/chat/pricing", tok, nil)
			require.Equal(t, http.StatusForbidden, r.Status)
			require.Equal(t, "CLIENT_SUSPENDED", r.ErrorCode())
			_, refused := tryStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", tok)
			require.Equal(t, http.StatusForbidden, refused.Status, "no stream either")
		}
		_, _, err := ts.app.pairer.StartBlast(context.Background(), pairing.StartParams{ClientID: id, Minutes: 30})
		require.ErrorIs(t, err, pairing.ErrClientSuspended, "the SDK refuses the client new chats")
		select {
		case <-otherStream.closed:
			t.Fatal("another client's stream was closed")
		default:
		}
		ts.must(200, "GET", "/api/client/chat/pricing", other, nil)

		audit := items(ts.must(200, "GET", "/api/internal/audit?action=client.status&target_id="+id.String(), ts.op, nil))
		require.Equal(t, "client.status", audit[0]["action"])
		require.Equal(t, supportID.String(), audit[0]["operator_id"])
		require.Equal(t, true, obj(audit[0], "before")["is_active"])
		require.Equal(t, false, obj(audit[0], "after")["is_active"])

		reinstated := ts.must(200, "PATCH", path, support, map[string]any{"is_active": true})
		require.Equal(t, true, reinstated["is_active"])
		r := ts.do("GET", "/api/client/chat/pricing", before, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, "the suspension revoked it for good")
		require.Equal(t, "UNAUTHENTICATED", r.ErrorCode())
		after := ts.token("client", id)
		ts.must(201, "POST", "/api/client/chat/start", after, map[string]any{"minutes": 30})

		r = ts.do("PATCH", "/api/internal/clients/"+pairingNil+"/status", support, map[string]any{"is_active": false})
		require.Equal(t, http.StatusNotFound, r.Status)
		r = ts.do("PATCH", path, support, map[string]any{})
		require.Equal(t, http.StatusBadRequest, r.Status)
	})
}

// pairingNil is an id no row has.
const pairingNil = "00000000-0000-4000-8000-000000000001"

// A suspension whose broadcast never reached an instance still closes the client's stream
// there, with account_closed, at the next keep-alive pass after the token cache bound.
func TestClientRoutes_KeepAliveClosesASuspendedClientsStreamWhoseBroadcastWasLost(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		id, tok := ts.newClient("Dewi")
		st := openStream(t, ts.http.Client(), ts.http.URL+"/api/client/events", tok)
		_, err := ts.app.pairer.SetClientActive(context.Background(), id, false) // the SDK alone: no broadcast
		require.NoError(t, err)
		ts.clock.Advance(ts.app.cfg.AuthCacheTTL + time.Second)
		ts.app.events.keepAlive(context.Background())
		requireAccountClosedFor(t, st.closedWith(t, 5*time.Second, "the suspended client's stream"), reasonClientSuspended)
	})
}

func TestClientRoutes_FindByNameOrIDAndSeeOneAtAGlance(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, viewer := ts.newOperator("viewer")
		ayuID, ayu := ts.onlineMitra("Ayu")
		dewiID, dewi := ts.newClient("Dewi Lestari")
		ts.clock.Advance(time.Second)
		ts.newClient("Ayu Client")
		ts.clock.Advance(time.Second)
		kartikaID, _ := ts.newClient("dewi kartika")

		page := ts.must(200, "GET", "/api/internal/clients?q=DEWI", viewer, nil)
		require.Equal(t, float64(2), page["total"])
		got := items(page)
		require.Equal(t, []any{kartikaID.String(), dewiID.String()}, []any{got[0]["id"], got[1]["id"]}, "newest first")
		require.Equal(t, map[string]any{"id": dewiID.String(), "display_name": "Dewi Lestari", "is_active": true,
			"created_at": got[1]["created_at"], "warnings_count": float64(0), "erased_at": nil}, got[1])
		page = ts.must(200, "GET", "/api/internal/clients?q="+dewiID.String(), viewer, nil)
		require.Equal(t, float64(1), page["total"])
		page = ts.must(200, "GET", "/api/internal/clients?page=2&page_size=2", viewer, nil)
		require.Equal(t, float64(3), page["total"])
		require.Equal(t, dewiID.String(), items(page)[0]["id"])
		require.Equal(t, http.StatusBadRequest, ts.do("GET", "/api/internal/clients?page_size=1000", viewer, nil).Status)

		// Dewi chats with Ayu and starts another blast meanwhile.
		first, _ := ts.paidStart(dewi)
		session := obj(ts.must(200, "POST", "/api/mitra/pairing-offers/"+first+"/accept", ayu, nil), "chat_session")
		ts.clock.Advance(time.Minute)
		second := obj(ts.must(201, "POST", "/api/client/chat/start", dewi, map[string]any{"minutes": 30}), "pairing")["id"]

		glance := ts.must(200, "GET", "/api/internal/clients/"+dewiID.String(), viewer, nil)
		require.Equal(t, dewiID.String(), obj(glance, "client")["id"])
		require.Equal(t, true, obj(glance, "client")["is_active"])
		waiting := glance["waiting_pairings"].([]any)
		require.Len(t, waiting, 1)
		require.Equal(t, second, waiting[0].(map[string]any)["id"])
		require.Equal(t, "awaiting_payment", waiting[0].(map[string]any)["status"])
		require.Equal(t, []any{map[string]any{"id": session["id"], "status": "active", "mitra_id": ayuID.String(),
			"mitra_name": "Ayu", "minutes": float64(30), "started_at": session["started_at"], "ends_at": session["ends_at"],
			"seconds_left": float64(29 * 60)}}, glance["open_chat_sessions"])
		require.Equal(t, float64(1), glance["chat_sessions"])
		require.Equal(t, float64(0), glance["chat_sessions_completed"])

		ts.must(200, "POST", "/api/client/chat-sessions/"+session["id"].(string)+"/end", dewi, nil)
		glance = ts.must(200, "GET", "/api/internal/clients/"+dewiID.String(), viewer, nil)
		require.Empty(t, glance["open_chat_sessions"])
		require.Equal(t, float64(1), glance["chat_sessions_completed"])

		r := ts.do("GET", "/api/internal/clients/"+pairingNil, viewer, nil)
		require.Equal(t, http.StatusNotFound, r.Status)
	})
}

// A suspension on one instance reaches the others at once: the client's token, verified
// and cached by another instance, is refused there, and its stream there is told why and
// closed.
func TestClientRoutes_SuspensionOnOneInstanceClosesTheClientEverywhere(t *testing.T) {
	t.Parallel()
	f := newFleet(t, fleetOptions{Instances: 2})
	id, tok := f.newClient(0, "Dewi")
	f.must(1, 200, "GET", "/api/client/chat/pricing", tok, nil) // verified and cached by instance 1
	st := openStream(t, f.node(1).srv.Client(), f.node(1).srv.URL+"/api/client/events", tok)

	f.must(0, 200, "PATCH", "/api/internal/clients/"+id.String()+"/status", f.op(), map[string]any{"is_active": false})
	requireAccountClosedFor(t, st.closedWith(t, 5*time.Second, "the stream on the other instance"), reasonClientSuspended)
	r, err := f.node(1).call(context.Background(), "GET", "/api/client/chat/pricing", tok, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, r.Status, "not trusted from the other instance's cache")
	require.Equal(t, "CLIENT_SUSPENDED", r.code())
}
