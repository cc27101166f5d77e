package xendit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/payout"
)

// DefaultAPIURL is Xendit's API address.
const DefaultAPIURL = "https://api.xendit.co"

// DefaultTimeout bounds one call to the API when Config.HTTPClient is nil.
const DefaultTimeout = 15 * time.Second

// maxAnswer bounds the bytes read from one answer of the API.
const maxAnswer = 1 << 20

// Config configures a Client.
type Config struct {
	// SecretKey is the account's secret API key (HTTP Basic user name). Required.
	SecretKey string
	// CallbackToken is the account's webhook verification token, compared with the
	// x-callback-token header of callbacks. Required.
	CallbackToken string
	// APIURL is the API's address. Defaults to DefaultAPIURL.
	APIURL string
	// HTTPClient sends the requests. Defaults to a client with a DefaultTimeout timeout.
	HTTPClient *http.Client
	// SuccessRedirectURL, when set, is where the invoice page sends the client after it
	// paid (success_redirect_url).
	SuccessRedirectURL string
	// Now is the clock, for the invoice's duration. Defaults to time.Now.
	Now func() time.Time
}

// Client talks to Xendit. Safe for concurrent use.
type Client struct {
	secretKey     string
	callbackToken string
	apiURL        string // without a trailing slash
	http          *http.Client
	successURL    string
	now           func() time.Time
}

var (
	_ payment.Gateway       = (*Client)(nil)
	_ payment.ChargeExpirer = (*Client)(nil)
	_ payout.Payouts        = (*Client)(nil)
)

// New returns a Client, or an error naming the field of cfg that is missing or wrong.
func New(cfg Config) (*Client, error) {
	switch {
	case strings.TrimSpace(cfg.SecretKey) == "":
		return nil, errors.New("xendit: Config.SecretKey is required: set the account's secret API key")
	case strings.TrimSpace(cfg.CallbackToken) == "":
		return nil, errors.New("xendit: Config.CallbackToken is required: set the webhook verification token from the Xendit dashboard")
	}
	raw := strings.TrimRight(cmp.Or(cfg.APIURL, DefaultAPIURL), "/")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("xendit: Config.APIURL %q must be an absolute http(s) URL", raw)
	}
	c := &Client{
		secretKey: cfg.SecretKey, callbackToken: cfg.CallbackToken, apiURL: raw,
		http: cfg.HTTPClient, successURL: cfg.SuccessRedirectURL, now: cfg.Now,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// call is one request to the API.
type call struct {
	op     string // what the caller was doing, for errors ("create invoice")
	method string
	path   string // escaped path from the API's root (url.PathEscape each id)
	query  url.Values
	body   any    // JSON-encoded when not nil
	key    string // Idempotency-key header, when not empty
}

// do sends c and decodes a 2xx answer into out (when not nil). Every other outcome is an
// error: a transport error or a timeout wraps payment.ErrUnavailable; an error answer is
// an *APIError (which wraps payment.ErrUnavailable for a 5xx or a 429).
func (cl *Client) do(ctx context.Context, c call, out any) error {
	target := cl.apiURL + c.path
	if len(c.query) > 0 {
		target += "?" + c.query.Encode()
	}

	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return fmt.Errorf("xendit: %s: encode request: %w", c.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, target, body)
	if err != nil {
		return fmt.Errorf("xendit: %s: %w", c.op, err)
	}
	req.SetBasicAuth(cl.secretKey, "")
	req.Header.Set("Accept", "application/json")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Idempotency-key", c.key)
	}

	resp, err := cl.http.Do(req)
	if err != nil {
		// Sent or not, nobody knows: the caller may send it again with the same key.
		return fmt.Errorf("xendit: %s: %w: %w", c.op, payment.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("xendit: %s: read answer: %w: %w", c.op, payment.ErrUnavailable, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(c.op, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A 2xx we cannot read: whatever it did, we do not know what; treat it like a lost
		// answer so that a retry finds it.
		return fmt.Errorf("xendit: %s: decode answer (HTTP %d): %w: %w", c.op, resp.StatusCode, payment.ErrUnavailable, err)
	}
	return nil
}

// amountOf turns a JSON number of whole rupiah into an int64 (Xendit's amounts are
// numbers that may carry a fraction; IDR has none).
func amountOf(n json.Number) (int64, error) {
	if n == "" {
		return 0, nil
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != float64(int64(f)) {
		return 0, fmt.Errorf("amount %s is not a whole number", n)
	}
	return int64(f), nil
}
