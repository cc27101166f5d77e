package xendit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/payment/xendit"
	"github.com/curhat/curhat/payment/xendit/xendittest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	secretKey     = "xnd_development_test_secret_key"
	callbackToken = "test-callback-token"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type bundle struct {
	srv    *xendittest.Server
	client *xendit.Client
}

// setup starts a fake Xendit and a Client for it, whose clock stands at t0.
func setup(t *testing.T, configure ...func(*xendit.Config)) bundle {
	t.Helper()
	srv := xendittest.NewServer(t, secretKey, callbackToken)
	cfg := xendit.Config{
		SecretKey: secretKey, CallbackToken: callbackToken, APIURL: srv.URL,
		HTTPClient: srv.HTTPClient(), Now: func() time.Time { return t0 },
	}
	for _, c := range configure {
		c(&cfg)
	}
	client, err := xendit.New(cfg)
	require.NoError(t, err)
	return bundle{srv: srv, client: client}
}

// withTimeout gives the Client a short timeout, over the fake's transport.
func withTimeout(d time.Duration) func(*xendit.Config) {
	return func(c *xendit.Config) {
		c.HTTPClient = &http.Client{Timeout: d, Transport: c.HTTPClient.Transport}
	}
}

func chargeRequest() payment.ChargeRequest {
	return payment.ChargeRequest{
		PaymentID: uuid.New(), ClientID: uuid.New(), Amount: 25000, Currency: "IDR",
		ExpiresAt: t0.Add(15 * time.Minute),
	}
}

// paidCharge creates a charge and marks its invoice paid at the fake.
func paidCharge(t *testing.T, b bundle) (payment.ChargeRequest, payment.Charge) {
	t.Helper()
	req := chargeRequest()
	ch, err := b.client.CreateCharge(t.Context(), req)
	require.NoError(t, err)
	b.srv.SetInvoiceStatus(ch.ProviderRef, xendittest.StatusPaid)
	return req, ch
}

func refundRequest(req payment.ChargeRequest, ch payment.Charge) payment.RefundRequest {
	id := uuid.New()
	return payment.RefundRequest{
		RefundID: id, PaymentID: req.PaymentID, ProviderRef: ch.ProviderRef, Amount: req.Amount,
		Currency: "IDR", Reason: "late_payment", IdempotencyKey: id.String(),
	}
}

func payoutRequest() payout.Request {
	return payout.Request{
		PayoutID: uuid.New(), Amount: 150000, Currency: "IDR",
		Destination: payout.Destination{
			MitraID: uuid.New(), ChannelCode: "ID_BCA", AccountNumber: "000000000099", AccountHolderName: "Siti Rahma",
		},
	}
}

func TestNew_RefusesAConfigWithoutItsRequiredFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   xendit.Config
		field string
	}{
		{"no secret key", xendit.Config{CallbackToken: "tok"}, "SecretKey"},
		{"blank secret key", xendit.Config{SecretKey: "  ", CallbackToken: "tok"}, "SecretKey"},
		{"no callback token", xendit.Config{SecretKey: "key"}, "CallbackToken"},
		{"relative API URL", xendit.Config{SecretKey: "key", CallbackToken: "tok", APIURL: "api.xendit.co"}, "APIURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := xendit.New(tc.cfg)
			require.ErrorContains(t, err, tc.field)
		})
	}
	c, err := xendit.New(xendit.Config{SecretKey: "key", CallbackToken: "tok"})
	require.NoError(t, err)
	require.NotNil(t, c)
}

func TestCreateCharge_CreatesAnInvoiceWithThePaymentsFields(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *xendit.Config) { c.SuccessRedirectURL = "https://app.example/paid" })
	req := chargeRequest()

	ch, err := b.client.CreateCharge(t.Context(), req)
	require.NoError(t, err)

	invs := b.srv.Invoices()
	require.Len(t, invs, 1)
	inv := invs[0]
	require.Equal(t, req.PaymentID.String(), inv.ExternalID)
	require.Equal(t, req.Amount, inv.Amount)
	require.Equal(t, "IDR", inv.Currency)
	require.Equal(t, int64(15*60), inv.Duration, "invoice_duration: the seconds left until the payment expires")
	require.Contains(t, inv.Description, req.PaymentID.String())
	require.Equal(t, "https://app.example/paid", inv.SuccessRedirectURL)
	require.Equal(t, xendittest.StatusPending, inv.Status)
	require.Equal(t, payment.Charge{ProviderRef: inv.ID, CheckoutURL: inv.InvoiceURL}, ch)
	require.Equal(t, 1, b.srv.Calls(xendittest.EndpointListInvoices), "the payment's invoices are looked up first")
	require.Equal(t, 1, b.srv.Calls(xendittest.EndpointCreateInvoice))
}

