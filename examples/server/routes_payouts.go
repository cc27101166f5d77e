package main

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment/payout"
)

// Payouts (payment/payout) over HTTP: where a mitra is paid, set by the mitra or by an
// operator; payout runs and the payout list for operators; and the fake provider's switch
// that refuses the next payouts, so that failures can be tested black-box.

const (
	// Pages of GET /api/internal/payouts (those of payout.Filter).
	defaultPayoutPageSize = 20
	maxPayoutPageSize     = 100
	// maxFakePayoutFailures bounds POST /api/internal/fake-gateway/payout-failures.
	maxFakePayoutFailures = 1000
)

func (s *Server) payoutRoutes() {
	s.handle("GET", "/api/mitra/payout-destination", roleMitra, s.myPayoutDestination)
	s.handle("PUT", "/api/mitra/payout-destination", roleMitra, s.putMyPayoutDestination)
	s.handle("PUT", "/api/internal/mitras/{id}/payout-destination", roleAdmin, s.putMitraPayoutDestination)
	s.handle("POST", "/api/internal/payouts/run", roleAdmin, s.runPayouts)
	s.handle("GET", "/api/internal/payouts", roleViewer, s.listPayouts)
	// POST /api/internal/fake-gateway/payout-failures is among the fake gateway's routes
	// (fake_checkout.go): it exists only while the fake is in use.
}

// payoutDestinationJSON is the API shape of a payout destination.
type payoutDestinationJSON struct {
	ChannelCode       string    `json:"channel_code"`
	AccountNumber     string    `json:"account_number"`
	AccountHolderName string    `json:"account_holder_name"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func toPayoutDestinationJSON(d payout.Destination) payoutDestinationJSON {
	return payoutDestinationJSON{ChannelCode: d.ChannelCode, AccountNumber: d.AccountNumber,
		AccountHolderName: d.AccountHolderName, UpdatedAt: d.UpdatedAt.UTC()}
}

// payoutJSON is the API shape of a payout.
type payoutJSON struct {
	ID            uuid.UUID `json:"id"`
	MitraID       uuid.UUID `json:"mitra_id"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	Status        string    `json:"status"`
	ProviderRef   *string   `json:"provider_ref"`
	FailureReason *string   `json:"failure_reason"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toPayoutJSON(p payout.Payout) payoutJSON {
	return payoutJSON{ID: p.ID, MitraID: p.MitraID, Amount: p.Amount, Currency: p.Currency, Status: string(p.Status),
		ProviderRef: strPtr(p.ProviderRef), FailureReason: strPtr(p.FailureReason),
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
}

// myPayoutDestination is GET /api/mitra/payout-destination: 404 NOT_FOUND while the mitra
// has set none.
func (s *Server) myPayoutDestination(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.app.client.Payouts().Destination(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPayoutDestinationJSON(d))
	return nil
}

// putMyPayoutDestination is PUT /api/mitra/payout-destination: the caller's own.
func (s *Server) putMyPayoutDestination(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.putPayoutDestination(w, r, c, c.ID)
}

// putMitraPayoutDestination is PUT /api/internal/mitras/{id}/payout-destination: any
// mitra's (404 for a mitra that does not exist).
func (s *Server) putMitraPayoutDestination(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.putPayoutDestination(w, r, c, id)
}

// putPayoutDestination sets where mitraID is paid; the SDK checks the fields (400
// VALIDATION_FAILED naming the first one that is wrong). An operator's change is audited.
func (s *Server) putPayoutDestination(w http.ResponseWriter, r *http.Request, c caller, mitraID uuid.UUID) error {
	var body struct {
		ChannelCode       string `json:"channel_code"`
		AccountNumber     string `json:"account_number"`
		AccountHolderName string `json:"account_holder_name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	var before any
	if c.Kind == SubjectOperator {
		if d, err := s.app.client.Payouts().Destination(r.Context(), mitraID); err == nil {
			before = toPayoutDestinationJSON(d)
		}
	}
	d, err := s.app.client.Payouts().SetDestination(r.Context(), payout.Destination{MitraID: mitraID,
		ChannelCode: body.ChannelCode, AccountNumber: body.AccountNumber, AccountHolderName: body.AccountHolderName})
	if err != nil {
		return err
	}
	if c.Kind == SubjectOperator {
		s.audit(r, c, "payout_destination.set", "mitra", mitraID.String(), before, toPayoutDestinationJSON(d))
	}
	writeJSON(w, http.StatusOK, toPayoutDestinationJSON(d))
	return nil
}

