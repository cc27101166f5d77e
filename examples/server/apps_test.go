package main

import (
	"bytes"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The apps' pages are served from the binary like the console: the strict
// Content-Security-Policy on every file, revalidated by ETag, each app's own files and the
// common ones, nothing else.
func TestApps_ServedFromTheBinaryWithTheConsolesSecurityHeaders(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, app := range []struct{ name, label string }{{"client", "Token klien"}, {"mitra", "Token mitra"}} {
		resp, err := noRedirect.Get(ts.http.URL + "/app/" + app.name)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusPermanentRedirect, resp.StatusCode)
		require.Equal(t, "/app/"+app.name+"/", resp.Header.Get("Location"))

		page := ts.do("GET", "/app/"+app.name+"/", "", nil)
		require.Equal(t, http.StatusOK, page.Status)
		require.Equal(t, "text/html; charset=utf-8", page.Header.Get("Content-Type"))
		require.Contains(t, string(page.Raw), app.label)
		require.Contains(t, string(page.Raw), `<html lang="id">`)
		for k, v := range consoleSecurityHeaders {
			require.Equal(t, v, page.Header.Get(k), "%s of the %s app", k, app.name)
		}
		// Nothing inline for the CSP to refuse, nothing from another host.
		require.NotRegexp(t, `<script>|<style>|\sstyle="|\son[a-z]+="|https?://`, string(page.Raw))

		// Every file the page and its modules load is served.
		for _, f := range []string{"app.js", "api.js", "ui.js", "chat.js", "shell.js", "app.css", "favicon.svg"} {
			r := ts.do("GET", "/app/"+app.name+"/"+f, "", nil)
			require.Equal(t, http.StatusOK, r.Status, "%s/%s", app.name, f)
			require.Equal(t, "default-src 'self'", r.Header.Get("Content-Security-Policy"))
			etag := r.Header.Get("ETag")
			again := ts.doWith("GET", "/app/"+app.name+"/"+f, "", nil, "If-None-Match", etag)
			require.Equal(t, http.StatusNotModified, again.Status, "%s/%s revalidated", app.name, f)
		}
		missing := ts.do("GET", "/app/"+app.name+"/nope.js", "", nil)
		require.Equal(t, http.StatusNotFound, missing.Status)
		require.Equal(t, "NOT_FOUND", missing.ErrorCode())
	}
	client := ts.do("GET", "/app/client/app.js", "", nil)
	mitra := ts.do("GET", "/app/mitra/app.js", "", nil)
	require.NotEqual(t, client.Raw, mitra.Raw, "each app its own app.js")
	require.Equal(t, ts.do("GET", "/app/client/api.js", "", nil).Raw, ts.do("GET", "/app/mitra/api.js", "", nil).Raw, "api.js is common")
	require.Equal(t, http.StatusNotFound, ts.do("GET", "/app/operator/", "", nil).Status)
}

// Text from the API reaches the apps' pages as text only: no script writes HTML.
func TestApps_ScriptsNeverInsertHTML(t *testing.T) {
	t.Parallel()
	html := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`)
	for app, files := range appAssets() {
		for name, a := range files {
			if strings.HasSuffix(name, ".js") {
				require.NotRegexp(t, html, string(a.body), "%s/%s", app, name)
			}
		}
	}
}

// The banner says where the two apps are, with a demo token for each to paste.
func TestBanner_PrintsTheAppsWithTokensToPaste(t *testing.T) {
	t.Parallel()
	tcp, err := net.ResolveTCPAddr("tcp", "[::]:8080")
	require.NoError(t, err)
	var out strings.Builder
	printApps(&out, tcp, appLogins{})
	require.Equal(t, "client app: http://localhost:8080/app/client/ (sign in with a client token)\n"+
		"mitra app: http://localhost:8080/app/mitra/ (sign in with a mitra token)\n", out.String())

	out.Reset()
	printApps(&out, tcp, appLogins{Client: "ctok", ClientName: "Client Dewi", Mitra: "mtok", MitraName: "Bestie Citra"})
	require.Equal(t, "client app: http://localhost:8080/app/client/ (Token klien, Client Dewi: ctok)\n"+
		"mitra app: http://localhost:8080/app/mitra/ (Token mitra, Bestie Citra: mtok)\n", out.String())
}

// The demo's tokens for the apps work there: the client's on the client routes, the
// mitra's (a mitra the server never plays) on the mitra routes.
func TestDemo_TheBannersTokensSignInToTheApps(t *testing.T) {
	t.Parallel()
	ts, _ := demoServer(t, DemoMitrasAuto)
	logins := ts.app.demoLogins
	require.Equal(t, "Client Dewi", logins.ClientName)
	require.Equal(t, "Bestie Citra", logins.MitraName)
	ts.must(200, "GET", "/api/client/mitra-availability", logins.Client, nil)
	require.Equal(t, false, ts.must(200, "GET", "/api/mitra/status", logins.Mitra, nil)["online"], "not played: offline until its app goes online")
}

// With DEMO_MITRAS=auto the client app alone plays the whole product: a demo mitra accepts
// the chat and answers the client's messages, once per message the client sent last.
func TestDemo_MitrasAnswerTheClientsMessages(t *testing.T) {
	t.Parallel()
	ts, _ := demoServer(t, DemoMitrasAuto)
	tok := ts.app.demoLogins.Client
	start := ts.must(201, "POST", "/api/client/chat/start", tok, map[string]any{"minutes": 30})
	status, _, page := ts.checkout(obj(start, "payment")["checkout_url"].(string), "paid")
	require.Equal(t, 200, status, page)
	var sid string
	require.Eventually(t, func() bool {
		got := ts.must(200, "GET", "/api/client/pairings/"+obj(start, "pairing")["id"].(string), tok, nil)
		cs := obj(got, "chat_session")
		if cs == nil || cs["status"] != "active" {
			return false
		}
		sid = cs["id"].(string)
		return true
	}, 5*time.Second, 10*time.Millisecond, "a demo mitra accepts")

	path := "/api/client/chat-sessions/" + sid + "/messages"
	ts.must(201, "POST", path, tok, map[string]any{"text": "Halo", "client_msg_id": "m1"})
	mitraMessages := func() []string {
		var out []string
		for _, it := range ts.must(200, "GET", path, tok, nil)["items"].([]any) {
			if m := it.(map[string]any); m["sender"] == "mitra" {
				out = append(out, m["text"].(string))
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(mitraMessages()) == 1 }, 5*time.Second, 10*time.Millisecond, "the demo mitra answers")
	require.Contains(t, demoReplies, mitraMessages()[0])
	ts.must(201, "POST", path, tok, map[string]any{"text": "Aku capek", "client_msg_id": "m2"})
	require.Eventually(t, func() bool { return len(mitraMessages()) == 2 }, 5*time.Second, 10*time.Millisecond, "and again")

	var buf bytes.Buffer
	printApps(&buf, ts.http.Listener.Addr(), ts.app.demoLogins)
	require.Contains(t, buf.String(), "/app/client/ (Token klien, Client Dewi: "+tok+")")
}
