package main

// Xendit's callbacks (PAYMENT_GATEWAY=xendit). Xendit posts what became of an invoice (paid
// or expired), a refund (succeeded or failed) and a payout (succeeded, failed or reversed)
// to the three routes below, whose URLs are set in its dashboard. They take no bearer
// token: each callback carries the account's verification token in x-callback-token,
// compared in constant time with XENDIT_CALLBACK_TOKEN before the body is read; a missing
// or wrong one is 401.
//
// Xendit delivers a callback again until it is answered 2xx, so each answer says whether
// another delivery could help:
//
//   - 200 {"result": "applied"} once what the callback says is recorded;
//   - 200 {"result": "unchanged"} for a callback already applied or overtaken: the SDK's
//     transitions only move forward (a payment pending → paid once, a refund or a payout
//     decided once), so a duplicate, or a word arriving after a later one (an invoice
//     expired after it was paid), changes nothing;
//   - 200 {"result": "ignored"}, logged, for a callback about something this server did
//     not make (an unknown invoice, refund or payout), a status it does not act on, or a
//     callback that contradicts what it recorded (another amount, currency or provider
//     reference). Another delivery would not make it right: an operator reads the log.
//   - 400 for a body that is not a callback; 409 for a payout reversal that arrives before
//     the payout's success (delivered again later, it applies); 5xx while a backing
//     service is down (delivered again, it applies then).

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/payment/xendit"
)

// Xendit's callback routes, as its dashboard is told them (after PUBLIC_URL).
const (
	xenditInvoicePath = "/api/payments/xendit/invoice"
	xenditRefundPath  = "/api/payments/xendit/refund"
	xenditPayoutPath  = "/api/payments/xendit/payout"
)

// xenditRoutes registers Xendit's callbacks; registerRoutes calls it only while Xendit is
// the gateway in use.
func (s *Server) xenditRoutes() {
	s.handle("POST", xenditInvoicePath, rolePublic, s.xenditInvoiceCallback)
	s.handle("POST", xenditRefundPath, rolePublic, s.xenditRefundCallback)
	s.handle("POST", xenditPayoutPath, rolePublic, s.xenditPayoutCallback)
}

// What a callback did (the answer's result).
const (
	callbackApplied   = "applied"
	callbackUnchanged = "unchanged"
	callbackIgnored   = "ignored"
)

// errPayoutReversedEarly answers a reversal of a payout whose success is not recorded yet:
// not 2xx, so that Xendit delivers it again once the success callback has arrived.
var errPayoutReversedEarly = newAPIError(http.StatusConflict, "INVALID_STATE",
	"the payout has not succeeded here yet: its reversal applies once its success is recorded; deliver it again later")

// xenditCallbackBody checks the callback token, then reads the body.
func (s *Server) xenditCallbackBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := s.app.xendit.VerifyCallback(r); err != nil {
		return nil, err
	}
	return readBody(w, r)
}

// xenditAnswer writes the 200 answer of a callback.
func xenditAnswer(w http.ResponseWriter, result string) error {
	writeJSON(w, http.StatusOK, map[string]string{"result": result})
	return nil
}

// xenditIgnore logs a callback that changes nothing and will not (see the file's comment)
// and answers it 200 ignored.
func (s *Server) xenditIgnore(w http.ResponseWriter, r *http.Request, level slog.Level, msg string, args ...any) error {
	s.log.Log(r.Context(), level, msg, append([]any{"request_id", w.Header().Get(requestIDHeader)}, args...)...)
	return xenditAnswer(w, callbackIgnored)
}

// xenditUnknown is true for the parse errors of a callback about something this server
// did not make, or of a status it does not act on.
func xenditUnknown(err error) bool {
	return errors.Is(err, xendit.ErrUnknownReference) || errors.Is(err, xendit.ErrUnsupportedEvent)
}

