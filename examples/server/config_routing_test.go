package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The settings of routing quality through PUT /api/internal/config/{key}: a refused value is
// a 400 VALIDATION_FAILED whose message names the key and the fault; the routing steps and
// the blast timeout are checked against each other.
func TestConfig_RoutingSettingsAreValidatedOnWrite(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		put := func(key, value string) response {
			t.Helper()
			return ts.do("PUT", "/api/internal/config/"+key, ts.op, `{"value":`+value+`}`)
		}
		refused := func(key, value, says string) {
			t.Helper()
			r := put(key, value)
			require.Equal(t, 400, r.Status, "%s %s: %s", key, value, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
			msg := r.Body["error"].(map[string]any)["message"].(string)
			require.Contains(t, msg, key)
			require.Contains(t, msg, says)
		}
		refused("pairing_routing_steps", `[{"match":"all","seconds":20},{"match":"language","seconds":20}]`, "step 2: the last step must be any")
		refused("pairing_routing_steps", `[{"match":"any","seconds":5},{"match":"any"}]`, "step 1: only the last step may be any")
		refused("pairing_routing_steps", `[{"match":"topic","seconds":5},{"match":"any"}]`, `match must be all, language or any, not "topic"`)
		refused("pairing_routing_steps", `[{"match":"all","seconds":40},{"match":"language","seconds":20},{"match":"any"}]`,
			"shorter than pairing_blast_timeout_seconds (60 s)")
		refused("pairing_routing_steps", `[{"match":"any","wait":1}]`, `step 1 has no field "wait"`)
		refused("pairing_rank_weights", `{"rating":1.5,"accept":0,"idle":1}`, "rating must be 0..1, not 1.5")
		refused("pairing_rank_weights", `{"rating":0,"accept":-0.1,"idle":1}`, "accept must be 0..1, not -0.1")
		refused("pairing_rank_weights", `{"rating":"NaN","accept":0,"idle":1}`, "rating must be a number from 0 to 1")
		refused("pairing_rank_weights", `{"rating":0,"accept":0,"idle":1,"distance":1}`, `has no field "distance"`)
		refused("pairing_rank_weights", `{"rating":0,"idle":1}`, `needs the field "accept"`)
		refused("mitra_wrapup_seconds", `601`, "must be between 0 and 600, got 601")
		refused("mitra_wrapup_seconds", `"30"`, "must be an integer")

		r := put("pairing_routing_steps", ` [ {"seconds": 25, "match": "all"}, {"match": "any"} ] `)
		require.Equal(t, 200, r.Status, "%s", r.Raw)
		require.Equal(t, []any{map[string]any{"match": "all", "seconds": float64(25)}, map[string]any{"match": "any"}}, r.Body["value"])
		ts.must(200, "PUT", "/api/internal/config/pairing_rank_weights", ts.op, map[string]any{"value": map[string]any{"rating": 0.5, "accept": 0.25, "idle": 0.25}})
		ts.must(200, "PUT", "/api/internal/config/mitra_wrapup_seconds", ts.op, map[string]any{"value": 30})

		// The stored steps last 25 s: the blast timeout must stay longer.
		refused("pairing_blast_timeout_seconds", `25`, "must be longer than the timed steps of pairing_routing_steps (25 s together), not 25")
		ts.must(200, "PUT", "/api/internal/config/pairing_blast_timeout_seconds", ts.op, map[string]any{"value": 26})

		values := map[string]any{}
		for _, it := range ts.must(200, "GET", "/api/internal/config", ts.op, nil)["items"].([]any) {
			m := it.(map[string]any)
			values[m["key"].(string)] = m["value"]
		}
		require.Equal(t, float64(26), values["pairing_blast_timeout_seconds"])
		require.Equal(t, map[string]any{"rating": 0.5, "accept": 0.25, "idle": 0.25}, values["pairing_rank_weights"])
		require.Equal(t, float64(30), values["mitra_wrapup_seconds"])
		require.Len(t, values["pairing_routing_steps"], 2)
	})
}