// runPayouts is POST /api/internal/payouts/run, body optional {mitra_id}: one payout per
// eligible mitra (or for that mitra only), each sent to the provider before the answer,
// which lists them as they stand after their send. A mitra asked for that is not eligible
// is 409 NOT_ELIGIBLE saying why; a server without a payout provider 409
// NO_PAYOUT_PROVIDER.
func (s *Server) runPayouts(w http.ResponseWriter, r *http.Request, c caller) error {
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	var body struct {
		MitraID *string `json:"mitra_id"`
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := unmarshalBody(raw, &body, true); err != nil {
			return err
		}
	}
	var p payout.RunParams
	if body.MitraID != nil {
		id, err := bodyID("mitra_id", *body.MitraID)
		if err != nil {
			return err
		}
		// Create would call an unknown mitra one without a destination: 404 instead.
		if _, err := s.app.mirror.GetMitra(r.Context(), id); err != nil {
			return err
		}
		p.MitraID = &id
	}
	rep, err := s.app.client.Payouts().Run(r.Context(), p)
	if p.MitraID != nil && errors.Is(err, curhat.ErrInvalidState) {
		return newAPIError(http.StatusConflict, "NOT_ELIGIBLE", "%s", notEligibleReason(err))
	}
	if err != nil {
		return err
	}
	out := make([]payoutJSON, 0, len(rep.Created))
	for _, it := range rep.Created {
		out = append(out, toPayoutJSON(it))
	}
	target := ""
	if p.MitraID != nil {
		target = p.MitraID.String()
	}
	s.audit(r, c, "payouts.run", "payouts", target, nil, map[string]any{"items": out})
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

// notEligibleReason says why a run created no payout for the mitra, from the SDK's
// reason (its error text names internal ids and is not the answer's).
func notEligibleReason(err error) string {
	var ne *payout.NotEligibleError
	if !errors.As(err, &ne) {
		return "the mitra is not eligible for a payout now: it needs a payout destination, no open payout and an available balance of at least payout_minimum_amount"
	}
	switch ne.Reason {
	case payout.ReasonNoDestination:
		return "the mitra has no payout destination"
	case payout.ReasonOpenPayout:
		return "the mitra has an open payout: a new one waits until it succeeds or fails"
	case payout.ReasonNoBalance:
		return "the mitra has no available balance to pay out"
	}
	return "the mitra's available balance, " + strconv.FormatInt(ne.Available, 10) +
		", is below payout_minimum_amount, " + strconv.FormatInt(ne.Minimum, 10)
}

// listPayouts is GET /api/internal/payouts?status=&mitra_id=&page=&page_size=, newest
// first.
func (s *Server) listPayouts(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	f := payout.Filter{Status: payout.Status(q.Get("status")), Page: 1, PageSize: defaultPayoutPageSize}
	if v := q.Get("mitra_id"); v != "" {
		id, err := parseID(v)
		if err != nil {
			return curhat.Invalid("mitra_id", "must be a UUID")
		}
		f.MitraID = &id
	}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &f.Page, 1_000_000}, {"page_size", &f.PageSize, maxPayoutPageSize}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				return curhat.Invalid(p.name, "must be an integer in 1..%d", p.max)
			}
			*p.dst = n
		}
	}
	items, total, err := s.app.client.Payouts().List(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]payoutJSON, 0, len(items))
	for _, it := range items {
		out = append(out, toPayoutJSON(it))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": f.Page, "page_size": f.PageSize, "total": total})
	return nil
}

// fakePayoutFailures tells the fake payout provider to refuse the next count payouts (0
// stops refusing): each is failed and its amount available again. Without the fake
// provider the route does not exist: 404 NOT_FOUND.
func (s *Server) fakePayoutFailures(w http.ResponseWriter, r *http.Request, c caller) error {
	fake := s.app.fakePayouts
	if fake == nil {
		return newAPIError(http.StatusNotFound, "NOT_FOUND", "the payout provider is not the fake one")
	}
	var body struct {
		Count *int `json:"count"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Count == nil {
		return curhat.Invalid("count", "is required")
	}
	if *body.Count < 0 || *body.Count > maxFakePayoutFailures {
		return curhat.Invalid("count", "must be 0..%d", maxFakePayoutFailures)
	}
	fake.FailNext(*body.Count)
	s.audit(r, c, "fake_gateway.payout_failures", "fake_gateway", "payouts", nil, map[string]any{"count": *body.Count})
	writeJSON(w, http.StatusOK, map[string]any{"count": *body.Count})
	return nil
}
