package main

import (
	"io/fs"
	"net"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestConsole_ServesEmbeddedFilesWithSecurityHeaders(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		page := ts.do("GET", "/console/", "", nil)
		require.Equal(t, http.StatusOK, page.Status)
		require.Equal(t, "text/html; charset=utf-8", page.Header.Get("Content-Type"))
		require.Contains(t, string(page.Raw), `<label for="token">Operator token</label>`)
		requireConsoleHeaders(t, page.Header)

		// Every embedded file, with a type a browser runs or renders under nosniff.
		types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
			".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
		names, err := fs.Glob(consoleFiles, "console/*")
		require.NoError(t, err)
		require.NotEmpty(t, names)
		for _, name := range names {
			r := ts.do("GET", "/"+name, "", nil)
			require.Equal(t, http.StatusOK, r.Status, name)
			require.Equal(t, types[path.Ext(name)], r.Header.Get("Content-Type"), name)
			requireConsoleHeaders(t, r.Header)
			want, err := consoleFiles.ReadFile(name)
			require.NoError(t, err)
			require.Equal(t, want, r.Raw, name)

			// A browser that has the file revalidates it and gets 304.
			req, err := http.NewRequest("GET", ts.http.URL+"/"+name, nil)
			require.NoError(t, err)
			req.Header.Set("If-None-Match", r.Header.Get("ETag"))
			resp, err := ts.http.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusNotModified, resp.StatusCode, name)
		}

		missing := ts.do("GET", "/console/nope.js", "", nil)
		require.Equal(t, http.StatusNotFound, missing.Status)
		require.Equal(t, "NOT_FOUND", missing.ErrorCode())

		// /console is /console/.
		client := *ts.http.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Get(ts.http.URL + "/console")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusPermanentRedirect, resp.StatusCode)
		require.Equal(t, "/console/", resp.Header.Get("Location"))
	})
}

func requireConsoleHeaders(t *testing.T, h http.Header) {
	t.Helper()
	require.Equal(t, "default-src 'self'", h.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.NotEmpty(t, h.Get("ETag"))
	require.Equal(t, "no-cache", h.Get("Cache-Control"))
}

// The page runs under default-src 'self': an inline script or style would be refused, so
// there must be none; nothing is loaded from elsewhere; API data goes in as text.
func TestConsole_FilesNeedNoInlineCodeNoOtherHostAndInsertNoHTML(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(consoleFiles, "console/*")
	require.NoError(t, err)
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	for _, name := range names {
		raw, err := consoleFiles.ReadFile(name)
		require.NoError(t, err)
		src := string(raw)
		// (The SVG namespace is a name, not an address.)
		require.NotRegexp(t, `https?://`, strings.ReplaceAll(src, `xmlns="http://www.w3.org/2000/svg"`, ""),
			"%s loads or links something from another host", name)
		switch path.Ext(name) {
		case ".html":
			require.NotRegexp(t, inlineScript, src, "%s: inline script", name)
			require.NotRegexp(t, `\sstyle=`, src, "%s: inline style", name)
			require.NotRegexp(t, `\son[a-z]+=`, src, "%s: inline event handler", name)
			require.NotContains(t, src, "<style", "%s: inline style sheet", name)
		case ".js":
			for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", `setAttribute("style"`, ".style."} {
				require.NotContains(t, src, sink, "%s uses %s: API data must go in as text", name, sink)
			}
			require.NotContains(t, src, "localStorage.setItem", "%s: the token stays in sessionStorage", name)
			require.NotContains(t, src, "document.cookie", "%s: no cookie", name)
			require.NotContains(t, src, "console.log", "%s: nothing logged (the token must never be)", name)
			require.NotContains(t, src, "location.search", "%s: the page's address must not choose where the token goes", name)
		}
	}
}

func TestConsole_AddressPrintedAtStart(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"[::]:8080":         "http://localhost:8080/console/",
		"0.0.0.0:9000":      "http://localhost:9000/console/",
		"127.0.0.1:8081":    "http://localhost:8081/console/",
		"192.168.1.20:8080": "http://192.168.1.20:8080/console/",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		require.NoError(t, err)
		require.Equal(t, want, consoleURL(tcp), addr)
	}
}

