package main

// Developer note — adding routes:
//   1. Put the handlers of a domain in routes_<domain>.go as methods of *Server, plus one
//      method `func (s *Server) <domain>Routes()` that calls s.handle(...) for each route.
//   2. Add that method to the list in registerRoutes below (one line).
//   3. Handlers have the signature handlerFunc: return an error instead of writing one;
//      toAPIError (httpx.go) maps it — add a row to errorTable for a new domain error. The
//      answer's message is the row's fixed sentence; the error itself goes to the log
//      under the request's X-Request-Id.
//   4. Decode bodies with decodeJSON (jsonbody.go), parse ids with pathID / bodyID, answer
//      with writeJSON.
// Every route is declared with the role allowed to call it; the route table (s.routes) is
// what the authorization tests walk.

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// role is who may call a route. The operator roles are ranked: a route of roleSupport
// admits support operators and admins (SPEC §24).
type role uint8

const (
	rolePublic  role = iota // no token (health, webhooks and callbacks with their own signature or token)
	roleClient              // /api/client
	roleMitra               // /api/mitra
	roleViewer              // /api/internal, reading
	roleSupport             // /api/internal, the day-to-day writes
	roleAdmin               // /api/internal, everything: pricing, config, operators, payouts
)

func (r role) String() string {
	return [...]string{"public", "client", "mitra", "viewer", "support", "admin"}[r]
}

// operator reports whether r is one of the operator roles.
func (r role) operator() bool { return r >= roleViewer }

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
	ids    requestIDs

	beaconBody atomic.Pointer[encodedBeacon] // the last beacon answer, encoded
	feed       *operatorFeed                 // what the operators' event streams are told (console_feed.go)
}

// NewServer builds the HTTP handler for app.
func NewServer(app *App) *Server {
	s := &Server{app: app, mux: http.NewServeMux(), log: app.log}
	s.registerRoutes()
	// Whatever no route matches: the JSON error envelope instead of the mux's plain text.
	s.mux.Handle("/", s.wrap("unmatched", rolePublic, s.noRoute))
	return s
}

func (s *Server) registerRoutes() {
	s.healthRoutes()
	s.internalRoutes()
	s.availabilityRoutes()
	s.chatRoutes()
	s.sessionExtensionRoutes()
	s.messageRoutes()
	s.safetyRoutes()
	s.reportRoutes()
	s.blockRoutes()
	s.ratingRoutes()
	s.clientDataRoutes()
	s.refundRoutes()
	s.paymentOpsRoutes()
	s.earningsRoutes()
	s.payoutRoutes()
	s.pricingRoutes()
	s.tokenRoutes()
	s.operatorRoutes()
	s.auditRoutes()
	s.statsRoutes()
	s.workRoutes()
	if s.app.fakeGateway != nil {
		s.fakeGatewayRoutes() // its checkout page, its webhook: only while it is in use
	}
	if s.app.xendit != nil {
		s.xenditRoutes() // its callbacks: only while it is in use
	}
	if s.app.cfg.MetricsAddr == "" {
		s.metricsRoutes()
	}
	s.openAPIRoutes()
	s.consoleRoutes()
	s.clientHistoryRoutes()
	s.appRoutes()
}

// ServeHTTP names the request (X-Request-Id, on every answer and in the log lines about it)
// and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()[requestIDHeader] = s.ids.next()
	if s.cors(w, r) {
		return // a preflight, answered
	}
	s.mux.ServeHTTP(w, r)
}

// handle registers method+path for callers of role.
func (s *Server) handle(method, path string, who role, h handlerFunc) {
	s.routes = append(s.routes, route{Method: method, Path: path, Role: who})
	pattern := method + " " + path
	s.mux.Handle(pattern, s.wrap(pattern, who, h))
}

// wrap is what every route runs: the role check, the handler, its error answer, a panic
// turned into a 500, and the route's metrics by status class.
func (s *Server) wrap(name string, who role, h handlerFunc) http.HandlerFunc {
	done := requestTimer(s.app.hooks, name) // the route's series, resolved once
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := newStatusWriter(w)
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(r.Context(), "handler panic", "request_id", w.Header().Get(requestIDHeader),
					"method", r.Method, "route", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeError(sw, r, s.log, fmt.Errorf("panic: %v", p))
			}
			done(sw.status, time.Since(start))
			sw.release()
		}()
		c, err := s.authorize(r, who)
		if err != nil {
			writeError(sw, r, s.log, err)
			return
		}
		if who.operator() && r.Method != http.MethodGet {
			c.audited = &auditMark{}
		}
		if err := h(sw, r, c); err != nil {
			writeError(sw, r, s.log, err)
			return
		}
		if c.audited != nil && !c.audited.recorded && sw.status/100 == 2 {
			s.log.ErrorContext(r.Context(), "operator write answered without an audit row",
				"request_id", w.Header().Get(requestIDHeader), "route", name, "operator_id", c.ID)
		}
	}
}

// noRoute answers what no route matches: 405 with Allow when the path exists for other
// methods, 404 otherwise.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request, _ caller) error {
	var allow []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return errNoRoute
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return errMethodNotAllowed
}

// statusWriter remembers the status a handler answered, for the request metrics. It is
// pooled: the hot paths allocate nothing for it. Unwrap lets http.ResponseController reach
// the connection (event streams clear their read deadline through it).
type statusWriter struct {
	http.ResponseWriter
	status int
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func newStatusWriter(w http.ResponseWriter) *statusWriter {
	sw := statusWriters.Get().(*statusWriter)
	sw.ResponseWriter, sw.status = w, 0
	return sw
}

// release returns the writer to the pool; the handler has returned.
func (w *statusWriter) release() {
	w.ResponseWriter = nil
	statusWriters.Put(w)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// authorize checks the bearer token against the route's role.
func (s *Server) authorize(r *http.Request, who role) (caller, error) {
	if who == rolePublic {
		return caller{}, nil
	}
	c, err := s.app.auth.verify(r.Context(), bearer(r))
	if err != nil {
		return caller{}, err
	}
	switch {
	case who.operator() && c.Kind == SubjectOperator:
		if c.Role < who {
			return caller{}, errNeedsRole(who, c.Role)
		}
	case who == roleClient && c.Kind == SubjectClient, who == roleMitra && c.Kind == SubjectMitra:
	default:
		return caller{}, errForbidden
	}
	return c, nil
}

// errNeedsRole refuses an operator whose role is below the one a request needs, saying
// which role it needs and which one the operator has.
func errNeedsRole(need, have role) *apiError {
	e := newAPIError(http.StatusForbidden, "FORBIDDEN", "this needs the %s role; you are signed in as %s", need, have)
	e.Details = map[string]any{"required_role": need.String(), "role": have.String()}
	return e
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
