package main

// The fake payment gateway's routes: its checkout page, its signed webhook and the
// operators' switches for its refunds (fake_refunds.go) and payouts. A real provider hosts the page behind a
// payment's checkout_url and confirms the payment through its webhook; with the fake
// gateway (PAYMENT_GATEWAY=fake) this server plays the provider: checkout_url opens a small
// page here whose two buttons pay the payment or make it fail, and the answer goes through
// POST /api/payments/webhook, signed with PAYMENT_WEBHOOK_SECRET, like a real confirmation.
// A newcomer can run the whole client flow with a browser or curl.
//
// Anyone who can open a checkout page can mark its payment paid for nothing, so these
// routes exist only while the fake is the gateway in use, and a page is reached through
// its link alone (a provider's invoice URL is no more guessable), never through the
// payment id.
//
// The page loads nothing from elsewhere and runs no script: its Content-Security-Policy
// allows nothing but posting its own forms back here.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
)

// fakeCheckoutPath is where the checkout page of a link's {token} is.
const fakeCheckoutPath = "/fake-gateway/checkout/"

// fakeCheckout is the fake gateway with its checkout links pointing at this server's page,
// and its refunds answered as the operators' switch says (fake_refunds.go).
type fakeCheckout struct {
	payment.Gateway
	links checkoutLinks
	base  atomic.Pointer[string] // PUBLIC_URL
}

// newFakeCheckout wraps the fake gateway g; secret (PAYMENT_WEBHOOK_SECRET) keys its links.
func newFakeCheckout(g payment.Gateway, publicURL, secret string) *fakeCheckout {
	fc := &fakeCheckout{Gateway: g, links: newCheckoutLinks(secret)}
	fc.setBase(publicURL)
	return fc
}

// setBase changes the URL the checkout links start with (tests learn their server's
// address after the App is built).
func (g *fakeCheckout) setBase(publicURL string) {
	b := strings.TrimRight(publicURL, "/")
	g.base.Store(&b)
}

func (g *fakeCheckout) CreateCharge(ctx context.Context, req payment.ChargeRequest) (payment.Charge, error) {
	c, err := g.Gateway.CreateCharge(ctx, req)
	if err == nil {
		c.CheckoutURL = *g.base.Load() + fakeCheckoutPath + g.links.token(req.PaymentID)
	}
	return c, err
}

// checkoutLinks make and read the tokens of the checkout links. A token is the payment id
// followed by an HMAC-SHA256 of it (128 bits) under a key derived from
// PAYMENT_WEBHOOK_SECRET, base64url-encoded: every instance sharing the secret opens every
// instance's links, and nobody without it makes one from a payment id.
type checkoutLinks struct{ key []byte }

func newCheckoutLinks(secret string) checkoutLinks {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("curhat fake gateway checkout links")) // not the webhook's key itself
	return checkoutLinks{key: m.Sum(nil)}
}

const checkoutMACBytes = 16

func (l checkoutLinks) mac(id uuid.UUID) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write(id[:])
	return m.Sum(nil)[:checkoutMACBytes]
}

// token is the link token of payment id.
func (l checkoutLinks) token(id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString(append(id[:], l.mac(id)...))
}

// payment is the payment id that token names, false for a token these links did not make.
// The decoding is strict: a token differing only in the unused low bits of its last
// character is another string, not another spelling of the same link.
func (l checkoutLinks) payment(token string) (uuid.UUID, bool) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) != len(uuid.UUID{})+checkoutMACBytes {
		return uuid.Nil, false
	}
	id := uuid.UUID(raw[:len(uuid.UUID{})])
	return id, hmac.Equal(raw[len(id):], l.mac(id))
}

// fakeGatewayRoutes registers the fake gateway's routes; registerRoutes calls it only
// while the fake is the gateway in use, so that a server over a real provider answers
// 404 on every one of them.
func (s *Server) fakeGatewayRoutes() {
	s.handle("GET", fakeCheckoutPath+"{token}", rolePublic, s.fakeCheckoutPage)
	s.handle("POST", fakeCheckoutPath+"{token}", rolePublic, s.fakeCheckoutComplete)
	s.webhookRoutes()
	s.handle("POST", "/api/internal/fake-gateway/refund-failures", roleAdmin, s.fakeRefundFailures)
	s.handle("POST", "/api/internal/fake-gateway/refunds/{id}/outcome", roleAdmin, s.fakeRefundOutcome)
	s.handle("POST", "/api/internal/fake-gateway/payout-failures", roleAdmin, s.fakePayoutFailures)
}

