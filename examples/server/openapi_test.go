package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

// openAPIPath maps a net/http route pattern to an OpenAPI path template: "{name...}"
// becomes "{name}" and the end anchor "{$}" goes.
func openAPIPath(pattern string) string {
	p := strings.ReplaceAll(pattern, "{$}", "")
	return regexp.MustCompile(`\{([^}.]+)\.\.\.\}`).ReplaceAllString(p, "{$1}")
}

func TestOpenAPI_ServesTheEmbeddedDocument(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	r := ts.do("GET", "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, openAPIDocument, r.Raw)
	require.Equal(t, "3.1.0", r.Body["openapi"])
}

func TestOpenAPI_DocumentsEveryRegisteredRoute(t *testing.T) {
	t.Parallel()
	routes := routesOfEveryGateway(t)
	doc := mustContract(t).doc

	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	var registered []string
	for _, r := range routes {
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
	require.Empty(t, missing, "registered routes missing from openapi.json")
	require.Empty(t, extra, "documented routes that are not registered")
	require.Len(t, documented, len(routes), "a route is registered twice")
}

// Errors an operation can answer follow from what it takes: a token, a body, ids in the
// path, a query. The document lists them, each with the error envelope.
func TestOpenAPI_SecurityAndErrorsFollowTheRoutes(t *testing.T) {
	t.Parallel()
	doc := mustContract(t).doc
	for _, r := range routesOfEveryGateway(t) {
		op := doc.Paths.Find(openAPIPath(r.Path)).GetOperation(r.Method)
		name := r.Method + " " + r.Path
		require.NotNil(t, op.Security, "%s: security must be explicit", name)
		want := map[int]bool{}
		if isXenditCallback(r) {
			// No bearer token: Xendit's callback token instead.
			require.Equal(t, openapi3.SecurityRequirements{{"xenditCallbackToken": []string{}}}, *op.Security, name)
			require.Equal(t, []string{"xendit"}, op.Tags, name)
			want[401] = true
		} else if r.Role == rolePublic {
			require.Empty(t, *op.Security, "%s is public", name)
		} else if r.Role.operator() {
			// One scheme for every operator; the least role it needs in x-curhat-role.
			require.Equal(t, openapi3.SecurityRequirements{{"operator": []string{}}}, *op.Security, name)
			require.Equal(t, []string{"operator"}, op.Tags, name)
			require.Equal(t, r.Role.String(), op.Extensions["x-curhat-role"], "%s: x-curhat-role", name)
			want[401], want[403], want[503] = true, true, true
		} else {
			require.Equal(t, openapi3.SecurityRequirements{{r.Role.String(): []string{}}}, *op.Security, name)
			require.Equal(t, []string{r.Role.String()}, op.Tags, name)
			want[401], want[403], want[503] = true, true, true
		}
		if op.RequestBody != nil {
			want[400], want[408], want[413] = true, true, true
		}
		for _, p := range op.Parameters {
			switch p.Value.In {
			case "path":
				want[400] = true
				if p.Value.Schema.Value.Format == "uuid" {
					want[404] = true
				}
			case "query":
				want[400] = true
			}
		}
		for status := range want {
			resp := op.Responses.Status(status)
			require.NotNil(t, resp, "%s: %d is not documented", name, status)
			if status == http.StatusNotFound && r.Path == "/metrics" {
				continue
			}
			schema := resp.Value.Content.Get("application/json")
			require.NotNil(t, schema, "%s: %d without a JSON body", name, status)
			require.Equal(t, "#/components/schemas/Error", schema.Schema.Ref, "%s: %d is not the error envelope", name, status)
		}
		for code, resp := range op.Responses.Map() {
			n, err := strconv.Atoi(code)
			require.NoError(t, err, "%s: response %q: statuses only, no default", name, code)
			if n >= 400 {
				require.NotNil(t, resp.Value.Content.Get("application/json"), "%s: %d must have the error envelope", name, n)
			}
		}
	}
}

// Generators name types and functions after operationIds and schema names: operationIds
// are lowerCamelCase words, and no schema is named like what oapi-codegen generates.
func TestOpenAPI_NamesSuitGenerators(t *testing.T) {
	t.Parallel()
	doc := mustContract(t).doc
	camel := regexp.MustCompile(`^[a-z][a-zA-Z]*$`)
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			require.Regexp(t, camel, op.OperationID, "%s %s", method, path)
			prev, dup := seen[op.OperationID]
			require.False(t, dup, "operationId %s used by %s and %s %s", op.OperationID, prev, method, path)
			seen[op.OperationID] = method + " " + path
		}
	}
	reserved := []string{"Client", "ClientInterface", "ClientOption", "ClientWithResponses", "ClientWithResponsesInterface",
		"HttpRequestDoer", "RequestEditorFn", "ServerInterface"}
	for name := range doc.Components.Schemas {
		require.NotContains(t, reserved, name, "schema %s collides with a generated type", name)
		for id := range seen {
			exported := strings.ToUpper(id[:1]) + id[1:]
			for _, suffix := range []string{"Params", "JSONBody", "JSONRequestBody", "Response", "FormdataBody"} {
				require.NotEqual(t, exported+suffix, name, "schema %s collides with what oapi-codegen generates for %s", name, id)
			}
		}
	}
}

// Nullable values are written the 3.1 way, enums never hold null, and money is int64.
func TestOpenAPI_NullablesEnumsAndMoney(t *testing.T) {
	t.Parallel()
	var doc any
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			require.NotContains(t, v, "nullable", "%s: nullable is OpenAPI 3.0; use type: [T, \"null\"]", at)
			if e, ok := v["enum"].([]any); ok {
				require.NotContains(t, e, nil, "%s: null inside an enum; use oneOf [the enum, {type: null}]", at)
			}
			for k, e := range v {
				if moneyProperties[k] && strings.HasSuffix(at, "/properties") {
					require.Equal(t, "int64", moneyFormat(e), "%s/%s: money is int64", at, k)
				}
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range v {
				walk(e, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")
}

var moneyProperties = map[string]bool{"price": true, "amount": true, "base_amount": true, "discount_amount": true,
	"refunded_amount": true, "max_discount_amount": true, "discounted_price": true}

// moneyFormat returns the format of an integer schema, looking through a 3.1 nullable.
func moneyFormat(s any) string {
	m, _ := s.(map[string]any)
	if f, ok := m["format"].(string); ok {
		return f
	}
	if alts, ok := m["oneOf"].([]any); ok {
		for _, a := range alts {
			if f := moneyFormat(a); f != "" {
				return f
			}
		}
	}
	return ""
}
