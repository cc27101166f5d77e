package main

// Every request a test sends to a reference server, and every answer it gets, is checked
// against openapi.json (kin-openapi's openapi3filter): contractHandler wraps the server of
// every test (newTestServer, the multi-instance fleets, the README walk, the generated
// client). A schema that drifts from the code fails the test that saw the difference:
//
//   - an answer whose status is not documented for its operation, or whose headers or JSON
//     body do not match the documented ones, is an error;
//   - a request the document refuses (a missing field, a wrong type, an unknown property,
//     no bearer token) must be refused by the server (4xx); answering it 2xx means the
//     server accepts what the document says it does not;
//   - a path or method the document does not have must answer 404 or 405 with the error
//     envelope;
//   - an event stream is checked as it is written: status and headers as documented,
//     every frame either a comment or `event: <kind>` + `data: <JSON>` with the JSON valid
//     against ClientEvent or MitraEvent and its kind equal to the event name.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

func init() {
	// The fake gateway's checkout page answers HTML; its schema is a string. So do the
	// operator console's files.
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// apiContract is openapi.json, loaded and validated once.
type apiContract struct {
	doc    *openapi3.T
	router routers.Router
	// events are the schemas of the event streams' frames, by path.
	events map[string]*openapi3.Schema
	errSch *openapi3.Schema
}

var loadContract = sync.OnceValues(func() (*apiContract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	// The router matches servers too; test servers listen on other addresses than the
	// documented one.
	routed := *doc
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("route openapi.json: %w", err)
	}
	c := &apiContract{doc: doc, router: router, events: map[string]*openapi3.Schema{}}
	for _, p := range []string{"/api/client/events", "/api/mitra/events", "/api/internal/events"} {
		c.events[p] = doc.Paths.Find(p).Get.Responses.Status(200).Value.Content.Get("text/event-stream").Schema.Value
	}
	c.errSch = doc.Components.Schemas["Error"].Value
	return c, nil
})

// mustContract returns the loaded document or fails the test.
func mustContract(t testing.TB) *apiContract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// contractHandler checks every request h serves and every answer it gives against
// openapi.json, reporting differences as errors of t.
func contractHandler(t testing.TB, h http.Handler) http.Handler {
	return checkedHandler(mustContract(t), h, func(problem string) { t.Errorf("%s", problem) })
}

// checkedHandler is contractHandler reporting each difference to report.
func checkedHandler(c *apiContract, h http.Handler, report func(problem string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqBody := &teeBody{rc: r.Body}
		r.Body = reqBody
		rec := &contractWriter{ResponseWriter: w, c: c, path: r.URL.Path, report: func(problem string) {
			report(fmt.Sprintf("openapi.json contract: %s %s (hijacked stream): %s", r.Method, r.URL.RequestURI(), problem))
		}}
		h.ServeHTTP(rec, r)
		rec.finishStream()
		for _, problem := range c.check(r, reqBody.buf.Bytes(), rec) {
			report(fmt.Sprintf("openapi.json contract: %s %s → %d: %s", r.Method, r.URL.RequestURI(), rec.status(), problem))
		}
	})
}

// check returns what in the exchange disagrees with the document.
func (c *apiContract) check(r *http.Request, body []byte, rec *contractWriter) []string {
	problems := rec.streamProblems
	status := rec.status()
	if rec.Header().Get(requestIDHeader) == "" {
		problems = append(problems, "no X-Request-Id")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		return problems // a CORS preflight (cors.go) is the browser's question, not an API operation
	}
	if (status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect) &&
		path.Clean(r.URL.Path) != r.URL.Path {
		return problems // net/http sends a path with "//", "." or ".." to its clean form
	}
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json") // the server reads bodies as JSON whatever their type
	}
	route, params, err := c.router.FindRoute(req)
	if err == nil && len(body) > 0 && route.Operation.RequestBody != nil {
		// The server reads a JSON body whatever its Content-Type (curl -d sends
		// application/x-www-form-urlencoded), as the document says.
		if content := route.Operation.RequestBody.Value.Content; len(content) == 1 && content.Get("application/json") != nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		// Not in the document: the server must say so, in the error envelope.
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			problems = append(problems, fmt.Sprintf("not documented (%v) but answered %d", err, status))
		}
		if err := c.errSch.VisitJSON(decodeJSONValue(rec.body.Bytes()), openapi3.EnableJSONSchema2020()); err != nil {
			problems = append(problems, "the answer is not the error envelope: "+err.Error())
		}
		return problems
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: credentialsPresent},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && status < 400 {
		problems = append(problems, fmt.Sprintf("the document refuses this request (%s) but the server answered %d", firstLine(err), status))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 rec.Header(),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: rec.stream != nil},
	}
	out.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		problems = append(problems, "the answer does not match the document: "+err.Error()+"\n\tbody: "+truncate(rec.body.String(), 2000))
	}
	return problems
}