// xenditInvoiceCallback: an invoice (a payment's charge, external_id = the payment id) was
// paid (PAID or SETTLED) or expired. Paid marks the payment paid, expired marks it expired
// (its pairing or extension is released). Both apply only to the payment the invoice was
// made for: the invoice's id must be the payment's provider_ref (when it has one yet), and
// its amount and currency the payment's. A callback that disagrees is not a payment of
// this payment — a forgery with a leaked token, or a bug — so nothing is marked and it is
// logged as an error for an operator to reconcile with Xendit's dashboard (answered 200:
// another delivery would say the same).
func (s *Server) xenditInvoiceCallback(w http.ResponseWriter, r *http.Request, _ caller) error {
	raw, err := s.xenditCallbackBody(w, r)
	if err != nil {
		return err
	}
	ev, err := xendit.ParseInvoiceCallback(raw)
	if xenditUnknown(err) {
		return s.xenditIgnore(w, r, slog.LevelWarn, "xendit: invoice callback for an invoice this server did not create",
			"invoice_id", ev.InvoiceID, "status", ev.Status, "err", err)
	}
	if err != nil {
		return err
	}
	if ev.Status != xendit.InvoicePaid && ev.Status != xendit.InvoiceExpired {
		return s.xenditIgnore(w, r, slog.LevelInfo, "xendit: invoice callback with a status this server does not act on",
			"invoice_id", ev.InvoiceID, "payment_id", ev.PaymentID, "status", ev.Status)
	}
	ctx := r.Context()
	before, err := s.app.payments.Get(ctx, ev.PaymentID)
	if errors.Is(err, curhat.ErrNotFound) {
		return s.xenditIgnore(w, r, slog.LevelWarn, "xendit: invoice callback for an unknown payment",
			"invoice_id", ev.InvoiceID, "payment_id", ev.PaymentID, "status", ev.Status)
	}
	if err != nil {
		return err
	}
	if problem := invoiceMismatch(before, ev); problem != "" {
		return s.xenditIgnore(w, r, slog.LevelError, "xendit: invoice callback does not match its payment; nothing was marked",
			"invoice_id", ev.InvoiceID, "payment_id", ev.PaymentID, "status", ev.Status, "problem", problem)
	}
	var after payment.Session
	if ev.Status == xendit.InvoicePaid {
		// A payment that expired or was cancelled meanwhile is refunded (MarkPaid).
		after, err = s.app.payments.MarkPaid(ctx, before.ID, ev.InvoiceID)
	} else {
		after, err = s.app.payments.MarkExpired(ctx, before.ID)
	}
	if errors.Is(err, curhat.ErrInvalidState) {
		return xenditAnswer(w, callbackUnchanged)
	}
	if err != nil {
		return err
	}
	if after.Status == before.Status {
		return xenditAnswer(w, callbackUnchanged)
	}
	return xenditAnswer(w, callbackApplied)
}

// invoiceMismatch says how the invoice event disagrees with the payment it names ("" when
// it does not).
func invoiceMismatch(p payment.Session, ev xendit.InvoiceEvent) string {
	switch {
	case p.ProviderRef != "" && p.ProviderRef != ev.InvoiceID:
		return fmt.Sprintf("the payment's invoice is %s", p.ProviderRef)
	case ev.Amount != p.Amount:
		return fmt.Sprintf("amount %d, the payment's is %d", ev.Amount, p.Amount)
	case ev.Currency != p.Currency:
		return fmt.Sprintf("currency %q, the payment's is %q", ev.Currency, p.Currency)
	}
	return ""
}

