package main

// The reference apps (SPEC §28): the client app and the mitra app as web pages, served at
// /app/client/ and /app/mitra/ from files embedded in the binary, like the console — no
// build step, nothing fetched from another host, the same strict Content-Security-Policy.
// Each page signs in with its user's token and calls the public client or mitra routes
// and event stream, as a phone app would. A file of an app is looked up in its own folder
// (apps/client, apps/mitra), then in apps/common, which holds what both share (the API
// calls, the DOM helpers, the style sheet).

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

//go:embed apps/client/*.html apps/client/*.js apps/mitra/*.html apps/mitra/*.js apps/common/*.js apps/common/*.css apps/common/*.svg
var appFiles embed.FS

// The apps, by the name in their address.
var appNames = []string{"client", "mitra"}

// appAssets reads the embedded files once: app → file name → asset (an app's own files
// and the common ones it does not override).
var appAssets = sync.OnceValue(func() map[string]map[string]consoleAsset {
	read := func(dir string) map[string]consoleAsset {
		out := map[string]consoleAsset{}
		entries, _ := fs.ReadDir(appFiles, "apps/"+dir)
		for _, e := range entries {
			body, err := appFiles.ReadFile("apps/" + dir + "/" + e.Name())
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
	}
	common := read("common")
	all := map[string]map[string]consoleAsset{}
	for _, app := range appNames {
		files := read(app)
		for name, a := range common {
			if _, own := files[name]; !own {
				files[name] = a
			}
		}
		all[app] = files
	}
	return all
})

// appRoutes serves the two apps: the address without its slash redirects, the folder is
// the app's page, and the files beside it its scripts, style sheet and icon.
func (s *Server) appRoutes() {
	for _, app := range appNames {
		base := "/app/" + app
		s.handle("GET", base, rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
			http.Redirect(w, r, base+"/", http.StatusPermanentRedirect)
			return nil
		})
		s.handle("GET", base+"/{$}", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
			return serveAppFile(w, r, app, "index.html")
		})
		s.handle("GET", base+"/{file}", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
			return serveAppFile(w, r, app, r.PathValue("file"))
		})
	}
}

var errNoAppFile = newAPIError(http.StatusNotFound, "NOT_FOUND", "no such app file")

// serveAppFile answers one embedded file of app with the console's security headers and
// caching (a browser revalidates and gets 304 while the ETag holds).
func serveAppFile(w http.ResponseWriter, r *http.Request, app, name string) error {
	a, ok := appAssets()[app][name]
	if !ok {
		return errNoAppFile
	}
	return writeAsset(w, r, a)
}

// writeAsset answers one embedded file (of the console or an app) with the console's
// security headers. The files change only with the binary: a browser revalidates
// (no-cache) and gets 304 while the ETag holds.
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

// appURL is the address of app on a listener, as consoleURL finds the console's.
func appURL(addr net.Addr, app string) string {
	return strings.TrimSuffix(consoleURL(addr), "console/") + "app/" + app + "/"
}