// errNoCheckout: the token names no payment (a link this server did not make, or the old
// form that named the payment id).
var errNoCheckout = newAPIError(http.StatusNotFound, "NOT_FOUND", "no such checkout page")

// checkoutPayment is the payment of the page's link.
func (s *Server) checkoutPayment(r *http.Request) (payment.Session, error) {
	id, ok := s.app.checkout.links.payment(r.PathValue("token"))
	if !ok {
		return payment.Session{}, errNoCheckout
	}
	return s.app.payments.Get(r.Context(), id)
}

func (s *Server) fakeCheckoutPage(w http.ResponseWriter, r *http.Request, _ caller) error {
	p, err := s.checkoutPayment(r)
	if err != nil {
		return err
	}
	return writeCheckoutPage(w, p, r.URL.Path, "")
}

// fakeCheckoutComplete pays the payment or makes it fail (form field outcome), through the
// signed webhook.
func (s *Server) fakeCheckoutComplete(w http.ResponseWriter, r *http.Request, _ caller) error {
	p, err := s.checkoutPayment(r)
	if err != nil {
		return err
	}
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	outcome := ""
	if form, err := url.ParseQuery(string(raw)); err == nil {
		outcome = form.Get("outcome")
	}
	if outcome != "paid" && outcome != "failed" {
		return curhat.Invalid("outcome", "must be paid or failed (a form field: outcome=paid)")
	}
	body, _ := json.Marshal(map[string]string{"payment_id": p.ID.String(), "status": outcome, "provider_ref": p.ProviderRef})
	hook, err := http.NewRequestWithContext(r.Context(), "POST", "/api/payments/webhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hook.Header.Set("Content-Type", "application/json")
	hook.Header.Set("X-Signature", signBody(s.app.cfg.PaymentWebhookSecret, body))
	answer := &bufferedResponse{header: http.Header{}}
	s.ServeHTTP(answer, hook)
	if answer.status != http.StatusOK {
		// The webhook's own error answer (a payment that cannot take this outcome, an outage).
		for k, v := range answer.header {
			if k != requestIDHeader {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(answer.status)
		_, _ = w.Write(answer.body.Bytes())
		return nil
	}
	if p, err = s.app.payments.Get(r.Context(), p.ID); err != nil {
		return err
	}
	return writeCheckoutPage(w, p, r.URL.Path, outcome)
}

// bufferedResponse is the answer of a request the server sends itself.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// checkoutPageCSP: nothing but this page's own forms.
const checkoutPageCSP = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

var checkoutPage = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Fake checkout</title></head>
<body>
<h1>Fake payment gateway</h1>
{{if .Outcome}}<p><strong>{{if eq .Outcome "paid"}}Paid.{{else}}The payment failed.{{end}}</strong> The server was told through its signed webhook; the app sees it on its event stream or when it polls.</p>
{{end}}<p>Payment <code>{{.ID}}</code> for {{.Purpose}}: <strong>{{.Amount}} {{.Currency}}</strong>{{if .Discount}} ({{.Discount}} off){{end}}. Status: <strong>{{.Status}}</strong>.</p>
{{if eq .Status "pending"}}<form method="post"><input type="hidden" name="outcome" value="paid"><button type="submit">Pay {{.Amount}} {{.Currency}}</button></form>
<form method="post"><input type="hidden" name="outcome" value="failed"><button type="submit">Make the payment fail</button></form>
{{end}}<p>This page stands in for a payment provider in the reference server; with curl: <code>curl -d outcome=paid {{.Path}}</code>.</p>
</body>
</html>
`))

// writeCheckoutPage writes the page of payment p, reached at path.
func writeCheckoutPage(w http.ResponseWriter, p payment.Session, path, outcome string) error {
	var buf bytes.Buffer
	err := checkoutPage.Execute(&buf, map[string]any{
		"ID": p.ID, "Purpose": strings.ReplaceAll(string(p.Purpose), "_", " "), "Amount": p.Amount, "Currency": p.Currency,
		"Discount": p.DiscountAmount, "Status": string(p.Status), "Outcome": outcome, "Path": path,
	})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", checkoutPageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err = io.Copy(w, &buf)
	return err
}
