package xendit

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
)

// createPayoutRequest is the body of POST /v2/payouts.
type createPayoutRequest struct {
	ReferenceID       string            `json:"reference_id"`
	ChannelCode       string            `json:"channel_code"`
	ChannelProperties channelProperties `json:"channel_properties"`
	Amount            int64             `json:"amount"`
	Currency          string            `json:"currency"`
	Description       string            `json:"description"`
}

type channelProperties struct {
	AccountNumber     string `json:"account_number"`
	AccountHolderName string `json:"account_holder_name"`
}

// xenditPayout is the part of Xendit's payout object the Client reads.
type xenditPayout struct {
	ID          string `json:"id"`
	ReferenceID string `json:"reference_id"`
	Status      string `json:"status"`
	FailureCode string `json:"failure_code"`
}

// Send asks Xendit to pay r, with the payout id as Idempotency-key and reference_id: Xendit
// pays one id once however often it is sent. The answer is processing for a payout in
// flight (ACCEPTED, PENDING, REQUESTED…), succeeded for SUCCEEDED, failed for FAILED,
// CANCELLED or a refusal of the request (a 4xx), with Xendit's code as the reason. An
// error means Xendit could not be asked or its answer was lost (a transport error, a
// timeout, a 5xx, a 429, a rejected API key): the payout stays pending and is sent again.
func (cl *Client) Send(ctx context.Context, r payout.Request) (payout.Result, error) {
	id := r.PayoutID.String()
	body := createPayoutRequest{
		ReferenceID: id, ChannelCode: r.Destination.ChannelCode,
		ChannelProperties: channelProperties{
			AccountNumber: r.Destination.AccountNumber, AccountHolderName: r.Destination.AccountHolderName,
		},
		Amount: r.Amount, Currency: r.Currency, Description: "Payout " + id,
	}
	var made xenditPayout
	err := cl.do(ctx, call{op: "create payout", method: http.MethodPost, path: "/v2/payouts", body: body, key: id}, &made)
	if e := apiError(err); e != nil && e.StatusCode == http.StatusConflict && duplicateKeyCodes[e.Code] {
		made, err = cl.findPayout(ctx, id, e)
	}
	if e := apiError(err); e != nil && !e.Temporary() && !e.authFailure() && e.StatusCode != http.StatusConflict {
		// A refusal of this payout: final. A later run creates a new payout (a new key).
		return payout.Result{Status: payout.StatusFailed, FailureReason: refusalReason(e)}, nil
	}
	if err != nil {
		return payout.Result{}, fmt.Errorf("send payout %s: %w", id, err)
	}
	return payoutResult(made), nil
}

// payoutResult maps Xendit's payout status.
func payoutResult(p xenditPayout) payout.Result {
	res := payout.Result{ProviderRef: p.ID}
	switch p.Status {
	case "SUCCEEDED":
		res.Status = payout.StatusSucceeded
	case "FAILED", "CANCELLED", "COMPLIANCE_REJECTED", "EXPIRED":
		res.Status, res.FailureReason = payout.StatusFailed, cmp.Or(p.FailureCode, p.Status)
	default:
		// ACCEPTED, PENDING, REQUESTED, LOCKED, READY, PENDING_COMPLIANCE_ASSESSMENT, and any
		// status Xendit adds: in flight, the outcome comes by callback. Never "failed" on a
		// guess: a failed payout frees the amount for a new one and could pay twice.
		res.Status = payout.StatusProcessing
	}
	return res
}

// findPayout finds the payout an earlier request with this id made, after Xendit refused
// the key as a duplicate (dup). Not found, or the list unreadable, is an outage (an error):
// the payout stays pending and is sent again with the same key.
func (cl *Client) findPayout(ctx context.Context, id string, dup *APIError) (xenditPayout, error) {
	var list struct {
		Data []xenditPayout `json:"data"`
	}
	err := cl.do(ctx, call{
		op: "find payout", method: http.MethodGet, path: "/v2/payouts",
		query: url.Values{"reference_id": {id}},
	}, &list)
	if err != nil {
		return xenditPayout{}, fmt.Errorf("%w; finding the payout it made: %w: %w", dup, payment.ErrUnavailable, err)
	}
	for _, p := range list.Data {
		if p.ReferenceID == id && p.ID != "" {
			return p, nil
		}
	}
	return xenditPayout{}, fmt.Errorf("%w; the payout it made was not found: %w", dup, payment.ErrUnavailable)
}

// refusalReason is the failure reason of a payout Xendit refused.
func refusalReason(e *APIError) string {
	if e.Code != "" {
		return e.Code
	}
	return fmt.Sprintf("HTTP %d", e.StatusCode)
}
