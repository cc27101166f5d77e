package main

// The reference apps (SPEC §28): the client app and the mitra app as web pages, served at
// /app/client/ and /app/mitra/ from files embedded in the binary, like the console — no
// build step, nothing fetched from another host, the same strict Content-Security-Policy.
// Each page signs in with its user's token and calls the public client or mitra routes
// and event stream, as a phone app would. A file of an app is looked up in its own folder
// (apps/client, apps/mitra), then in apps/common, which holds what both share (the page,
// the API calls, the screens, the chat, the style sheet). What the apps and the console
// share (the DOM and API helpers, the sign-in form, the base style sheet) they import
// from the console's files under /console/, served by the same binary.

import (
	"bytes"
	"embed"
	"html/template"
	"net"
	"net/http"
	"strings"
	"sync"
)

//go:embed apps/client/*.js apps/mitra/*.js apps/common/*.html apps/common/*.js apps/common/*.css apps/common/*.svg
var appFiles embed.FS

// The apps, by the name in their address.
var appNames = []string{"client", "mitra"}

// appPages holds the words each app's page (the template apps/common/index.html) differs
// in: the name after "curhat" in its title and header (none for the client's), and whose
// token it signs in with.
var appPages = map[string]struct{ Sub, Who string }{
	"client": {Sub: "", Who: "klien"},
	"mitra":  {Sub: "mitra", Who: "mitra"},
}

// appAssets reads the embedded files once: app → file name → asset (an app's own files,
// the common ones it does not override, and its page).
var appAssets = sync.OnceValue(func() map[string]map[string]consoleAsset {
	page := template.Must(template.ParseFS(appFiles, "apps/common/index.html"))
	common := readAssets(appFiles, "apps/common")
	all := map[string]map[string]consoleAsset{}
	for _, app := range appNames {
		files := readAssets(appFiles, "apps/"+app)
		for name, a := range common {
			if _, own := files[name]; !own {
				files[name] = a
			}
		}
		var html bytes.Buffer
		if err := page.Execute(&html, appPages[app]); err != nil {
			panic("apps/common/index.html: " + err.Error())
		}
		files["index.html"] = newAsset("index.html", html.Bytes())
		all[app] = files
	}
	return all
})

// appRoutes serves the two apps: the address without its slash redirects, the folder is
// the app's page, and the files beside it its scripts, style sheet and icon.
func (s *Server) appRoutes() {
	for _, app := range appNames {
		s.serveFiles("/app/"+app, func() map[string]consoleAsset { return appAssets()[app] }, errNoAppFile)
	}
}

var errNoAppFile = newAPIError(http.StatusNotFound, "NOT_FOUND", "no such app file")

// appURL is the address of app on a listener, as consoleURL finds the console's.
func appURL(addr net.Addr, app string) string {
	return strings.TrimSuffix(consoleURL(addr), "console/") + "app/" + app + "/"
}