// xenditRefundCallback: a refund Xendit accepted (processing) succeeded or failed. A
// success records it and posts it to the ledger; a failure makes it failed (retried with
// a new idempotency key) or, when Xendit can never make it, manual. A callback naming
// another Xendit refund than the one recorded (an earlier attempt's) is ignored.
func (s *Server) xenditRefundCallback(w http.ResponseWriter, r *http.Request, _ caller) error {
	raw, err := s.xenditCallbackBody(w, r)
	if err != nil {
		return err
	}
	ev, err := xendit.ParseRefundCallback(raw)
	if xenditUnknown(err) {
		return s.xenditIgnore(w, r, slog.LevelWarn, "xendit: refund callback this server does not act on",
			"xendit_refund_id", ev.ProviderRef, "err", err)
	}
	if err != nil {
		return err
	}
	ctx := r.Context()
	before, err := s.app.payments.GetRefund(ctx, ev.RefundID)
	if errors.Is(err, curhat.ErrNotFound) {
		return s.xenditIgnore(w, r, slog.LevelWarn, "xendit: refund callback for an unknown refund",
			"refund_id", ev.RefundID, "xendit_refund_id", ev.ProviderRef)
	}
	if err != nil {
		return err
	}
	if before.ProviderRef != "" && before.ProviderRef != ev.ProviderRef {
		return s.xenditIgnore(w, r, slog.LevelWarn, "xendit: refund callback about another Xendit refund than the one recorded",
			"refund_id", ev.RefundID, "xendit_refund_id", ev.ProviderRef, "recorded", before.ProviderRef, "status", before.Status)
	}
	after, err := s.app.payments.RefundOutcome(ctx, ev.Outcome())
	if errors.Is(err, curhat.ErrInvalidState) {
		return xenditAnswer(w, callbackUnchanged)
	}
	if err != nil {
		return err
	}
	if after.Status == before.Status {
		return xenditAnswer(w, callbackUnchanged)
	}
	return xenditAnswer(w, callbackApplied)
}

// xenditPayoutCallback: a payout Xendit accepted succeeded or failed, or one that succeeded
// was reversed. Failed and reversed make its amount available to the mitra again. A
// success or failure of a payout already decided otherwise changes nothing and is logged
// (a success of a payout recorded failed as an error: its amount was made available again
// and may be paid out twice). A reversal before the success is recorded is 409, so that
// Xendit delivers it again.
func (s *Server) xenditPayoutCallback(w http.ResponseWriter, r *http.Request, _ caller) error {
	raw, err := s.xenditCallbackBody(w, r)
	if err != nil {
		return err
	}
	ev, err := xendit.ParsePayoutCallback(raw)
	if xenditUnknown(err) {
		return s.xenditIgnore(w, r, slog.LevelWarn, "xendit: payout callback this server does not act on",
			"xendit_payout_id", ev.ProviderRef, "err", err)
	}
	if err != nil {
		return err
	}
	ctx := r.Context()
	payouts := s.app.client.Payouts()
	before, err := payouts.Get(ctx, ev.PayoutID)
	if errors.Is(err, curhat.ErrNotFound) {
		return s.xenditIgnore(w, r, slog.LevelWarn, "xendit: payout callback for an unknown payout",
			"payout_id", ev.PayoutID, "xendit_payout_id", ev.ProviderRef, "status", ev.Status)
	}
	if err != nil {
		return err
	}
	if before.ProviderRef != "" && before.ProviderRef != ev.ProviderRef {
		return s.xenditIgnore(w, r, slog.LevelWarn, "xendit: payout callback about another Xendit payout than the one recorded",
			"payout_id", ev.PayoutID, "xendit_payout_id", ev.ProviderRef, "recorded", before.ProviderRef)
	}
	var after payout.Payout
	switch ev.Status {
	case payout.StatusSucceeded:
		after, err = payouts.Succeeded(ctx, ev.PayoutID, ev.ProviderRef)
	case payout.StatusFailed:
		after, err = payouts.Failed(ctx, ev.PayoutID, ev.FailureReason)
	default: // payout.StatusReversed
		after, err = payouts.Reversed(ctx, ev.PayoutID, ev.FailureReason)
		if errors.Is(err, curhat.ErrInvalidState) && (after.Status == payout.StatusPending || after.Status == payout.StatusProcessing) {
			return errPayoutReversedEarly
		}
	}
	if errors.Is(err, curhat.ErrInvalidState) {
		level := slog.LevelInfo
		if ev.Status == payout.StatusSucceeded {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "xendit: payout callback contradicts the payout's recorded outcome; nothing changed",
			"request_id", w.Header().Get(requestIDHeader), "payout_id", ev.PayoutID, "callback", ev.Status,
			"recorded", after.Status, "reason", ev.FailureReason)
		return xenditAnswer(w, callbackUnchanged)
	}
	if err != nil {
		return err
	}
	if after.Status == before.Status {
		return xenditAnswer(w, callbackUnchanged)
	}
	return xenditAnswer(w, callbackApplied)
}
