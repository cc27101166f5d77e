package main

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
)

func TestMitraProfileRoutes_EditIsLockedOnProfileUpdatedAtWhichPresenceNeverMoves(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		_, support := ts.newOperator("support")
		id, tok := ts.newMitra("Ayu")
		path := "/api/internal/mitras/" + id.String()
		created := ts.must(200, "GET", path, ts.op, nil)
		token := created["profile_updated_at"]
		require.NotEmpty(t, token)
		require.Equal(t, map[string]any{"languages": []any{}, "topics": []any{}, "gender": nil}, created["labels"])

		// Presence: online, heartbeats, offline, online again. None of it moves the token.
		ts.must(200, "POST", "/api/mitra/status/online", tok, nil)
		ts.clock.Advance(5 * time.Second)
		ts.must(200, "POST", "/api/mitra/status/heartbeat", tok, nil)
		ts.must(200, "POST", "/api/mitra/status/offline", tok, nil)
		ts.must(200, "POST", "/api/mitra/status/online", tok, nil)
		_, err := ts.app.mirror.RecomputeCapacity(context.Background(), id)
		require.NoError(t, err)
		now := ts.must(200, "GET", path, ts.op, nil)
		require.NotEqual(t, created["updated_at"], now["updated_at"], "presence moved updated_at")
		require.Equal(t, token, now["profile_updated_at"], "but not profile_updated_at")

		edited := ts.must(200, "PATCH", path, support, map[string]any{"expected_profile_updated_at": token,
			"display_name": " Ayu Lestari ", "labels": map[string]any{"languages": []any{"ID", "en"}, "topics": []any{" work "}, "gender": "female"}})
		require.Equal(t, "Ayu Lestari", edited["display_name"])
		require.Equal(t, map[string]any{"languages": []any{"id", "en"}, "topics": []any{"work"}, "gender": "female"}, edited["labels"])
		require.NotEqual(t, token, edited["profile_updated_at"])
		require.Nil(t, edited["max_concurrent_sessions"], "not given: unchanged")
		require.Equal(t, true, edited["is_online"], "presence untouched")
		stored := ts.must(200, "GET", path, ts.op, nil)
		delete(stored, "device_count") // GET /api/internal/mitras/{id} only
		require.Equal(t, edited, stored, "as stored")
	})
}

