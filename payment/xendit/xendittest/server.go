// Package xendittest is a local server that answers as Xendit's API documentation shows,
// for tests of package xendit and of hosts that use it. It checks every request field by
// field (HTTP Basic auth with the secret key, Content-Type, the body's fields and their
// types, the Idempotency-key header of refunds and payouts) and fails the test on a bad
// one; it keeps invoices, refunds and payouts in memory, honours idempotency keys, and can
// be told to fail, lose answers, decline, refuse, and to post callbacks.
package xendittest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Endpoints, as FailNext, LoseNextAnswer, StallNext and Calls name them.
const (
	EndpointCreateInvoice = "POST /v2/invoices"
	EndpointListInvoices  = "GET /v2/invoices"
	EndpointGetInvoice    = "GET /v2/invoices/{id}"
	EndpointExpireInvoice = "POST /invoices/{id}/expire!"
	EndpointCreateRefund  = "POST /refunds"
	EndpointListRefunds   = "GET /refunds"
	EndpointCreatePayout  = "POST /v2/payouts"
	EndpointListPayouts   = "GET /v2/payouts"
)

// Invoice statuses.
const (
	StatusPending = "PENDING"
	StatusPaid    = "PAID"
	StatusSettled = "SETTLED"
	StatusExpired = "EXPIRED"
)

// RefundMode is how the server answers the refunds it is asked for (RefundOutcome).
type RefundMode int

const (
	// RefundPending: the refund is made in status PENDING; its outcome comes by callback
	// (RefundCallback). Xendit's usual answer, and the default.
	RefundPending RefundMode = iota
	// RefundSucceeded: the refund is made in status SUCCEEDED.
	RefundSucceeded
	// RefundFailed: the refund is made in status FAILED, failure_code REFUND_FAILED.
	RefundFailed
	// RefundRefused: 400 INSUFFICIENT_BALANCE; nothing is made.
	RefundRefused
	// RefundNotSupported: 400 REFUND_NOT_SUPPORTED (a channel without refunds).
	RefundNotSupported
	// RefundWindowPassed: 403 INELIGIBLE_TRANSACTION (the refund window passed).
	RefundWindowPassed
)

// PayoutMode is how the server answers the payouts it is asked for (PayoutOutcome).
type PayoutMode int

const (
	// PayoutAccepted: the payout is made in status ACCEPTED; its outcome comes by callback
	// (PayoutCallback). Xendit's documented answer, and the default.
	PayoutAccepted PayoutMode = iota
	// PayoutSucceeded: the payout is made in status SUCCEEDED.
	PayoutSucceeded
	// PayoutFailed: the payout is made in status FAILED, failure_code INVALID_DESTINATION.
	PayoutFailed
	// PayoutRejected: 400 RECIPIENT_ACCOUNT_NUMBER_ERROR; nothing is made.
	PayoutRejected
)

// DuplicateMode is how the server answers a refund or payout whose Idempotency-key it has
// seen (DuplicateKeys).
type DuplicateMode int

const (
	// DuplicateReplay answers the first request's answer again, and makes nothing. The
	// default.
	DuplicateReplay DuplicateMode = iota
	// DuplicateConflict answers 409 DUPLICATE_ERROR ("duplicate value on idempotency_key,
	// try again with a new key"), as Xendit's refund API documents, and makes nothing.
	DuplicateConflict
)

// Documented test amounts of refunds (Xendit's QR code test scenarios): a refund of this
// amount gets this error answer whatever the RefundMode.
var refundTestAmounts = map[int64]struct {
	status int
	code   string
}{
	10300: {http.StatusBadRequest, "MAXIMUM_REFUND_AMOUNT_REACHED"},
	10301: {http.StatusBadRequest, "PARTIAL_REFUND_NOT_SUPPORTED"},
	10303: {http.StatusBadRequest, "REFUND_NOT_SUPPORTED"},
	10304: {http.StatusBadRequest, "REFUND_IN_PROGRESS"},
	10305: {http.StatusForbidden, "INELIGIBLE_TRANSACTION"},
}

// Invoice is an invoice the server keeps.
type Invoice struct {
	ID          string
	ExternalID  string
	Status      string
	Amount      int64
	Currency    string
	Description string
	InvoiceURL  string
	// SuccessRedirectURL is success_redirect_url, when sent.
	SuccessRedirectURL string
	// Duration is invoice_duration, in seconds (0 when not sent).
	Duration  int64
	Created   time.Time
	ExpiresAt time.Time
	PaidAt    time.Time
}

// Refund is a refund the server made.
type Refund struct {
	ID             string
	InvoiceID      string
	ReferenceID    string
	IdempotencyKey string
	Amount         int64
	Currency       string
	Reason         string
	Status         string
	FailureCode    string
	Metadata       map[string]string
	Created        time.Time
}