func TestCreateCharge_InvoiceDurationIsAtLeastOneSecondRoundedUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		left     time.Duration
		duration int64
	}{
		{"a fraction of a second rounds up", 1500 * time.Millisecond, 2},
		{"already past: one second", -time.Minute, 1},
		{"exactly now: one second", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req := chargeRequest()
			req.ExpiresAt = t0.Add(tc.left)
			_, err := b.client.CreateCharge(t.Context(), req)
			require.NoError(t, err)
			require.Equal(t, tc.duration, b.srv.Invoices()[0].Duration)
		})
	}
}

func TestCreateCharge_PendingPaymentPastItsTTLReusesTheInvoiceALostAnswerCreated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := chargeRequest()
	b.srv.LoseNextAnswer(xendittest.EndpointCreateInvoice)

	_, err := b.client.CreateCharge(t.Context(), req)
	require.ErrorIs(t, err, payment.ErrUnavailable, "a lost answer is an outage: the outcome is unknown")
	require.NotErrorIs(t, err, payment.ErrPaymentDeclined)

	req.ExpiresAt = t0.Add(-time.Second) // retried after the payment's TTL
	ch, err := b.client.CreateCharge(t.Context(), req)
	require.NoError(t, err)

	invs := b.srv.Invoices()
	require.Len(t, invs, 1, "the retry found the invoice the lost answer created")
	require.Equal(t, payment.Charge{ProviderRef: invs[0].ID, CheckoutURL: invs[0].InvoiceURL}, ch)
	require.Equal(t, 1, b.srv.Calls(xendittest.EndpointCreateInvoice), "one POST /v2/invoices")
	require.Equal(t, 2, b.srv.Calls(xendittest.EndpointListInvoices))

	again, err := b.client.CreateCharge(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, ch, again, "a second CreateCharge for the same payment reuses the invoice")
	require.Equal(t, 1, b.srv.Calls(xendittest.EndpointCreateInvoice))
}

func TestCreateCharge_ReusesAPaidInvoiceButNotAnExpiredOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := chargeRequest()
	first, err := b.client.CreateCharge(t.Context(), req)
	require.NoError(t, err)

	b.srv.SetInvoiceStatus(first.ProviderRef, xendittest.StatusPaid)
	again, err := b.client.CreateCharge(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, first, again, "a paid invoice is the payment's charge: its callback confirms it")

	b.srv.SetInvoiceStatus(first.ProviderRef, xendittest.StatusExpired)
	fresh, err := b.client.CreateCharge(t.Context(), req)
	require.NoError(t, err)
	require.NotEqual(t, first.ProviderRef, fresh.ProviderRef, "an expired invoice cannot be paid: a new one")
	require.Equal(t, 2, b.srv.Calls(xendittest.EndpointCreateInvoice))
}

func TestCreateCharge_DeclinedInvoiceIsErrPaymentDeclined(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.DeclineInvoices(true)

	_, err := b.client.CreateCharge(t.Context(), chargeRequest())
	require.ErrorIs(t, err, payment.ErrPaymentDeclined)
	require.NotErrorIs(t, err, payment.ErrUnavailable)
	var apiErr *xendit.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	require.Equal(t, "NO_COLLECTION_METHODS_ERROR", apiErr.Code)
	require.Empty(t, b.srv.Invoices())
}

