package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// openAPIPath maps a net/http route pattern to an OpenAPI path template: "{name...}"
// becomes "{name}" and the end anchor "{$}" goes.
func openAPIPath(pattern string) string {
	p := strings.ReplaceAll(pattern, "{$}", "")
	return regexp.MustCompile(`\{([^}.]+)\.\.\.\}`).ReplaceAllString(p, "{$1}")
}

func fetchOpenAPI(t *testing.T, ts *testServer) map[string]any {
	t.Helper()
	r := ts.do("GET", "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	require.Equal(t, "3.1.0", r.Body["openapi"])
	return r.Body
}

func TestOpenAPI_DocumentsEveryRegisteredRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	doc := fetchOpenAPI(t, ts)

	var documented []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var registered []string
	for _, r := range ts.srv.routes {
		registered = append(registered, r.Method+" "+openAPIPath(r.Path))
	}
	slices.Sort(documented)
	slices.Sort(registered)
	var missing, extra []string
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			missing = append(missing, r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			extra = append(extra, d)
		}
	}
	require.Empty(t, missing, "registered routes missing from openapi.go (apiOperations)")
	require.Empty(t, extra, "documented routes that are not registered")
	require.Len(t, documented, len(ts.srv.routes), "a route is registered twice")
}

func TestOpenAPI_SecurityFollowsTheRouteRoles(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	paths := fetchOpenAPI(t, ts)["paths"].(map[string]any)
	for _, r := range ts.srv.routes {
		op := paths[openAPIPath(r.Path)].(map[string]any)[strings.ToLower(r.Method)].(map[string]any)
		sec := op["security"].([]any)
		responses := op["responses"].(map[string]any)
		if r.Role == rolePublic {
			require.Empty(t, sec, "%s %s is public", r.Method, r.Path)
			continue
		}
		require.Equal(t, []any{map[string]any{r.Role.String(): []any{}}}, sec, "%s %s", r.Method, r.Path)
		for _, status := range []string{"401", "403"} {
			require.Contains(t, responses, status, "%s %s", r.Method, r.Path)
		}
	}
}

func TestOpenAPI_EveryReferenceAndPathParameterResolves(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	doc := fetchOpenAPI(t, ts)

	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				require.True(t, strings.HasPrefix(r, "#/"), "%s: external ref %s", at, r)
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
					m, ok := cur.(map[string]any)
					require.True(t, ok, "%s: %s does not resolve", at, r)
					cur, ok = m[part]
					require.True(t, ok, "%s: %s does not resolve", at, r)
				}
			}
			for k, e := range v {
				walk(e, at+"/"+k)
			}
		case []any:
			for _, e := range v {
				walk(e, at)
			}
		}
	}
	walk(doc, "#")

	for path, item := range doc["paths"].(map[string]any) {
		want := openAPIPathParam.FindAllStringSubmatch(path, -1)
		for method, op := range item.(map[string]any) {
			op := op.(map[string]any)
			var declared []string
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				if p := p.(map[string]any); p["in"] == "path" {
					declared = append(declared, p["name"].(string))
				}
			}
			require.Len(t, declared, len(want), "%s %s", method, path)
			for _, w := range want {
				require.Contains(t, declared, w[1], "%s %s", method, path)
			}
			require.NotEmpty(t, op["responses"], "%s %s", method, path)
		}
	}
}

func TestOpenAPI_IsValidJSONWithStableOperationIDs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	doc := fetchOpenAPI(t, ts)
	seen := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			id := op.(map[string]any)["operationId"].(string)
			prev, dup := seen[id]
			require.False(t, dup, "operationId %s used by %s and %s %s", id, prev, method, path)
			seen[id] = method + " " + path
		}
	}
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"/api/client/chat/start"`)
}

// schemaErrors checks a decoded JSON value against a schema of the document: $ref, oneOf,
// type (with null), enum, required properties, and the same for properties and items. It
// is the subset the document uses, enough to keep its response shapes honest.
func schemaErrors(doc map[string]any, s map[string]any, v any, at string) []string {
	if r, ok := s["$ref"].(string); ok {
		var cur any = doc
		for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		return schemaErrors(doc, cur.(map[string]any), v, at)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		var all []string
		for _, alt := range alts {
			errs := schemaErrors(doc, alt.(map[string]any), v, at)
			if len(errs) == 0 {
				return nil
			}
			all = append(all, errs...)
		}
		return []string{at + ": matches no alternative: " + strings.Join(all, "; ")}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			return []string{at + ": is " + jsonType(v) + ", documented " + strings.Join(types, "|")}
		}
	}
	if e, ok := s["enum"].([]any); ok && !slices.Contains(e, v) {
		return []string{at + ": " + fmt.Sprint(v) + " is not one of the documented values"}
	}
	var errs []string
	switch v := v.(type) {
	case map[string]any:
		req, _ := s["required"].([]any)
		for _, k := range req {
			if _, ok := v[k.(string)]; !ok {
				errs = append(errs, at+": required property "+k.(string)+" missing")
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, pv := range v {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, schemaErrors(doc, ps, pv, at+"."+k)...)
			} else if extra, ok := s["additionalProperties"].(map[string]any); ok {
				errs = append(errs, schemaErrors(doc, extra, pv, at+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range v {
				errs = append(errs, schemaErrors(doc, items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// responseSchemaErrors checks an answer against the document's schema for the route and
// status (nil when the document gives no JSON schema for it).
func responseSchemaErrors(doc map[string]any, r route, status int, body []byte) []string {
	op := doc["paths"].(map[string]any)[openAPIPath(r.Path)].(map[string]any)[strings.ToLower(r.Method)].(map[string]any)
	resp, ok := op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("status %d is not documented", status)}
	}
	if ref, ok := resp["$ref"].(string); ok {
		resp = doc["components"].(map[string]any)["responses"].(map[string]any)[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
	}
	content, _ := resp["content"].(map[string]any)
	js, ok := content["application/json"].(map[string]any)
	if !ok {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	return schemaErrors(doc, js["schema"].(map[string]any), v, "body")
}
