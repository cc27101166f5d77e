package main

// The fake payment gateway's checkout page. A real provider hosts the page behind a
// payment's checkout_url and confirms the payment through the signed webhook; with the
// fake gateway (the reference server's) this server plays the provider: checkout_url opens
// a small page here whose two buttons pay the payment or make it fail, and the answer goes
// through POST /api/payments/webhook, signed with PAYMENT_WEBHOOK_SECRET, like a real
// confirmation. A newcomer can run the whole client flow with a browser or curl.
//
// The page loads nothing from elsewhere and runs no script: its Content-Security-Policy
// allows nothing but posting its own forms back here.

import (
	"bytes"
	"context"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
)

// fakeCheckoutPath is where the checkout page of payment {payment_id} is.
const fakeCheckoutPath = "/fake-gateway/checkout/"

// fakeCheckout is the fake gateway with its checkout URLs pointing at this server's page.
type fakeCheckout struct {
	payment.Gateway
	base atomic.Pointer[string] // PUBLIC_URL
}

func newFakeCheckout(g payment.Gateway, publicURL string) *fakeCheckout {
	fc := &fakeCheckout{Gateway: g}
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
		c.CheckoutURL = *g.base.Load() + fakeCheckoutPath + req.PaymentID.String()
	}
	return c, err
}

func (s *Server) fakeCheckoutRoutes() {
	s.handle("GET", fakeCheckoutPath+"{payment_id}", rolePublic, s.fakeCheckoutPage)
	s.handle("POST", fakeCheckoutPath+"{payment_id}", rolePublic, s.fakeCheckoutComplete)
}

var errNoFakeGateway = newAPIError(http.StatusNotFound, "NOT_FOUND", "the payment gateway is not the fake one")

// checkoutPayment is the payment of the page, while the fake gateway is in use.
func (s *Server) checkoutPayment(r *http.Request) (payment.Session, error) {
	if s.app.checkout == nil {
		return payment.Session{}, errNoFakeGateway
	}
	id, err := pathID(r, "payment_id")
	if err != nil {
		return payment.Session{}, err
	}
	return s.app.payments.Get(r.Context(), id)
}

func (s *Server) fakeCheckoutPage(w http.ResponseWriter, r *http.Request, _ caller) error {
	p, err := s.checkoutPayment(r)
	if err != nil {
		return err
	}
	return writeCheckoutPage(w, p, "")
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
	return writeCheckoutPage(w, p, outcome)
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

func writeCheckoutPage(w http.ResponseWriter, p payment.Session, outcome string) error {
	var buf bytes.Buffer
	err := checkoutPage.Execute(&buf, map[string]any{
		"ID": p.ID, "Purpose": strings.ReplaceAll(string(p.Purpose), "_", " "), "Amount": p.Amount, "Currency": p.Currency,
		"Discount": p.DiscountAmount, "Status": string(p.Status), "Outcome": outcome, "Path": fakeCheckoutPath + p.ID.String(),
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
