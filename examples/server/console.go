package main

// The operator console: plain HTML, CSS and JavaScript modules under console/,
// embedded in the binary and served at /console/ — no build step, nothing fetched from
// another host, so it works on a machine without internet. The page signs in with an
// operator token and calls the same /api/internal routes as curl would.

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

// consoleAsset is one embedded file, ready to serve.
type consoleAsset struct {
	body        []byte
	contentType string
	etag        string
}

// consoleAssets reads the embedded files once: name → asset.
var consoleAssets = sync.OnceValue(func() map[string]consoleAsset {
	out := map[string]consoleAsset{}
	entries, _ := fs.ReadDir(consoleFiles, "console")
	for _, e := range entries {
		body, err := consoleFiles.ReadFile("console/" + e.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[e.Name()] = consoleAsset{body: body, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out
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
	s.handle("GET", "/console", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		http.Redirect(w, r, "/console/", http.StatusPermanentRedirect)
		return nil
	})
	s.handle("GET", "/console/{$}", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		return serveConsoleFile(w, r, "index.html")
	})
	s.handle("GET", "/console/{file}", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		return serveConsoleFile(w, r, r.PathValue("file"))
	})
	s.handle("GET", "/api/internal/mitras", roleViewer, s.listMitras)
	s.feed = newOperatorFeed(s.app)
	s.handle("GET", "/api/internal/events", roleViewer, s.operatorEvents)
}

var errNoConsoleFile = newAPIError(http.StatusNotFound, "NOT_FOUND", "no such console file")

// serveConsoleFile answers one embedded file of the console (writeAsset).
func serveConsoleFile(w http.ResponseWriter, r *http.Request, name string) error {
	a, ok := consoleAssets()[name]
	if !ok {
		return errNoConsoleFile
	}
	return writeAsset(w, r, a)
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