func TestCreateCharge_ErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		endpoint    string
		status      int
		body        string
		unavailable bool
	}{
		{"5xx on create", xendittest.EndpointCreateInvoice, 503, `{"error_code":"SERVER_ERROR","message":"down"}`, true},
		{"5xx on look-up", xendittest.EndpointListInvoices, 500, `{"error_code":"SERVER_ERROR","message":"down"}`, true},
		{"429", xendittest.EndpointCreateInvoice, 429, `{"error_code":"RATE_LIMIT_EXCEEDED","message":"slow down"}`, true},
		{"5xx without a body", xendittest.EndpointCreateInvoice, 502, ``, true},
		{"other 4xx", xendittest.EndpointCreateInvoice, 400, `{"error_code":"API_VALIDATION_ERROR","message":"bad"}`, false},
		{"bad key", xendittest.EndpointListInvoices, 401, `{"error_code":"INVALID_API_KEY","message":"no"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.srv.FailNext(tc.endpoint, tc.status, tc.body)
			_, err := b.client.CreateCharge(t.Context(), chargeRequest())
			require.Error(t, err)
			require.NotErrorIs(t, err, payment.ErrPaymentDeclined)
			require.Equal(t, tc.unavailable, errors.Is(err, payment.ErrUnavailable), "%v", err)
			require.NotContains(t, err.Error(), secretKey)
			if tc.endpoint == xendittest.EndpointListInvoices {
				require.Zero(t, b.srv.Calls(xendittest.EndpointCreateInvoice), "no create without knowing what exists")
			}
		})
	}
}

func TestCreateCharge_TimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, withTimeout(200*time.Millisecond))
	b.srv.StallNext(xendittest.EndpointCreateInvoice, 5*time.Second)

	_, err := b.client.CreateCharge(t.Context(), chargeRequest())
	require.ErrorIs(t, err, payment.ErrUnavailable)
}

func TestRefund_SucceededAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, ch := paidCharge(t, b)
	b.srv.RefundOutcome(xendittest.RefundSucceeded)
	rr := refundRequest(req, ch)

	rec, err := b.client.Refund(t.Context(), rr)
	require.NoError(t, err)

	refunds := b.srv.Refunds()
	require.Len(t, refunds, 1)
	got := refunds[0]
	require.Equal(t, payment.RefundReceipt{ProviderRef: got.ID, Status: payment.RefundSucceeded}, rec)
	require.Equal(t, ch.ProviderRef, got.InvoiceID)
	require.Equal(t, rr.RefundID.String(), got.ReferenceID)
	require.Equal(t, rr.IdempotencyKey, got.IdempotencyKey, "the SDK's key is the Idempotency-key header")
	require.Equal(t, rr.Amount, got.Amount)
	require.Equal(t, "IDR", got.Currency)
	require.Equal(t, "CANCELLATION", got.Reason)
	require.Equal(t, "SUCCEEDED", got.Status)
}

func TestRefund_PendingIsProcessing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, ch := paidCharge(t, b)

	rec, err := b.client.Refund(t.Context(), refundRequest(req, ch))
	require.NoError(t, err)
	require.Equal(t, payment.RefundProcessing, rec.Status, "accepted; the outcome comes by callback")
	require.Equal(t, b.srv.Refunds()[0].ID, rec.ProviderRef)
}

func TestRefund_ReasonFromFreeText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct{ text, want string }{
		{"late_payment", "CANCELLATION"},
		{"pairing timeout: no mitra accepted", "CANCELLATION"},
		{"", "CANCELLATION"},
		{"requested by the client", "REQUESTED_BY_CUSTOMER"},
		{"Customer asked", "REQUESTED_BY_CUSTOMER"},
	} {
		req, ch := paidCharge(t, b)
		rr := refundRequest(req, ch)
		rr.Reason = tc.text
		_, err := b.client.Refund(t.Context(), rr)
		require.NoError(t, err)
		refunds := b.srv.Refunds()
		require.Equal(t, tc.want, refunds[len(refunds)-1].Reason, tc.text)
	}
}

func TestRefund_FailedIsAPlainError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode xendittest.RefundMode
		code string
	}{
		{"made but FAILED", xendittest.RefundFailed, "REFUND_FAILED"},
		{"refused with a 400", xendittest.RefundRefused, "INSUFFICIENT_BALANCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req, ch := paidCharge(t, b)
			b.srv.RefundOutcome(tc.mode)

			_, err := b.client.Refund(t.Context(), refundRequest(req, ch))
			require.ErrorContains(t, err, tc.code)
			require.NotErrorIs(t, err, payment.ErrUnavailable, "a final failure: the next attempt gets a new key")
			require.NotErrorIs(t, err, payment.ErrRefundNotPossible)
		})
	}
}

func TestRefund_NotPossibleWrapsErrRefundNotPossible(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mode   xendittest.RefundMode
		amount int64 // 0: the whole payment
		code   string
	}{
		{"channel without refunds", xendittest.RefundNotSupported, 0, "REFUND_NOT_SUPPORTED"},
		{"refund window passed", xendittest.RefundWindowPassed, 0, "INELIGIBLE_TRANSACTION"},
		{"documented test amount: refunds not supported", xendittest.RefundPending, 10303, "REFUND_NOT_SUPPORTED"},
		{"documented test amount: no partial refunds", xendittest.RefundPending, 10301, "PARTIAL_REFUND_NOT_SUPPORTED"},
		{"documented test amount: ineligible", xendittest.RefundPending, 10305, "INELIGIBLE_TRANSACTION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req, ch := paidCharge(t, b)
			b.srv.RefundOutcome(tc.mode)
			rr := refundRequest(req, ch)
			if tc.amount != 0 {
				rr.Amount = tc.amount
			}

			_, err := b.client.Refund(t.Context(), rr)
			require.ErrorIs(t, err, payment.ErrRefundNotPossible, "the SDK marks it manual")
			require.ErrorContains(t, err, tc.code)
			require.NotErrorIs(t, err, payment.ErrUnavailable)
			require.Empty(t, b.srv.Refunds())
		})
	}
}

func TestRefund_DocumentedTestAmountOverTheRemainderIsAPlainError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, ch := paidCharge(t, b)
	rr := refundRequest(req, ch)
	rr.Amount = 10300

	_, err := b.client.Refund(t.Context(), rr)
	require.ErrorContains(t, err, "MAXIMUM_REFUND_AMOUNT_REACHED")
	require.NotErrorIs(t, err, payment.ErrRefundNotPossible)
	require.NotErrorIs(t, err, payment.ErrUnavailable)
}

func TestRefund_5xxThenSuccessWithTheSameKeyMakesOneRefund(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, ch := paidCharge(t, b)
	rr := refundRequest(req, ch)
	b.srv.FailNext(xendittest.EndpointCreateRefund, http.StatusServiceUnavailable,
		`{"error_code":"CHANNEL_UNAVAILABLE","message":"The payment channel requested is currently experiencing unexpected issues."}`)

	_, err := b.client.Refund(t.Context(), rr)
	require.ErrorIs(t, err, payment.ErrUnavailable, "outcome unknown: the SDK retries with the same key")

	rec, err := b.client.Refund(t.Context(), rr)
	require.NoError(t, err)
	require.Len(t, b.srv.Refunds(), 1, "one refund made")
	require.Equal(t, b.srv.Refunds()[0].ID, rec.ProviderRef)
	require.Equal(t, 2, b.srv.KeyCalls(rr.IdempotencyKey))
}

func TestRefund_LostAnswerRetriedWithTheSameKeyMakesOneRefund(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mode    xendittest.DuplicateMode
		lookups int
	}{
		{"the provider replays the first answer", xendittest.DuplicateReplay, 0},
		{"the provider answers 409 DUPLICATE_ERROR", xendittest.DuplicateConflict, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.srv.DuplicateKeys(tc.mode)
			req, ch := paidCharge(t, b)
			rr := refundRequest(req, ch)
			b.srv.LoseNextAnswer(xendittest.EndpointCreateRefund)

			_, err := b.client.Refund(t.Context(), rr)
			require.ErrorIs(t, err, payment.ErrUnavailable)

			rec, err := b.client.Refund(t.Context(), rr)
			require.NoError(t, err)
			refunds := b.srv.Refunds()
			require.Len(t, refunds, 1, "one refund made")
			require.Equal(t, payment.RefundReceipt{ProviderRef: refunds[0].ID, Status: payment.RefundProcessing}, rec)
			require.Equal(t, tc.lookups, b.srv.Calls(xendittest.EndpointListRefunds))

			again, err := b.client.Refund(t.Context(), rr)
			require.NoError(t, err)
			require.Equal(t, rec, again, "a duplicate answers the same")
			require.Len(t, b.srv.Refunds(), 1)
		})
	}
}

func TestRefund_TimeoutThenRetryMakesOneRefund(t *testing.T) {
	t.Parallel()
	b := setup(t, withTimeout(300*time.Millisecond))
	req, ch := paidCharge(t, b)
	rr := refundRequest(req, ch)
	b.srv.StallNext(xendittest.EndpointCreateRefund, 5*time.Second)

	_, err := b.client.Refund(t.Context(), rr)
	require.ErrorIs(t, err, payment.ErrUnavailable)

	require.Eventually(t, func() bool { return len(b.srv.Refunds()) == 1 }, 5*time.Second, 10*time.Millisecond,
		"the stalled request was made after its caller gave up")
	rec, err := b.client.Refund(t.Context(), rr)
	require.NoError(t, err)
	require.Len(t, b.srv.Refunds(), 1)
	require.Equal(t, b.srv.Refunds()[0].ID, rec.ProviderRef)
}

func TestRefund_NewKeyAfterAFinalFailureIsANewRefund(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.DuplicateKeys(xendittest.DuplicateConflict)
	req, ch := paidCharge(t, b)
	rr := refundRequest(req, ch)
	b.srv.RefundOutcome(xendittest.RefundFailed)
	_, err := b.client.Refund(t.Context(), rr)
	require.Error(t, err)
	require.NotErrorIs(t, err, payment.ErrUnavailable)

	b.srv.RefundOutcome(xendittest.RefundPending)
	rr.IdempotencyKey = rr.RefundID.String() + ":1"
	b.srv.LoseNextAnswer(xendittest.EndpointCreateRefund)
	_, err = b.client.Refund(t.Context(), rr)
	require.ErrorIs(t, err, payment.ErrUnavailable)
	rec, err := b.client.Refund(t.Context(), rr)
	require.NoError(t, err)

	refunds := b.srv.Refunds()
	require.Len(t, refunds, 2, "the failed attempt and the new key's")
	require.Equal(t, "FAILED", refunds[0].Status)
	require.Equal(t, rr.IdempotencyKey, refunds[1].IdempotencyKey)
	require.Equal(t, refunds[1].ID, rec.ProviderRef, "the 409 found this key's refund, not the failed one")
}

func TestRefund_409WhileTheFirstIsNotFoundIsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, ch := paidCharge(t, b)
	b.srv.FailNext(xendittest.EndpointCreateRefund, http.StatusConflict,
		`{"error_code":"DUPLICATE_ERROR","message":"duplicate value on idempotency_key, try again with a new key"}`)

	_, err := b.client.Refund(t.Context(), refundRequest(req, ch))
	require.ErrorIs(t, err, payment.ErrUnavailable, "never a final failure: a new key could refund twice")
}

func TestSend_AcceptedIsProcessing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := payoutRequest()

	res, err := b.client.Send(t.Context(), r)
	require.NoError(t, err)

	payouts := b.srv.Payouts()
	require.Len(t, payouts, 1)
	p := payouts[0]
	require.Equal(t, payout.Result{Status: payout.StatusProcessing, ProviderRef: p.ID}, res)
	require.Equal(t, r.PayoutID.String(), p.IdempotencyKey)
	require.Equal(t, r.PayoutID.String(), p.ReferenceID)
	require.Equal(t, "ID_BCA", p.ChannelCode)
	require.Equal(t, "000000000099", p.AccountNumber)
	require.Equal(t, "Siti Rahma", p.AccountHolderName)
	require.Equal(t, r.Amount, p.Amount)
	require.Equal(t, "IDR", p.Currency)
	require.NotEmpty(t, p.Description)
}

func TestSend_Outcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mode   xendittest.PayoutMode
		status payout.Status
		reason string
		made   bool
	}{
		{"succeeded", xendittest.PayoutSucceeded, payout.StatusSucceeded, "", true},
		{"failed", xendittest.PayoutFailed, payout.StatusFailed, "INVALID_DESTINATION", true},
		{"refused with a 400", xendittest.PayoutRejected, payout.StatusFailed, "RECIPIENT_ACCOUNT_NUMBER_ERROR", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.srv.PayoutOutcome(tc.mode)
			res, err := b.client.Send(t.Context(), payoutRequest())
			require.NoError(t, err, "a refusal is a result, not an outage")
			require.Equal(t, tc.status, res.Status)
			require.Equal(t, tc.reason, res.FailureReason)
			require.Equal(t, tc.made, len(b.srv.Payouts()) == 1)
		})
	}
}

func TestSend_OutageIsAnErrorAndTheRetryPaysOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ status int }{{500}, {503}, {429}, {401}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := payoutRequest()
			b.srv.FailNext(xendittest.EndpointCreatePayout, tc.status, `{"error_code":"SERVER_ERROR","message":"x"}`)

			_, err := b.client.Send(t.Context(), r)
			require.Error(t, err, "the payout stays pending and is sent again")

			res, err := b.client.Send(t.Context(), r)
			require.NoError(t, err)
			require.Equal(t, payout.StatusProcessing, res.Status)
			require.Len(t, b.srv.Payouts(), 1)
			require.Equal(t, 2, b.srv.KeyCalls(r.PayoutID.String()))
		})
	}
}

func TestSend_LostAnswerRetriedPaysOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode xendittest.DuplicateMode
	}{
		{"the provider replays the first answer", xendittest.DuplicateReplay},
		{"the provider answers 409 DUPLICATE_ERROR", xendittest.DuplicateConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.srv.DuplicateKeys(tc.mode)
			r := payoutRequest()
			b.srv.LoseNextAnswer(xendittest.EndpointCreatePayout)

			_, err := b.client.Send(t.Context(), r)
			require.ErrorIs(t, err, payout.ErrUnavailable)

			res, err := b.client.Send(t.Context(), r)
			require.NoError(t, err)
			payouts := b.srv.Payouts()
			require.Len(t, payouts, 1)
			require.Equal(t, payout.Result{Status: payout.StatusProcessing, ProviderRef: payouts[0].ID}, res)
		})
	}
}

func TestExpireCharge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status string // the invoice's status before; "" for an unknown invoice
		paid   bool
		ok     bool
		after  string
	}{
		{"pending: expired", xendittest.StatusPending, false, true, xendittest.StatusExpired},
		{"already expired: no error", xendittest.StatusExpired, false, true, xendittest.StatusExpired},
		{"already paid", xendittest.StatusPaid, true, false, xendittest.StatusPaid},
		{"already settled", xendittest.StatusSettled, true, false, xendittest.StatusSettled},
		{"unknown invoice", "", false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ref := "0123456789abcdef01234567"
			if tc.status != "" {
				ch, err := b.client.CreateCharge(t.Context(), chargeRequest())
				require.NoError(t, err)
				ref = ch.ProviderRef
				b.srv.SetInvoiceStatus(ref, tc.status)
			}

			err := b.client.ExpireCharge(t.Context(), ref)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.Equal(t, tc.paid, errors.Is(err, payment.ErrChargePaid), "%v", err)
				require.NotErrorIs(t, err, payment.ErrUnavailable)
			}
			if tc.after != "" {
				inv, _ := b.srv.Invoice(ref)
				require.Equal(t, tc.after, inv.Status)
			}
			require.Equal(t, 1, b.srv.Calls(xendittest.EndpointExpireInvoice))
		})
	}
}

func TestExpireCharge_OutageIsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ch, err := b.client.CreateCharge(t.Context(), chargeRequest())
	require.NoError(t, err)
	b.srv.FailNext(xendittest.EndpointExpireInvoice, 503, `{"error_code":"SERVER_ERROR","message":"down"}`)

	err = b.client.ExpireCharge(t.Context(), ch.ProviderRef)
	require.ErrorIs(t, err, payment.ErrUnavailable)
	require.NoError(t, b.client.ExpireCharge(t.Context(), ch.ProviderRef), "the retry expires it")
}

// receiver is a host's callback endpoint: it verifies, parses and records invoice events.
type receiver struct {
	mu     sync.Mutex
	events []xendit.InvoiceEvent
}

func (rc *receiver) handler(client *xendit.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := client.VerifyCallback(r); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		ev, err := xendit.ParseInvoiceCallback(body)
		switch {
		case errors.Is(err, xendit.ErrUnknownReference):
			w.WriteHeader(http.StatusOK) // logged, answered 200
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.events = append(rc.events, ev)
		rc.mu.Unlock()
	})
}

func TestVerifyCallback_OverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var rc receiver
	host := httptest.NewServer(rc.handler(b.client))
	t.Cleanup(host.Close)
	req := chargeRequest()
	ch, err := b.client.CreateCharge(t.Context(), req)
	require.NoError(t, err)
	body := b.srv.InvoiceCallback(ch.ProviderRef, xendittest.StatusPaid)

	require.Equal(t, http.StatusUnauthorized, b.srv.PostForgedCallback(host.URL, body), "forged token")
	require.Equal(t, http.StatusUnauthorized, b.srv.PostCallbackWithToken(host.URL, "", body), "no token")
	require.Equal(t, http.StatusOK, b.srv.PostCallback(host.URL, body), "the right token")
	require.Equal(t, http.StatusOK, b.srv.PostInvoiceCallback(host.URL, ch.ProviderRef, xendittest.StatusPaid), "a duplicate")

	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.Len(t, rc.events, 2)
	require.Equal(t, rc.events[0].PaymentID, req.PaymentID)
	require.Equal(t, xendit.InvoicePaid, rc.events[0].Status)
	require.Equal(t, rc.events[0].InvoiceID, rc.events[1].InvoiceID)
	require.Equal(t, rc.events[0].Status, rc.events[1].Status)
}

func TestVerifyCallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name   string
		header map[string]string
		ok     bool
	}{
		{"good", map[string]string{"x-callback-token": callbackToken}, true},
		{"canonical header name", map[string]string{"X-Callback-Token": callbackToken}, true},
		{"forged", map[string]string{"x-callback-token": "forged"}, false},
		{"a prefix of the token", map[string]string{"x-callback-token": callbackToken[:5]}, false},
		{"missing", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/api/payments/xendit/invoice", strings.NewReader("{}"))
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			err := b.client.VerifyCallback(r)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, xendit.ErrCallbackToken)
			require.NotContains(t, err.Error(), callbackToken)
		})
	}
}

func TestParseInvoiceCallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		status string
		want   string
		paid   bool
	}{
		{xendittest.StatusPaid, xendit.InvoicePaid, true},
		{xendittest.StatusSettled, xendit.InvoicePaid, true},
		{xendittest.StatusExpired, xendit.InvoiceExpired, false},
		{xendittest.StatusPending, "pending", false},
	} {
		req := chargeRequest()
		ch, err := b.client.CreateCharge(t.Context(), req)
		require.NoError(t, err)
		body := b.srv.InvoiceCallback(ch.ProviderRef, tc.status)

		ev, err := xendit.ParseInvoiceCallback(body)
		require.NoError(t, err, tc.status)
		require.Equal(t, ch.ProviderRef, ev.InvoiceID)
		require.Equal(t, req.PaymentID, ev.PaymentID)
		require.Equal(t, tc.want, ev.Status)
		require.Equal(t, req.Amount, ev.Amount)
		require.Equal(t, "IDR", ev.Currency)
		require.Equal(t, tc.paid, !ev.PaidAt.IsZero(), tc.status)

		again, err := xendit.ParseInvoiceCallback(body)
		require.NoError(t, err)
		require.Equal(t, ev, again, "a duplicate parses the same")
	}
}

func TestParseInvoiceCallback_DocumentedExampleWithUnknownFields(t *testing.T) {
	t.Parallel()
	pid := uuid.New()
	// Xendit's documented invoice callback, plus fields this package has never heard of.
	body := fmt.Sprintf(`{
		"id": "593f4ed1c3d3bb7f39733d83", "external_id": %q, "user_id": "5848fdf860053555135587e7",
		"is_high": false, "payment_method": "RETAIL_OUTLET", "status": "PAID", "merchant_name": "Xendit",
		"amount": 2000000, "paid_amount": 2000000, "paid_at": "2020-01-14T02:32:50.912Z",
		"payer_email": "test@xendit.co", "description": "Invoice webhook test",
		"created": "2020-01-13T02:32:49.827Z", "updated": "2020-01-13T02:32:50.912Z", "currency": "IDR",
		"payment_channel": "ALFAMART", "payment_destination": "TEST815",
		"payment_details": {"receipt_id": "r1", "source": "x"}, "items": [{"name": "a", "quantity": 1}],
		"a_field_from_2030": {"nested": [1, 2, 3]}
	}`, pid)
	ev, err := xendit.ParseInvoiceCallback([]byte(body))
	require.NoError(t, err)
	require.Equal(t, xendit.InvoiceEvent{
		InvoiceID: "593f4ed1c3d3bb7f39733d83", PaymentID: pid, Status: xendit.InvoicePaid,
		Amount: 2000000, Currency: "IDR", PaidAt: time.Date(2020, 1, 14, 2, 32, 50, 912_000_000, time.UTC),
	}, ev)
}

func TestParseInvoiceCallback_Refusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
		err  error
	}{
		{"not JSON", `{"id":`, xendit.ErrInvalidCallback},
		{"not an object", `[1,2]`, xendit.ErrInvalidCallback},
		{"no status", `{"id":"inv1","external_id":"` + uuid.NewString() + `"}`, xendit.ErrInvalidCallback},
		{"no id", `{"external_id":"` + uuid.NewString() + `","status":"PAID"}`, xendit.ErrInvalidCallback},
		{"fractional amount", `{"id":"inv1","external_id":"` + uuid.NewString() + `","status":"PAID","amount":10.5}`, xendit.ErrInvalidCallback},
		{"someone else's invoice", `{"id":"inv1","external_id":"testing-invoice","status":"PAID","amount":1000}`, xendit.ErrUnknownReference},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := xendit.ParseInvoiceCallback([]byte(tc.body))
			require.ErrorIs(t, err, tc.err)
			if tc.err == xendit.ErrUnknownReference {
				require.Equal(t, "inv1", ev.InvoiceID, "enough to log it")
			}
		})
	}
}

func TestParseRefundCallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, status, code     string
		succeeded, notPossible bool
	}{
		{"succeeded", "SUCCEEDED", "", true, false},
		{"failed", "FAILED", "REFUND_FAILED", false, false},
		{"failed: insufficient balance", "FAILED", "INSUFFICIENT_BALANCE", false, false},
		{"failed: window passed", "FAILED", "INELIGIBLE_TRANSACTION", false, true},
	} {
		req, ch := paidCharge(t, b)
		rr := refundRequest(req, ch)
		_, err := b.client.Refund(t.Context(), rr)
		require.NoError(t, err)
		refunds := b.srv.Refunds()
		ref := refunds[len(refunds)-1].ID
		body := b.srv.RefundCallback(ref, tc.status, tc.code)

		ev, err := xendit.ParseRefundCallback(body)
		require.NoError(t, err, tc.name)
		require.Equal(t, xendit.RefundEvent{
			RefundID: rr.RefundID, ProviderRef: ref, Succeeded: tc.succeeded, FailureCode: tc.code, NotPossible: tc.notPossible,
		}, ev, tc.name)
		require.Equal(t, payment.RefundOutcome{
			RefundID: rr.RefundID, Succeeded: tc.succeeded, ProviderRef: ref, Reason: tc.code, NotPossible: tc.notPossible,
		}, ev.Outcome())
		again, err := xendit.ParseRefundCallback(body)
		require.NoError(t, err)
		require.Equal(t, ev, again, "a duplicate parses the same")
	}
}

func TestParseRefundCallback_DocumentedShapes(t *testing.T) {
	t.Parallel()
	rid := uuid.New()
	data := fmt.Sprintf(`{"id": "rfd-6f4a377d-a201-437f-9119-f8b00cbbe857", "payment_id": "ddpy-3cd658ae",
		"invoice_id": null, "amount": 10000, "payment_method_type": "DIRECT_DEBIT", "channel_code": "BPI",
		"currency": "PHP", "status": "FAILED", "reason": "CANCELLATION", "reference_id": %q,
		"failure_code": "REFUND_FAILED", "refund_fee_amount": null, "created": "2020-08-30T09:12:33.001Z",
		"updated": "2020-08-30T09:12:33.001Z", "metadata": null, "new_field": {"x": 1}}`, rid)
	want := xendit.RefundEvent{
		RefundID: rid, ProviderRef: "rfd-6f4a377d-a201-437f-9119-f8b00cbbe857", FailureCode: "REFUND_FAILED",
	}

	flat := `{"event": "refund.failed", "business_id": "5f27a14a9bf05c73dd040bc8", "created": "2020-08-29T09:12:33.001Z", "data": ` + data + `}`
	ev, err := xendit.ParseRefundCallback([]byte(flat))
	require.NoError(t, err)
	require.Equal(t, want, ev)

	// The refund webhook page shows the envelope nested twice.
	nested := `{"event": "refund.failed", "business_id": "6094fa76c2fd53701b8e079c", "created": "2021-12-02T14:52:21.566Z",
		"data": {"event": "refund.failed", "business_id": "5f27a14a9bf05c73dd040bc8", "created": "2020-08-29T09:12:33.001Z", "data": ` + data + `}}`
	ev, err = xendit.ParseRefundCallback([]byte(nested))
	require.NoError(t, err)
	require.Equal(t, want, ev)
}

func TestParseRefundCallback_Refusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
		err  error
	}{
		{"not JSON", `nope`, xendit.ErrInvalidCallback},
		{"no data", `{"event":"refund.succeeded"}`, xendit.ErrInvalidCallback},
		{"no id", `{"event":"refund.succeeded","data":{"status":"SUCCEEDED","reference_id":"` + uuid.NewString() + `"}}`, xendit.ErrInvalidCallback},
		{"pending", `{"event":"refund.pending","data":{"id":"rfd-1","status":"PENDING","reference_id":"` + uuid.NewString() + `"}}`, xendit.ErrUnsupportedEvent},
		{"someone else's refund", `{"event":"refund.succeeded","data":{"id":"rfd-1","status":"SUCCEEDED","reference_id":"order-1234"}}`, xendit.ErrUnknownReference},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := xendit.ParseRefundCallback([]byte(tc.body))
			require.ErrorIs(t, err, tc.err)
		})
	}
}

func TestParsePayoutCallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, status, code string
		want               payout.Status
		reason             string
	}{
		{"succeeded", "SUCCEEDED", "", payout.StatusSucceeded, ""},
		{"failed", "FAILED", "INSUFFICIENT_BALANCE", payout.StatusFailed, "INSUFFICIENT_BALANCE"},
		{"reversed", "REVERSED", "INVALID_DESTINATION", payout.StatusReversed, "INVALID_DESTINATION"},
		{"reversed without a code", "REVERSED", "", payout.StatusReversed, "REVERSED"},
	} {
		r := payoutRequest()
		res, err := b.client.Send(t.Context(), r)
		require.NoError(t, err)
		body := b.srv.PayoutCallback(res.ProviderRef, tc.status, tc.code)

		ev, err := xendit.ParsePayoutCallback(body)
		require.NoError(t, err, tc.name)
		require.Equal(t, xendit.PayoutEvent{
			PayoutID: r.PayoutID, ProviderRef: res.ProviderRef, Status: tc.want, FailureReason: tc.reason,
		}, ev, tc.name)
		again, err := xendit.ParsePayoutCallback(body)
		require.NoError(t, err)
		require.Equal(t, ev, again, "a duplicate parses the same")
	}
}

func TestParsePayoutCallback_DocumentedExample(t *testing.T) {
	t.Parallel()
	pid := uuid.New()
	body := fmt.Sprintf(`{"event": "payout.succeeded", "business_id": "5f27a14a9bf05c73dd040bc8",
		"created": "2025-01-01T23:55:59Z", "data": {"id": "disb-571f3644d2b4edf0745e9703", "amount": 10000,
		"channel_code": "ID_BCA", "currency": "IDR", "status": "SUCCEEDED", "description": "July payout",
		"reference_id": %q, "created": "2024-12-31T23:53:59Z", "updated": "2024-12-31T23:53:59Z",
		"estimated_arrival_time": "2024-12-31T23:59:59Z", "business_id": "6018306aa16ad90cb3c43ba7",
		"channel_properties": {"account_number": "000000000099", "account_holder_name": "Michael Chen"},
		"unknown": [{"deep": true}]}}`, pid)
	ev, err := xendit.ParsePayoutCallback([]byte(body))
	require.NoError(t, err)
	require.Equal(t, xendit.PayoutEvent{PayoutID: pid, ProviderRef: "disb-571f3644d2b4edf0745e9703", Status: payout.StatusSucceeded}, ev)

	_, err = xendit.ParsePayoutCallback([]byte(strings.Replace(body, pid.String(), "myref-1482928194", 1)))
	require.ErrorIs(t, err, xendit.ErrUnknownReference)
	_, err = xendit.ParsePayoutCallback([]byte(strings.Replace(body, `"status": "SUCCEEDED"`, `"status": "ACCEPTED"`, 1)))
	require.ErrorIs(t, err, xendit.ErrUnsupportedEvent)
	_, err = xendit.ParsePayoutCallback([]byte(`{"event": "payout.succeeded"`))
	require.ErrorIs(t, err, xendit.ErrInvalidCallback)
}

func TestClient_CancelledContextIsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.client.CreateCharge(ctx, chargeRequest())
	require.ErrorIs(t, err, payment.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
}