// Payout is a payout the server made.
type Payout struct {
	ID                string
	ReferenceID       string
	IdempotencyKey    string
	ChannelCode       string
	AccountNumber     string
	AccountHolderName string
	Amount            int64
	Currency          string
	Description       string
	Status            string
	FailureCode       string
	Created           time.Time
}

// canned is an answer told in advance (FailNext).
type canned struct {
	status int
	body   string
}

// recorded is the first answer to an idempotency key.
type recorded struct {
	body   []byte // the request's body, to catch a key sent with another body
	status int
	answer []byte
}

// Server is the fake Xendit API. Safe for concurrent use.
type Server struct {
	// URL is the server's address: Config.APIURL of a xendit.Client.
	URL string

	t             testing.TB
	secretKey     string
	callbackToken string
	srv           *httptest.Server
	cb            *http.Client

	mu        sync.Mutex
	invoices  []*Invoice
	refunds   []*Refund
	payouts   []*Payout
	answers   map[string]recorded // endpoint + " " + key
	calls     map[string]int
	keyCalls  map[string]int
	failNext  map[string][]canned
	loseNext  map[string]int
	stallNext map[string]time.Duration
	declining bool
	refundAs  RefundMode
	payoutAs  PayoutMode
	dupAs     DuplicateMode
}

// NewServer starts a fake Xendit API that accepts secretKey and signs the callbacks it
// posts with callbackToken. It stops when the test ends.
func NewServer(t testing.TB, secretKey, callbackToken string) *Server {
	t.Helper()
	s := &Server{
		t: t, secretKey: secretKey, callbackToken: callbackToken,
		cb:      &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
		answers: map[string]recorded{}, calls: map[string]int{}, keyCalls: map[string]int{},
		failNext: map[string][]canned{}, loseNext: map[string]int{}, stallNext: map[string]time.Duration{},
	}
	mux := http.NewServeMux()
	s.route(mux, EndpointCreateInvoice, s.createInvoice)
	s.route(mux, "POST /v2/invoices/{$}", s.createInvoice)
	s.route(mux, EndpointListInvoices, s.listInvoices)
	s.route(mux, EndpointGetInvoice, s.getInvoice)
	s.route(mux, EndpointExpireInvoice, s.expireInvoice)
	s.route(mux, EndpointCreateRefund, s.createRefund)
	s.route(mux, EndpointListRefunds, s.listRefunds)
	s.route(mux, EndpointCreatePayout, s.createPayout)
	s.route(mux, EndpointListPayouts, s.listPayouts)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("xendittest: unexpected request %s %s", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint in this fake")
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.srv.Close()
		s.cb.CloseIdleConnections()
	})
	return s
}

// HTTPClient is a client for the server whose idle connections close with it.
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// FailNext makes the next request to endpoint answer status with body (JSON, or empty),
// without doing anything: for example a 503 before a success. Calls queue.
func (s *Server) FailNext(endpoint string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[endpoint] = append(s.failNext[endpoint], canned{status, body})
}

// LoseNextAnswer makes the next request to endpoint do what it asks, then answer 502 as
// a gateway that lost the answer: the caller cannot know it was done.
func (s *Server) LoseNextAnswer(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseNext[endpoint]++
}

// StallNext makes the next request to endpoint wait d (or until its caller gives up)
// before it is done and answered: a caller with a shorter timeout sees a timeout, yet
// what it asked is done.
func (s *Server) StallNext(endpoint string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallNext[endpoint] = d
}

// DeclineInvoices makes the invoices asked for from now on refused with 400
// NO_COLLECTION_METHODS_ERROR (on) or created (off).
func (s *Server) DeclineInvoices(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.declining = on
}

// RefundOutcome sets how the refunds asked for from now on are answered.
func (s *Server) RefundOutcome(m RefundMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refundAs = m
}

// PayoutOutcome sets how the payouts asked for from now on are answered.
func (s *Server) PayoutOutcome(m PayoutMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.payoutAs = m
}

// DuplicateKeys sets how a refund or payout whose Idempotency-key was seen is answered.
func (s *Server) DuplicateKeys(m DuplicateMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dupAs = m
}

// Calls counts the requests to endpoint (answered or not).
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// KeyCalls counts the requests that carried the Idempotency-key key.
func (s *Server) KeyCalls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyCalls[key]
}

// Invoice returns the invoice id.
func (s *Server) Invoice(id string) (Invoice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inv := s.invoice(id); inv != nil {
		return *inv, true
	}
	return Invoice{}, false
}

// Invoices returns the invoices, oldest first.
func (s *Server) Invoices() []Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return values(s.invoices)
}

// Refunds returns the refunds made, oldest first.
func (s *Server) Refunds() []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	return values(s.refunds)
}

// Payouts returns the payouts made, oldest first.
func (s *Server) Payouts() []Payout {
	s.mu.Lock()
	defer s.mu.Unlock()
	return values(s.payouts)
}