// mitraRows lists GET /api/internal/mitras with query, as name → row.
func mitraRows(t *testing.T, ts *testServer, query string) (names []string, rows map[string]map[string]any, total float64) {
	t.Helper()
	list := ts.must(200, "GET", "/api/internal/mitras"+query, ts.op, nil)
	rows = map[string]map[string]any{}
	for _, it := range list["items"].([]any) {
		row := it.(map[string]any)
		names = append(names, row["display_name"].(string))
		rows[row["display_name"].(string)] = row
	}
	return names, rows, list["total"].(float64)
}

func TestConsole_MitraListSearchesFiltersPagesAndValidates(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		ayu := ts.must(201, "POST", "/api/internal/mitras", ts.op, map[string]any{"display_name": "Ayu", "max_concurrent_sessions": 3})
		_, bimaTok := ts.newMitra("Bima")
		citra, _ := ts.newMitra("Citra")
		ts.must(200, "POST", "/api/mitra/status/online", bimaTok, nil)
		ts.must(200, "PATCH", "/api/internal/mitras/"+citra.String()+"/status", ts.op, map[string]any{"is_active": false})

		names, rows, total := mitraRows(t, ts, "")
		require.Equal(t, []string{"Citra", "Bima", "Ayu"}, names, "newest first")
		require.Equal(t, float64(3), total)
		require.Equal(t, map[string]any{"id": ayu["id"], "display_name": "Ayu", "is_active": true, "online": false, "reachable": false,
			"active_sessions": float64(0), "max_concurrent_sessions": float64(3), "created_at": ayu["created_at"],
			"away_reason": nil, "device_count": float64(0), "rating": float64(4), "ratings_count": float64(0)}, rows["Ayu"])
		require.Equal(t, true, rows["Bima"]["online"])
		require.Equal(t, float64(1), rows["Bima"]["device_count"], "its default device's lease")
		require.Equal(t, true, rows["Bima"]["reachable"])
		require.Equal(t, float64(1), rows["Bima"]["max_concurrent_sessions"], "the default of the config")
		require.Equal(t, false, rows["Citra"]["is_active"])

		// A session takes Bima's slot.
		_, clientTok := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		require.Equal(t, 200, ts.webhook(start["payment"].(map[string]any)["id"], "paid").Status)
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+start["pairing"].(map[string]any)["id"].(string)+"/accept", bimaTok, nil)
		_, rows, _ = mitraRows(t, ts, "?online=true")
		require.Equal(t, float64(1), rows["Bima"]["active_sessions"])
		d := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
		require.Equal(t, float64(1), d["busy_count"])
		require.Equal(t, float64(0), d["available_count"])

		for query, want := range map[string][]string{
			"?q=IM":                        {"Bima"},
			"?q=" + citra.String():         {"Citra"},
			"?q=%25":                       nil,
			"?online=true":                 {"Bima"},
			"?online=false":                {"Citra", "Ayu"},
			"?is_active=false":             {"Citra"},
			"?is_active=true&online=false": {"Ayu"},
			"?page_size=1&page=2":          {"Bima"},
			"?page_size=2&page=3":          nil,
		} {
			names, _, total := mitraRows(t, ts, query)
			require.Equal(t, want, names, query)
			if strings.Contains(query, "page=") {
				require.Equal(t, float64(3), total, "%s: the total counts every match", query)
			}
		}

		// Reachability is the mirror's: a heartbeat gone stale, while Bima is still
		// online until the auto-offline sweep runs.
		ts.clock.Advance(ts.app.cfg.HeartbeatStale + time.Second)
		_, rows, _ = mitraRows(t, ts, "?q=Bima")
		require.Equal(t, true, rows["Bima"]["online"])
		require.Equal(t, false, rows["Bima"]["reachable"])

		for query, field := range map[string]string{
			"?is_active=yes":                 "is_active",
			"?online=1":                      "online",
			"?page=0":                        "page",
			"?page=x":                        "page",
			"?page_size=101":                 "page_size",
			"?q=" + strings.Repeat("a", 201): "q",
			"?q=%00":                         "q",
		} {
			r := ts.do("GET", "/api/internal/mitras"+query, ts.op, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", query, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode(), query)
			require.Equal(t, field, r.errorField(), query)
		}
	})
}