func TestMitraProfileRoutes_AStaleEditIs409WithTheCurrentMitra(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		supportID, support := ts.newOperator("support")
		id, _ := ts.newMitra("Ayu")
		path := "/api/internal/mitras/" + id.String()
		token := ts.must(200, "GET", path, ts.op, nil)["profile_updated_at"]
		first := ts.must(200, "PATCH", path, support, map[string]any{"expected_profile_updated_at": token, "display_name": "Ayu L"})

		r := ts.do("PATCH", path, support, map[string]any{"expected_profile_updated_at": token, "max_concurrent_sessions": 3})
		require.Equal(t, http.StatusConflict, r.Status)
		require.Equal(t, "STALE_WRITE", r.ErrorCode())
		current := obj(obj(r.Body, "error"), "current")
		require.Equal(t, first["profile_updated_at"], current["profile_updated_at"])
		require.Equal(t, "Ayu L", current["display_name"])
		require.Nil(t, current["max_concurrent_sessions"], "the stale edit wrote nothing")

		audit := items(ts.must(200, "GET", "/api/internal/audit?target_id="+id.String()+"&action=mitra.profile", ts.op, nil))
		require.Len(t, audit, 1, "the stale edit is not audited")
		require.Equal(t, supportID.String(), audit[0]["operator_id"])
		require.Equal(t, "Ayu", obj(audit[0], "before")["display_name"])
		require.Equal(t, "Ayu L", obj(audit[0], "after")["display_name"])

		// The retry with the current token goes through; null puts the default back.
		again := ts.must(200, "PATCH", path, support, map[string]any{"expected_profile_updated_at": current["profile_updated_at"], "max_concurrent_sessions": 3})
		require.Equal(t, float64(3), again["max_concurrent_sessions"])
		again = ts.must(200, "PATCH", path, support, map[string]any{"expected_profile_updated_at": again["profile_updated_at"], "max_concurrent_sessions": nil})
		require.Nil(t, again["max_concurrent_sessions"])

		fresh := again["profile_updated_at"]
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"no token", map[string]any{"display_name": "x"}, "expected_profile_updated_at"},
			{"nothing to change", map[string]any{"expected_profile_updated_at": fresh}, "body"},
			{"a bad time", map[string]any{"expected_profile_updated_at": "yesterday", "display_name": "x"}, "expected_profile_updated_at"},
			{"a blank name", map[string]any{"expected_profile_updated_at": fresh, "display_name": "  "}, "display_name"},
			{"a zero maximum", map[string]any{"expected_profile_updated_at": fresh, "max_concurrent_sessions": 0}, "max_concurrent_sessions"},
			{"not a language", map[string]any{"expected_profile_updated_at": fresh, "labels": map[string]any{"languages": []any{"xx"}}}, "labels.languages"},
			{"a topic twice", map[string]any{"expected_profile_updated_at": fresh, "labels": map[string]any{"topics": []any{"Work", "work"}}}, "labels.topics"},
			{"another gender", map[string]any{"expected_profile_updated_at": fresh, "labels": map[string]any{"gender": "robot"}}, "labels.gender"},
		} {
			r := ts.do("PATCH", path, support, tc.body)
			require.Equal(t, http.StatusBadRequest, r.Status, tc.name)
			require.Equal(t, tc.field, obj(r.Body, "error")["field"], tc.name)
		}
		r = ts.do("PATCH", "/api/internal/mitras/"+uuid.NewString(), support, map[string]any{"expected_profile_updated_at": fresh, "display_name": "x"})
		require.Equal(t, http.StatusNotFound, r.Status)
		require.Equal(t, fresh, ts.must(200, "GET", path, ts.op, nil)["profile_updated_at"], "nothing refused was written")
	})
}

// A new maximum reaches availability at once: the mitra is offered what waits for it (the
// head of the queue), Valkey's mirror follows, and a lower one takes the slot back.
func TestMitraProfileRoutes_AMaximumChangeIsReflectedInAvailability(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ts.setConfig("pairing_queue_enabled", true)
		id, ayu := ts.onlineMitra("Ayu")
		path := "/api/internal/mitras/" + id.String()
		_, dewi := ts.newClient("Dewi")
		first, _ := ts.paidStart(dewi)
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+first+"/accept", ayu, nil)
		available := func() bool {
			ids, err := ts.app.mirror.FindAvailable(context.Background(), availability.FindOptions{})
			require.NoError(t, err)
			return slices.Contains(ids, id)
		}
		require.False(t, available(), "one chat fills the default maximum of 1")

		_, rina := ts.newClient("Rina")
		queued, _ := ts.paidStart(rina)
		require.Equal(t, "queued", ts.pairingView(rina, queued)["status"], "nobody has a free slot")

		token := ts.must(200, "GET", path, ts.op, nil)["profile_updated_at"]
		edited := ts.must(200, "PATCH", path, ts.op, map[string]any{"expected_profile_updated_at": token, "max_concurrent_sessions": 2})
		require.Equal(t, []string{queued}, ts.offerIDs(ayu), "the freed slot is offered the head of the queue")
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+queued+"/accept", ayu, nil)
		require.False(t, available(), "two chats fill the new maximum")

		ts.must(200, "PATCH", path, ts.op, map[string]any{"expected_profile_updated_at": edited["profile_updated_at"], "max_concurrent_sessions": 3})
		require.True(t, available(), "a third slot")
		if ts.app.valkey != nil {
			rep, err := ts.app.mirror.Drift(context.Background())
			require.NoError(t, err)
			require.Empty(t, rep.Differences, "Valkey mirrors Postgres")
		}
	})
}
