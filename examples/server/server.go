package main

// Developer note — adding routes:
//   1. Put the handlers of a domain in routes_<domain>.go as methods of *Server, plus one
//      method `func (s *Server) <domain>Routes()` that calls s.handle(...) for each route.
//   2. Add that method to the list in registerRoutes below (one line).
//   3. Handlers have the signature handlerFunc: return an error instead of writing one;
//      toAPIError (httpx.go) maps it — add a row to errorTable for a new domain error.
//   4. Decode bodies with decodeJSON, parse ids with pathID / bodyID, answer with writeJSON.
// Every route is declared with the role allowed to call it; the route table (s.routes) is
// what the authorization tests walk.

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// role is who may call a route.
type role uint8

const (
	rolePublic   role = iota // no token (health, webhook with its own signature)
	roleOperator             // /api/internal
	roleClient               // /api/client
	roleMitra                // /api/mitra
)

func (r role) String() string {
	return [...]string{"public", "operator", "client", "mitra"}[r]
}

// handlerFunc handles an authenticated request; a returned error is written by the server.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c caller) error

// route is one entry of the route table.
type route struct {
	Method, Path string
	Role         role
}

// Server is the reference HTTP API over an App.
type Server struct {
	app    *App
	mux    *http.ServeMux
	routes []route
	log    *slog.Logger

	beaconBody atomic.Pointer[encodedBeacon] // the last beacon answer, encoded
}

// NewServer builds the HTTP handler for app.
func NewServer(app *App) *Server {
	s := &Server{app: app, mux: http.NewServeMux(), log: app.log}
	s.registerRoutes()
	return s
}

func (s *Server) registerRoutes() {
	s.healthRoutes()
	s.internalRoutes()
	s.availabilityRoutes()
	s.webhookRoutes()
	s.chatRoutes()
	s.refundRoutes()
	s.pricingRoutes()
	s.metricsRoutes()
	s.openAPIRoutes()
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle registers method+path for callers of role.
func (s *Server) handle(method, path string, who role, h handlerFunc) {
	s.routes = append(s.routes, route{Method: method, Path: path, Role: who})
	pattern := method + " " + path
	done := requestTimer(s.app.hooks, pattern) // the route's series, resolved once
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeError(w, r, s.log, fmt.Errorf("panic: %v", p))
			}
			done(time.Since(start))
		}()
		c, err := s.authorize(r, who)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := h(w, r, c); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// roleSubjects is the kind of subject each role admits.
var roleSubjects = [...]SubjectKind{roleOperator: SubjectOperator, roleClient: SubjectClient, roleMitra: SubjectMitra}

// authorize checks the bearer token against the route's role.
func (s *Server) authorize(r *http.Request, who role) (caller, error) {
	if who == rolePublic {
		return caller{}, nil
	}
	c, err := s.app.auth.verify(r.Context(), bearer(r))
	if err != nil {
		return caller{}, err
	}
	if c.Kind != roleSubjects[who] {
		return caller{}, errForbidden
	}
	return c, nil
}

func (s *Server) healthRoutes() {
	s.handle("GET", "/healthz", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	s.handle("GET", "/readyz", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		pg, vk := s.app.readiness(r.Context())
		status := http.StatusOK
		if pg == "down" {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]string{"postgres": pg, "valkey": vk})
		return nil
	})
}
