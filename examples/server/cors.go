package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORS for an operator console served from another origin (CORS_ALLOWED_ORIGINS). The
// console served by this server at /console/ is same-origin and needs none of it.
//
// A browser sends a preflight (OPTIONS with Access-Control-Request-Method) before any
// cross-origin PATCH, PUT or DELETE, and before any request with an Authorization header:
// a preflight answered without those methods or headers makes the browser drop the real
// request without telling the page why (the seed's console lost its settings edits that
// way). So the preflight names every method the API uses and every header it reads.

const (
	corsAllowMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsAllowHeaders = "Authorization, Content-Type, Idempotency-Key"
	// corsMaxAge lets a browser reuse a preflight answer for 10 minutes.
	corsMaxAge = "600"
)

// parseCORSOrigins reads CORS_ALLOWED_ORIGINS: comma-separated origins
// (scheme://host[:port], nothing after), empty for same origin only.
func parseCORSOrigins(v string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		o := strings.TrimSpace(part)
		if o == "" {
			continue
		}
		if o == "*" {
			return nil, fmt.Errorf("CORS_ALLOWED_ORIGINS: \"*\" is not accepted: list the origins of your console (https://cc.example.com)")
		}
		// A trailing slash is a common slip; anything else after the host is refused.
		u, err := url.Parse(strings.TrimSuffix(o, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin: want scheme://host[:port] with nothing after, such as https://cc.example.com", o)
		}
		// Browsers send the origin in lower case, without a default port.
		o = strings.ToLower(u.Scheme + "://" + u.Host)
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// cors answers a preflight from an allowed origin (true: nothing else to do) and adds the
// CORS headers to the answers of an allowed origin's requests. Other origins get no CORS
// header: the browser keeps their pages from reading the answers.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.app.cfg.CORSAllowedOrigins) == 0 {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if !slices.Contains(s.app.cfg.CORSAllowedOrigins, strings.ToLower(origin)) {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	// The request id names the request in the server's log: a console shows it with errors.
	h.Set("Access-Control-Expose-Headers", requestIDHeader)
	return false
}
