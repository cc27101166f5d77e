package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestJSON_DuplicateKeysRejected(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	_, clientTok := ts.newClient("Dewi")
	cases := []struct {
		name, method, path, tok, body, field string
	}{
		{"top level", "POST", "/api/internal/clients", ts.op, `{"display_name":"a","display_name":"b"}`, "display_name"},
		{"top level, escaped", "POST", "/api/internal/clients", ts.op, `{"display_name":"a","display_\u006eame":"b"}`, "display_name"},
		{"nested in an array", "POST", tiersPath + "/reorder", ts.op,
			`{"mode":"session","tiers":[{"id":"` + uuid.NewString() + `","id":"x","expected_updated_at":"2026-01-01T00:00:00Z"}]}`, "tiers[].id"},
		{"inside a free-form value", "PUT", "/api/internal/config/pairing_blast_timeout_seconds", ts.op, `{"value":{"a":1,"a":2}}`, "value.a"},
		{"client body", "POST", "/api/client/chat/start", clientTok, `{"minutes":30,"minutes":60}`, "minutes"},
	}
	for _, c := range cases {
		r := ts.do(c.method, c.path, c.tok, c.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", c.name, r.Raw)
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), c.name)
		e := r.Body["error"].(map[string]any)
		require.Equal(t, c.field, e["field"], "%s: %s", c.name, r.Raw)
		require.Contains(t, e["message"], "duplicate key", c.name)
	}
	// The same keys in sibling objects are not duplicates.
	ts.must(http.StatusOK, "PUT", "/api/internal/config/pairing_blast_timeout_seconds", ts.op, `{"value":45}`)
}

func TestJSON_KeysAreCaseSensitive(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	ts.createTier("session", 5, 5000)
	_, clientTok := ts.newClient("Dewi")

	// encoding/json alone would fill minutes from "Minutes" and start a 5-minute blast.
	r := ts.do("POST", "/api/client/chat/start", clientTok, `{"Minutes":5}`)
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
	e := r.Body["error"].(map[string]any)
	require.Equal(t, "Minutes", e["field"])
	require.Contains(t, e["message"], `"minutes"`, "the answer names the field it resembles")

	for _, body := range []string{`{"DISPLAY_NAME":"a"}`, `{"display_Name":"a"}`} {
		r := ts.do("POST", "/api/internal/clients", ts.op, body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", body, r.Raw)
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
	}
	// Nested objects too: the fields of a reorder's tiers.
	r = ts.do("POST", tiersPath+"/reorder", ts.op, `{"mode":"session","tiers":[{"ID":"`+uuid.NewString()+`","expected_updated_at":"2026-01-01T00:00:00Z"}]}`)
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Raw)
	require.Equal(t, "tiers[].ID", r.Body["error"].(map[string]any)["field"])

	ts.must(http.StatusCreated, "POST", "/api/client/chat/start", clientTok, `{"minutes":5}`)
}

func TestJSON_KeyShapesFollowEncodingJSON(t *testing.T) {
	t.Parallel()
	type inner struct {
		A int `json:"a"`
	}
	type embedded struct {
		E string `json:"e"`
	}
	var v struct {
		embedded
		Tagged  int              `json:"tagged,omitempty"`
		Skipped int              `json:"-"`
		Plain   int              // untagged: its Go name
		Nested  *inner           `json:"nested"`
		List    []inner          `json:"list"`
		ByKey   map[string]inner `json:"by_key"`
		Raw     json.RawMessage  `json:"raw"`
	}
	ok := `{"e":"x","tagged":1,"Plain":2,"nested":{"a":1},"list":[{"a":1},{"a":2}],"by_key":{"k":{"a":1},"K":{"a":2}},"raw":{"Any":1}}`
	require.NoError(t, unmarshalBody([]byte(ok), &v, true))
	for body, field := range map[string]string{
		`{"E":"x"}`:                        "E",
		`{"plain":1}`:                      "plain",
		`{"nested":{"A":1}}`:               "nested.A",
		`{"list":[{"a":1},{"A":1}]}`:       "list[].A",
		`{"by_key":{"k":{"A":1}}}`:         "by_key.k.A",
		`{"by_key":{"k":{},"k":{}}}`:       "by_key.k",
		`{"raw":{"x":1,"x":2}}`:            "raw.x",
		`{"list":[{"a":1,"a":1}]}`:         "list[].a",
		`{"tagged":1,"Tagged":1}`:          "Tagged",
		`{"nested":{"a":1},"nested":null}`: "nested",
	} {
		err := unmarshalBody([]byte(body), &v, true)
		require.Error(t, err, body)
		ae, _ := toAPIError(err)
		require.Equal(t, "VALIDATION_FAILED", ae.Code, body)
		require.Equal(t, field, ae.Details["field"], body)
	}
	// Lenient (the webhook): unknown keys pass, case variants of known ones do not.
	var w struct {
		Status string `json:"status"`
	}
	require.NoError(t, unmarshalBody([]byte(`{"status":"paid","extra":{"x":1},"Other":2}`), &w, false))
	require.Equal(t, "paid", w.Status)
	require.Error(t, unmarshalBody([]byte(`{"Status":"paid"}`), &w, false))
	require.Error(t, unmarshalBody([]byte(`{"status":"paid","extra":{"x":1,"x":2}}`), &w, false))
}
