package main

// The operator console: plain HTML, CSS and JavaScript modules under console/,
// embedded in the binary and served at /console/ — no build step, nothing fetched from
// another host, so it works on a machine without internet. The page signs in with an
// operator token and calls the same /api/internal routes as curl would. The reference
// apps (apps.go) are served the same way (serveFiles), and import the console's shared
// modules (dom.js, http.js, signin.js, base.css) from /console/.

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
)

//go:embed console/*.html console/*.css console/*.js console/*.svg
var consoleFiles embed.FS

// consoleAssets reads the embedded files once: name → asset.
var consoleAssets = sync.OnceValue(func() map[string]consoleAsset {
	return readAssets(consoleFiles, "console")
})

// consoleSecurityHeaders are set on every console answer: scripts, styles, images and
// connections from this origin only (no inline script or style, so an injected string
// cannot run), no MIME sniffing, no Referer leaking the console's address, no framing.
var consoleSecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
}

// consoleRoutes serves the console and the operator routes written for it.
func (s *Server) consoleRoutes() {
	s.serveFiles("/console", consoleAssets, errNoConsoleFile)
	s.handle("GET", "/api/internal/mitras", roleViewer, s.listMitras)
	s.feed = newOperatorFeed(s.app)
	s.handle("GET", "/api/internal/events", roleViewer, s.operatorEvents)
}

var errNoConsoleFile = newAPIError(http.StatusNotFound, "NOT_FOUND", "no such console file")

// consoleAsset is one embedded file (of the console or an app), ready to serve.
type consoleAsset struct {
	body        []byte
	contentType string
	etag        string
}

// newAsset is body served as name: its type from the name's extension, its ETag from its
// content.
func newAsset(name string, body []byte) consoleAsset {
	sum := sha256.Sum256(body)
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return consoleAsset{body: body, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// readAssets reads the files of the folder dir of fsys: name → asset.
func readAssets(fsys fs.FS, dir string) map[string]consoleAsset {
	out := map[string]consoleAsset{}
	entries, _ := fs.ReadDir(fsys, dir)
	for _, e := range entries {
		body, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			continue
		}
		out[e.Name()] = newAsset(e.Name(), body)
	}
	return out
}

// serveFiles serves the embedded files of one page at base (the console, an app): base
// redirects to base+"/", which is the page (index.html), and base+"/{file}" is each file
// beside it; a name files lacks is notFound.
func (s *Server) serveFiles(base string, files func() map[string]consoleAsset, notFound error) {
	s.handle("GET", base, rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		http.Redirect(w, r, base+"/", http.StatusPermanentRedirect)
		return nil
	})
	serve := func(w http.ResponseWriter, r *http.Request, name string) error {
		a, ok := files()[name]
		if !ok {
			return notFound
		}
		return writeAsset(w, r, a)
	}
	s.handle("GET", base+"/{$}", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		return serve(w, r, "index.html")
	})
	s.handle("GET", base+"/{file}", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		return serve(w, r, r.PathValue("file"))
	})
}

// writeAsset answers one embedded file with the console's security headers. The files
// change only with the binary: a browser revalidates (no-cache) and gets 304 while the
// ETag holds.
func writeAsset(w http.ResponseWriter, r *http.Request, a consoleAsset) error {
	h := w.Header()
	for k, v := range consoleSecurityHeaders {
		h.Set(k, v)
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", a.contentType)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
	return nil
}

// etagMatches reads If-None-Match: a list of entity tags, or "*".
func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == etag || part == "*" {
			return true
		}
	}
	return false
}

// consoleURL is the console's address on a listener: localhost when the listener takes
// every interface or loopback, its own host otherwise.
func consoleURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://localhost:8080/console/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && (ip.IsUnspecified() || ip.IsLoopback())) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/console/"
}