// values copies what ps point to (with the lock held: they change under it).
func values[T any](ps []*T) []T {
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// SetInvoiceStatus sets the invoice's status (PAID, SETTLED, EXPIRED…) as if the client
// paid it or it ran out, without a callback.
func (s *Server) SetInvoiceStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoice(id)
	if inv == nil {
		s.t.Errorf("xendittest: SetInvoiceStatus: no invoice %s", id)
		return
	}
	s.setInvoiceStatus(inv, status)
}

func (s *Server) setInvoiceStatus(inv *Invoice, status string) {
	inv.Status = status
	if (status == StatusPaid || status == StatusSettled) && inv.PaidAt.IsZero() {
		inv.PaidAt = time.Now().UTC()
	}
}

// route serves endpoint (a ServeMux pattern) with h after the checks every request gets.
func (s *Server) route(mux *http.ServeMux, pattern string, h func(r *http.Request, body []byte) (int, any)) {
	endpoint := pattern
	if pattern == "POST /v2/invoices/{$}" {
		endpoint = EndpointCreateInvoice
	}
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, ok := s.admit(endpoint, w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		stall := s.stallNext[endpoint]
		delete(s.stallNext, endpoint)
		var fail *canned
		if q := s.failNext[endpoint]; len(q) > 0 {
			fail, s.failNext[endpoint] = &q[0], q[1:]
		}
		lose := s.loseNext[endpoint] > 0
		if lose && fail == nil {
			s.loseNext[endpoint]--
		}
		s.mu.Unlock()

		if stall > 0 {
			select {
			case <-time.After(stall):
			case <-r.Context().Done():
			}
		}
		if fail != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(fail.status)
			io.WriteString(w, fail.body)
			return
		}
		status, answer := h(r, body)
		if lose {
			writeError(w, http.StatusBadGateway, "SERVER_ERROR", "the answer was lost on the way")
			return
		}
		if raw, ok := answer.([]byte); ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write(raw)
			return
		}
		writeJSON(w, status, answer)
	})
}

// admit counts the request and checks what every request must carry: Basic auth with the
// secret key and an empty password, and a JSON body for a POST with one. It answers a
// request that fails them and reports false.
func (s *Server) admit(endpoint string, w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	s.mu.Lock()
	s.calls[endpoint]++
	if key := r.Header.Get("Idempotency-key"); key != "" {
		s.keyCalls[key]++
	}
	s.mu.Unlock()

	user, pass, ok := r.BasicAuth()
	if !ok || user != s.secretKey || pass != "" {
		s.t.Errorf("xendittest: %s: HTTP Basic auth must be the secret key with an empty password (got ok=%v, user %q)",
			endpoint, ok, redact(user))
		writeError(w, http.StatusUnauthorized, "INVALID_API_KEY", "API key is not authorized for this API service")
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "API_VALIDATION_ERROR", "unreadable body")
		return nil, false
	}
	if r.Method == http.MethodPost && len(body) > 0 {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			s.t.Errorf("xendittest: %s: Content-Type must be application/json, got %q", endpoint, r.Header.Get("Content-Type"))
			writeError(w, http.StatusBadRequest, "INVALID_JSON_FORMAT", "Content-Type must be application/json")
			return nil, false
		}
	}
	return body, true
}

func redact(s string) string {
	if len(s) <= 8 {
		return "…"
	}
	return s[:4] + "…"
}

// seen answers a request whose idempotency key made something already, as DuplicateKeys
// says. Called with s.mu held.
func (s *Server) seen(endpoint, key string, body []byte) (int, any, bool) {
	rec, ok := s.answers[endpoint+" "+key]
	if !ok {
		return 0, nil, false
	}
	if !bytes.Equal(rec.body, body) {
		s.t.Errorf("xendittest: %s: Idempotency-key %q sent again with another body:\nfirst %s\nnow   %s", endpoint, key, rec.body, body)
		return http.StatusConflict, apiErr("IDEMPOTENCY_ERROR", "the idempotency key was used with another request"), true
	}
	if s.dupAs == DuplicateConflict {
		return http.StatusConflict, apiErr("DUPLICATE_ERROR", "duplicate value on idempotency_key, try again with a new key"), true
	}
	return rec.status, rec.answer, true
}

// record keeps the first answer to key and returns it. Called with s.mu held.
func (s *Server) record(endpoint, key string, body []byte, status int, answer any) (int, any) {
	raw, err := json.Marshal(answer)
	if err != nil {
		panic(err)
	}
	s.answers[endpoint+" "+key] = recorded{body: slices.Clone(body), status: status, answer: raw}
	return status, raw
}

func badRequest() (int, any) {
	return http.StatusBadRequest, apiErr("API_VALIDATION_ERROR", "the request does not follow the API's validation")
}

func apiErr(code, message string) map[string]any {
	return map[string]any{"error_code": code, "message": message}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiErr(code, message))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