// credentialsPresent is the document's security as the server reads it: a bearer token,
// or the header of an apiKey scheme (Xendit's callback token), is present (whether it is
// a valid one is the server's answer to check).
func credentialsPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	if s := in.SecurityScheme; s != nil && s.Type == "apiKey" && s.In == "header" {
		if h.Get(s.Name) == "" {
			return fmt.Errorf("no %s header", s.Name)
		}
		return nil
	}
	if !strings.HasPrefix(h.Get("Authorization"), "Bearer ") {
		return errors.New("no bearer token")
	}
	return nil
}

func decodeJSONValue(raw []byte) any {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return string(raw)
	}
	return jsonNumbers(v)
}

// jsonNumbers turns json.Number into float64 (what kin-openapi's schema check expects)
// unless it is an integer that a float64 would round, kept as int64.
func jsonNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = jsonNumbers(e)
		}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return float64(i)
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// teeBody keeps what the handler read of the request body.
type teeBody struct {
	rc  io.ReadCloser
	buf bytes.Buffer
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.buf.Write(p[:n])
	return n, err
}

func (b *teeBody) Close() error { return b.rc.Close() }

// contractWriter records the answer; an event stream is passed on as it is written and
// its frames checked on the way.
type contractWriter struct {
	http.ResponseWriter
	c      *apiContract
	path   string
	code   int
	body   bytes.Buffer
	stream *openapi3.Schema // the frame schema, once the answer is an event stream
	// pending is the part of the stream after the last complete frame.
	pending        bytes.Buffer
	streamProblems []string
	// report tells a problem of a hijacked stream as it is written (after the exchange's
	// check).
	report func(problem string)
}

// Hijack is the server taking an event stream's connection over: what it writes there is
// checked as it goes, the response head and then each frame.
func (w *contractWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.code = http.StatusOK
	if w.stream = w.c.events[w.path]; w.stream == nil {
		w.streamProblems = append(w.streamProblems, "a hijacked connection where the document has no event stream")
		return conn, rw, nil
	}
	return &checkedConn{Conn: conn, w: w}, rw, nil
}

// checkedConn checks what a hijacked event stream writes.
type checkedConn struct {
	net.Conn
	w *contractWriter

	mu      sync.Mutex
	head    bool // the response head was written
	pending bytes.Buffer
}

func (c *checkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.pending.Write(p)
	if !c.head {
		head, rest, ok := bytes.Cut(c.pending.Bytes(), []byte("\r\n\r\n"))
		if ok {
			c.head = true
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(bytes.Clone(head), "\r\n\r\n"...))), nil)
			switch {
			case err != nil:
				c.w.report("unreadable response head: " + err.Error())
			case resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" ||
				resp.Header.Get(requestIDHeader) == "":
				c.w.report(fmt.Sprintf("response head: %q", head))
			}
			rest = bytes.Clone(rest)
			c.pending.Reset()
			c.pending.Write(rest)
		}
	}
	for c.head {
		frame, rest, ok := bytes.Cut(c.pending.Bytes(), []byte("\n\n"))
		if !ok {
			break
		}
		if problem := c.w.checkFrame(string(frame)); problem != "" {
			c.w.report(problem)
		}
		rest = bytes.Clone(rest)
		c.pending.Reset()
		c.pending.Write(rest)
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (w *contractWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

func (w *contractWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
		if mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type")); mt == "text/event-stream" {
			w.stream = w.c.events[w.path]
			if w.stream == nil {
				w.streamProblems = append(w.streamProblems, "an event stream where the document has none")
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *contractWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.stream != nil {
		w.pending.Write(p)
		w.checkFrames()
	} else {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *contractWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *contractWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkFrames checks the complete frames written so far.
func (w *contractWriter) checkFrames() {
	for {
		frame, rest, ok := bytes.Cut(w.pending.Bytes(), []byte("\n\n"))
		if !ok {
			return
		}
		if problem := w.checkFrame(string(frame)); problem != "" {
			w.streamProblems = append(w.streamProblems, problem)
		}
		remaining := bytes.Clone(rest)
		w.pending.Reset()
		w.pending.Write(remaining)
	}
}

func (w *contractWriter) finishStream() {
	if w.stream != nil && strings.TrimSpace(w.pending.String()) != "" {
		w.streamProblems = append(w.streamProblems, fmt.Sprintf("the stream ended inside a frame: %q", w.pending.String()))
	}
}

// checkFrame checks one event-stream frame: comments only, or one event line and one data
// line whose JSON matches the stream's schema.
func (w *contractWriter) checkFrame(frame string) string {
	var event, data string
	sc := bufio.NewScanner(strings.NewReader(frame))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: ") && event == "":
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && data == "":
			data = strings.TrimPrefix(line, "data: ")
		default:
			return fmt.Sprintf("event stream: unexpected line %q in frame %q", line, frame)
		}
	}
	if event == "" && data == "" {
		return "" // a comment
	}
	if event == "" || data == "" {
		return fmt.Sprintf("event stream: a frame needs one event and one data line: %q", frame)
	}
	var kind struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(data), &kind); err != nil || kind.Kind != event {
		return fmt.Sprintf("event stream: data.kind is not the event name %q: %s", event, data)
	}
	if err := w.stream.VisitJSON(decodeJSONValue([]byte(data)), openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Sprintf("event stream: %s does not match the document: %v\n\tdata: %s", event, err, data)
	}
	return ""
}