func TestConsole_OperatorEventsCarryTheDashboardAndNewFailures(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		url := ts.http.URL + "/api/internal/events"
		_, clientTok := ts.newClient("Dewi")
		_, r := tryStream(t, ts.http.Client(), url, clientTok)
		require.Equal(t, http.StatusForbidden, r.Status)

		s := openStream(t, ts.http.Client(), url, ts.op)
		// A stream that opens is told the dashboard at once.
		s.requireEvent(t, 10*time.Second, `"kind":"dashboard"`)

		_, mitraTok := ts.newMitra("Ayu")
		ts.must(200, "POST", "/api/mitra/status/online", mitraTok, nil)
		s.requireEvent(t, 10*time.Second, `"online_count":1`)
		ts.must(200, "POST", "/api/mitra/status/offline", mitraTok, nil)
		s.requireEvent(t, 10*time.Second, `"online_count":0`)

		// A paid blast finds nobody: its failure row is sent.
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		require.Equal(t, 200, ts.webhook(start["payment"].(map[string]any)["id"], "paid").Status)
		pairingID := start["pairing"].(map[string]any)["id"].(string)
		s.requireEvent(t, 10*time.Second, `"pairing_id":"`+pairingID+`"`)

		// The watcher stops when the last operator stream closes, and starts again.
		s.stop()
		require.Eventually(t, func() bool {
			ts.srv.feed.mu.Lock()
			defer ts.srv.feed.mu.Unlock()
			return !ts.srv.feed.running
		}, 10*time.Second, 20*time.Millisecond)
		again := openStream(t, ts.http.Client(), url, ts.op)
		again.requireEvent(t, 10*time.Second, `"kind":"dashboard"`)
	})
}

func TestCORS_PreflightFromAnAllowedOriginNamesEveryMethodAndHeader(t *testing.T) {
	t.Parallel()
	const allowed, other = "https://cc.example.com", "https://evil.example.com"
	ts := newTestServer(t, memoryBackend, func(c *Config) { c.CORSAllowedOrigins = []string{allowed, "http://localhost:5173"} })
	preflight := func(origin, method string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, ts.http.URL+"/api/internal/pricing/tiers/"+uuid.NewString(), nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := ts.http.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	for _, method := range []string{"PATCH", "PUT", "DELETE", "POST", "GET"} {
		resp := preflight(allowed, method)
		require.Equal(t, http.StatusNoContent, resp.StatusCode, method)
		require.Equal(t, allowed, resp.Header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "GET, POST, PUT, PATCH, DELETE, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"))
		require.Equal(t, "Authorization, Content-Type, Idempotency-Key", resp.Header.Get("Access-Control-Allow-Headers"))
		require.Contains(t, resp.Header.Values("Vary"), "Origin")
	}

	// Another origin gets no CORS header: the browser stops its page there.
	resp := preflight(other, "PATCH")
	require.NotEqual(t, http.StatusNoContent, resp.StatusCode)
	for k := range resp.Header {
		require.False(t, strings.HasPrefix(k, "Access-Control-"), "header %s for another origin", k)
	}

	// The real request of an allowed origin may be read by its page.
	req, err := http.NewRequest("GET", ts.http.URL+"/api/internal/dashboard", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", allowed)
	req.Header.Set("Authorization", "Bearer "+ts.op)
	resp, err = ts.http.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, allowed, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "X-Request-Id", resp.Header.Get("Access-Control-Expose-Headers"))
	req.Header.Set("Origin", other)
	resp, err = ts.http.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestCORS_NoOriginAllowedByDefault(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	require.Empty(t, ts.app.cfg.CORSAllowedOrigins)
	req, err := http.NewRequest(http.MethodOptions, ts.http.URL+"/api/internal/dashboard", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", ts.http.URL)
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := ts.http.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Methods"))
}

func TestConfig_CORSAllowedOrigins(t *testing.T) {
	t.Parallel()
	for v, want := range map[string][]string{
		"":                       nil,
		" , ":                    nil,
		"https://cc.example.com": {"https://cc.example.com"},
		"https://CC.Example.com/, http://localhost:5173": {"https://cc.example.com", "http://localhost:5173"},
		"http://127.0.0.1:8080,http://127.0.0.1:8080":    {"http://127.0.0.1:8080"},
	} {
		cfg, err := configFromEnv(envOf(map[string]string{"CORS_ALLOWED_ORIGINS": v}))
		require.NoError(t, err, v)
		require.Equal(t, want, cfg.CORSAllowedOrigins, v)
	}
	for _, v := range []string{"*", "cc.example.com", "https://cc.example.com/console", "ftp://cc.example.com",
		"https://cc.example.com?x=1", "https://user@cc.example.com", "https://"} {
		_, err := configFromEnv(envOf(map[string]string{"CORS_ALLOWED_ORIGINS": v}))
		require.ErrorContains(t, err, "CORS_ALLOWED_ORIGINS", v)
	}
}
