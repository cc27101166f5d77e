package xendittest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/curhat/curhat/payment/xendit/xendittest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder keeps the failures the server reports instead of failing the test.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

type request struct {
	method, path, body, contentType, user, key string
	noAuth                                     bool
}

func send(t *testing.T, s *xendittest.Server, r request) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(r.method, s.URL+r.path, strings.NewReader(r.body))
	require.NoError(t, err)
	if !r.noAuth {
		req.SetBasicAuth(r.user, "")
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.key != "" {
		req.Header.Set("Idempotency-key", r.key)
	}
	resp, err := s.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func TestServer_ReportsBadRequestsFieldByField(t *testing.T) {
	t.Parallel()
	const key = "sk"
	invoice := `{"external_id":"e1","amount":25000,"currency":"IDR","invoice_duration":900,"description":"d"}`
	refund := `{"invoice_id":"i1","reference_id":"r1","amount":1000,"currency":"IDR","reason":"CANCELLATION"}`
	payout := `{"reference_id":"p1","channel_code":"ID_BCA","channel_properties":{"account_number":"0099","account_holder_name":"A"},"amount":1000,"currency":"IDR","description":"d"}`
	for _, tc := range []struct {
		name   string
		req    request
		status int
		report string
	}{
		{"no auth", request{method: "POST", path: "/v2/invoices", body: invoice, contentType: "application/json", noAuth: true},
			401, "HTTP Basic auth"},
		{"wrong key", request{method: "GET", path: "/v2/invoices?external_id=e1", user: "other"}, 401, "HTTP Basic auth"},
		{"not JSON content", request{method: "POST", path: "/v2/invoices", body: invoice, contentType: "text/plain", user: key},
			400, "Content-Type"},
		{"amount as a string", request{method: "POST", path: "/v2/invoices", user: key, contentType: "application/json",
			body: strings.Replace(invoice, `25000`, `"25000"`, 1)}, 400, `"amount" must be a whole number`},
		{"fractional amount", request{method: "POST", path: "/v2/invoices", user: key, contentType: "application/json",
			body: strings.Replace(invoice, `25000`, `250.5`, 1)}, 400, `"amount" must be a whole number`},
		{"missing external_id", request{method: "POST", path: "/v2/invoices", user: key, contentType: "application/json",
			body: strings.Replace(invoice, `"external_id":"e1",`, ``, 1)}, 400, `"external_id" is required`},
		{"zero duration", request{method: "POST", path: "/v2/invoices", user: key, contentType: "application/json",
			body: strings.Replace(invoice, `900`, `0`, 1)}, 400, "invoice_duration must be at least 1"},
		{"unlisted field", request{method: "POST", path: "/v2/invoices", user: key, contentType: "application/json",
			body: strings.Replace(invoice, `{`, `{"surprise":1,`, 1)}, 400, `unexpected field "surprise"`},
		{"refund without Idempotency-key", request{method: "POST", path: "/refunds", user: key, contentType: "application/json",
			body: refund}, 400, "Idempotency-key header is missing"},
		{"refund with an undocumented reason", request{method: "POST", path: "/refunds", user: key, contentType: "application/json",
			key: "k1", body: strings.Replace(refund, "CANCELLATION", "late_payment", 1)}, 400, "reason must be one of"},
		{"payout without Idempotency-key", request{method: "POST", path: "/v2/payouts", user: key, contentType: "application/json",
			body: payout}, 400, "Idempotency-key header is missing"},
		{"payout without the holder's name", request{method: "POST", path: "/v2/payouts", user: key, contentType: "application/json",
			key: "k2", body: strings.Replace(payout, `,"account_holder_name":"A"`, ``, 1)}, 400, `"account_holder_name" is required`},
		{"unknown endpoint", request{method: "POST", path: "/v2/disbursements", user: key}, 404, "unexpected request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			s := xendittest.NewServer(rec, key, "tok")
			status, _ := send(t, s, tc.req)
			require.Equal(t, tc.status, status)
			require.Contains(t, rec.reported(), tc.report)
		})
	}
}

func TestServer_SameKeyWithAnotherBodyIsReported(t *testing.T) {
	t.Parallel()
	rec := &recorder{TB: t}
	s := xendittest.NewServer(rec, "sk", "tok")
	payout := `{"reference_id":"p1","channel_code":"ID_BCA","channel_properties":{"account_number":"0099","account_holder_name":"A"},"amount":1000,"currency":"IDR"}`
	r := request{method: "POST", path: "/v2/payouts", user: "sk", contentType: "application/json", key: "k", body: payout}

	status, first := send(t, s, r)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ACCEPTED", first["status"])
	status, again := send(t, s, r)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, first["id"], again["id"], "the first answer, not a second payout")
	require.Len(t, s.Payouts(), 1)
	require.Empty(t, rec.reported())

	r.body = strings.Replace(payout, "1000", "2000", 1)
	status, m := send(t, s, r)
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, "IDEMPOTENCY_ERROR", m["error_code"])
	require.Contains(t, rec.reported(), "sent again with another body")
	require.Len(t, s.Payouts(), 1)
	require.Equal(t, 3, s.KeyCalls("k"))
}

func TestServer_RefundsOnlyPaidInvoicesUpToTheirAmount(t *testing.T) {
	t.Parallel()
	s := xendittest.NewServer(t, "sk", "tok")
	status, inv := send(t, s, request{method: "POST", path: "/v2/invoices", user: "sk", contentType: "application/json",
		body: `{"external_id":"e1","amount":25000,"currency":"IDR"}`})
	require.Equal(t, http.StatusOK, status)
	id := inv["id"].(string)
	refund := func(key string, amount int) (int, map[string]any) {
		return send(t, s, request{method: "POST", path: "/refunds", user: "sk", contentType: "application/json", key: key,
			body: fmt.Sprintf(`{"invoice_id":%q,"reference_id":"r-%s","amount":%d,"reason":"CANCELLATION"}`, id, key, amount)})
	}

	status, m := refund("k1", 1000)
	require.Equal(t, http.StatusForbidden, status, "a pending invoice cannot be refunded")
	require.Equal(t, "INELIGIBLE_TRANSACTION", m["error_code"])

	s.SetInvoiceStatus(id, xendittest.StatusPaid)
	status, m = refund("k2", 20000)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "PENDING", m["status"])
	status, m = refund("k3", 6000)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "MAXIMUM_REFUND_AMOUNT_REACHED", m["error_code"])
	status, _ = refund("k4", 5000)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, s.Refunds(), 2)
}
