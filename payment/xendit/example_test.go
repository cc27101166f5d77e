package xendit_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/curhat/curhat/payment/xendit"
)

// A host's invoice callback endpoint: verify the token, parse, act. Unknown invoices are
// logged and answered 200, so that Xendit stops sending them.
func ExampleClient_VerifyCallback() {
	client, err := xendit.New(xendit.Config{SecretKey: "xnd_development_example", CallbackToken: "token-from-the-dashboard"})
	if err != nil {
		panic(err)
	}
	handle := func(w http.ResponseWriter, r *http.Request) {
		if err := client.VerifyCallback(r); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		ev, err := xendit.ParseInvoiceCallback(body)
		switch {
		case errors.Is(err, xendit.ErrUnknownReference):
			fmt.Println("not ours:", ev.InvoiceID)
		case err != nil:
			http.Error(w, "bad callback", http.StatusBadRequest)
		case ev.Status == xendit.InvoicePaid:
			fmt.Println("paid:", ev.PaymentID, ev.Amount, ev.Currency, ev.PaidAt.Format(time.RFC3339))
		case ev.Status == xendit.InvoiceExpired:
			fmt.Println("expired:", ev.PaymentID)
		}
	}

	post := func(token, body string) int {
		r := httptest.NewRequest(http.MethodPost, "/api/payments/xendit/invoice", strings.NewReader(body))
		if token != "" {
			r.Header.Set("x-callback-token", token)
		}
		w := httptest.NewRecorder()
		handle(w, r)
		return w.Code
	}
	paid := `{"id":"593f4ed1c3d3bb7f39733d83","external_id":"0f8fad5b-d9cb-469f-a165-70867728950e",` +
		`"status":"PAID","amount":25000,"currency":"IDR","paid_at":"2026-03-01T10:05:00.000Z","payment_channel":"OVO"}`
	fmt.Println(post("token-from-the-dashboard", paid))
	fmt.Println(post("forged", paid))
	fmt.Println(post("token-from-the-dashboard", `{"id":"5f3","external_id":"order-17","status":"PAID","amount":1}`))
	// Output:
	// paid: 0f8fad5b-d9cb-469f-a165-70867728950e 25000 IDR 2026-03-01T10:05:00Z
	// 200
	// 401
	// not ours: 5f3
	// 200
}
