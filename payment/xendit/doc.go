// Package xendit is the payment gateway and payout provider over Xendit's public REST API
// (Indonesia: cards, e-wallets, QRIS, virtual accounts), with the standard library's
// net/http only. A Client is a payment.Gateway, a payment.ChargeExpirer and a
// payout.Payouts; the package also verifies and parses Xendit's callbacks (webhooks).
//
// What the Client sends, and why:
//
//   - A charge is an invoice: POST /v2/invoices with external_id = the payment id, amount,
//     currency, invoice_duration = the seconds left until the payment expires, and a
//     description. Its invoice_url is the checkout URL, its id the charge's reference.
//     Invoice creation takes no idempotency key at Xendit, so CreateCharge first looks the
//     payment's invoices up (GET /v2/invoices?external_id=) and reuses one that is not
//     expired: a create retried after a lost answer does not make a second invoice.
//   - ExpireCharge expires the invoice (POST /invoices/{id}/expire!). Xendit's answer when
//     the invoice is no longer pending is not documented beyond a 404 error, so on any
//     refusal the Client reads the invoice (GET /v2/invoices/{id}): expired is success,
//     paid or settled is payment.ErrChargePaid.
//   - A refund is POST /refunds with invoice_id, reference_id = the refund id, amount,
//     currency, reason (REQUESTED_BY_CUSTOMER or CANCELLATION, from the free text) and the
//     Idempotency-key header the SDK chose. SUCCEEDED is a refund made, PENDING a refund
//     accepted whose outcome comes by callback (payment.RefundProcessing). The error codes
//     of a refund the provider can never make (REFUND_NOT_SUPPORTED,
//     PARTIAL_REFUND_NOT_SUPPORTED, PARTIAL_REFUND_COUNTS_EXCEEDED, INELIGIBLE_TRANSACTION)
//     wrap payment.ErrRefundNotPossible: the SDK marks the refund manual.
//   - A payout is POST /v2/payouts with the payout id as Idempotency-key and reference_id,
//     channel_code, channel_properties{account_number, account_holder_name}, amount,
//     currency and description. ACCEPTED, PENDING and the other in-flight statuses are
//     processing; SUCCEEDED succeeded; FAILED, CANCELLED, COMPLIANCE_REJECTED and EXPIRED
//     failed, with failure_code as the reason; a 4xx refusal of the request failed, with
//     its error_code as the reason. An outage, a rejected API key (401, 403) or a 409 the
//     Client could not resolve is an error: the payout stays pending and is sent again.
//   - A request sent again with an idempotency key Xendit has seen may be answered 409
//     (DUPLICATE_ERROR: "duplicate value on idempotency_key") instead of the first answer.
//     The Client then finds what the first request made (GET /refunds?invoice_id=, matched
//     by the key kept in the refund's metadata; GET /v2/payouts?reference_id=) and answers
//     that, so a retry never turns into a second refund or payout.
//
// Errors: a transport error, a timeout, a 5xx or a 429 wraps payment.ErrUnavailable (the
// outcome is unknown; the SDK retries with the same key). An invoice Xendit refuses for
// this payment (amount out of range, no payment method, currency) wraps
// payment.ErrPaymentDeclined. Any other 4xx is a plain *APIError (a final refusal). Every
// error answer of the API is an *APIError (errors.As) carrying the HTTP status and
// Xendit's error_code.
//
// Callbacks carry the account's verification token in the x-callback-token header;
// Client.VerifyCallback compares it in constant time. ParseInvoiceCallback,
// ParseRefundCallback and ParsePayoutCallback ignore the fields they do not need, so
// fields Xendit adds later change nothing.
//
// Authentication is HTTP Basic with the secret key as the user name and an empty password.
//
// Xendit's documentation used:
//
//   - https://docs.xendit.co/apidocs/create-payout (POST /v2/payouts, Idempotency-key)
//   - https://docs.xendit.co/docs/integration-payouts (payout request and ACCEPTED answer)
//   - https://docs.xendit.co/docs/payout-status-lifecycle (payout statuses)
//   - https://docs.xendit.co/apidocs/payout-webhook (payout webhook, x-callback-token)
//   - https://docs.xendit.co/docs/test-scenarios-payouts (payout test scenarios)
//   - https://docs.xendit.co/api-payouts-beta/payouts-errors/ (payout error codes)
//   - https://docs.xendit.co/apidocs/refund-payment-request (POST /refunds)
//   - https://docs.xendit.co/docs/refund-payment-request (refund validity per channel)
//   - https://docs.xendit.co/apidocs/refund-webhook-notification (refund webhook)
//   - https://docs.xendit.co/docs/error-scenarios (refund error codes)
//   - https://docs.xendit.co/qr-codes/integrations/test-scenarios/ (refund test amounts)
//   - https://docs.xendit.co/apidocs/set-webhook-url (invoice callbacks: paid or expired)
//   - https://xendit.github.io/apireference/ (authentication: HTTP Basic, the secret key
//     as user name and an empty password)
//   - https://github.com/xendit/xendit-php/blob/master/docs/InvoiceApi.md (invoice paths:
//     POST /v2/invoices, GET /v2/invoices, GET /v2/invoices/{id},
//     POST /invoices/{id}/expire!; the invoice callback object)
//   - https://github.com/xendit/xendit-php/blob/master/docs/Invoice/CreateInvoiceRequest.md
//     and .../Invoice/InvoiceStatus.md (PENDING, PAID, SETTLED, EXPIRED)
//   - https://github.com/xendit/xendit-php/blob/master/docs/RefundApi.md and
//     .../Refund/ (CreateRefund, its 400/403/404/409/503 answers, RefundCallbackData)
//   - https://github.com/xendit/xendit-node/blob/master/docs/Payout.md (GET /v2/payouts
//     by reference_id) and .../payout/models/GetPayouts200ResponseDataInner.ts (statuses
//     SUCCEEDED, FAILED, ACCEPTED, REQUESTED, LOCKED, CANCELLED, REVERSED; failure codes)
//   - https://github.com/xendit/xendit-node/blob/master/refund/models/CreateRefund400Response.ts
//     and .../CreateRefund409Response.ts (refund error codes: REFUND_NOT_SUPPORTED,
//     INELIGIBLE_TRANSACTION, …; DUPLICATE_ERROR, IDEMPOTENCY_ERROR)
//   - https://github.com/xendit/xendit-node/blob/master/invoice/models/BadRequestError.ts
//     (the 400 codes of an invoice Xendit refuses)
//
// Package xendittest holds a local server that answers as these pages show, for tests.
package xendit
