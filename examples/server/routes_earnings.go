package main

import (
	"cmp"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment/ledger"
)

// The earnings ledger (payment/ledger) over HTTP: a mitra's balances and statement, and
// for operators the balance of every account and any mitra's balances. Everything here
// reads; the ledger is written by the payment and pairing stores as money moves.

// Pages of GET /api/mitra/earnings/entries (those of ledger.EntryFilter).
const (
	defaultEntryPageSize = 20
	maxEntryPageSize     = 100
)

func (s *Server) earningsRoutes() {
	s.handle("GET", "/api/mitra/earnings", roleMitra, s.myEarnings)
	s.handle("GET", "/api/mitra/earnings/entries", roleMitra, s.myEarningEntries)
	s.handle("GET", "/api/internal/ledger/balance", roleViewer, s.ledgerBalance)
	s.handle("GET", "/api/internal/ledger/findings", roleViewer, s.ledgerFindings)
	s.handle("GET", "/api/internal/mitras/{id}/earnings", roleViewer, s.mitraEarnings)
}

// ledgerFindingJSON is one broken invariant of the ledger.
type ledgerFindingJSON struct {
	Reason    string     `json:"reason"`
	TxnID     *uuid.UUID `json:"txn_id"`
	PaymentID *uuid.UUID `json:"payment_id"`
	MitraID   *uuid.UUID `json:"mitra_id"`
	Account   *string    `json:"account"`
	Amount    int64      `json:"amount"`
}

// ledgerFindings is GET /api/internal/ledger/findings: what breaks the ledger's invariants
// (curhat.Client.LedgerFindings), each with its reason; empty when the books are sound. It
// reads every line: for an operator's check, not a live view.
func (s *Server) ledgerFindings(w http.ResponseWriter, r *http.Request, _ caller) error {
	findings, err := s.app.client.LedgerFindings(r.Context())
	if err != nil {
		return err
	}
	out := make([]ledgerFindingJSON, 0, len(findings))
	for _, f := range findings {
		j := ledgerFindingJSON{Reason: f.Reason, TxnID: f.TxnID, PaymentID: f.PaymentID, MitraID: f.MitraID, Amount: f.Amount}
		if f.Account != "" {
			a := string(f.Account)
			j.Account = &a
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

// myEarnings is GET /api/mitra/earnings: the caller's balances.
func (s *Server) myEarnings(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.writeEarnings(w, r, c.ID)
}

// mitraEarnings is GET /api/internal/mitras/{id}/earnings: a mitra's balances, 404 for a
// mitra that does not exist (a mitra with no entries yet has zeros).
func (s *Server) mitraEarnings(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.app.mirror.GetMitra(r.Context(), id); err != nil {
		return err
	}
	return s.writeEarnings(w, r, id)
}

func (s *Server) writeEarnings(w http.ResponseWriter, r *http.Request, mitraID uuid.UUID) error {
	e, err := s.app.client.Ledger().Earnings(r.Context(), mitraID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, earningsJSON{
		Currency: cmp.Or(e.Currency, serverCurrency), Pending: e.Pending, Available: e.Available, InFlight: e.InFlight,
		PaidOut: e.PaidOut, Receivable: e.Receivable, NextClearanceAt: utcPtr(e.NextClearanceAt),
	})
	return nil
}

// myEarningEntries is GET /api/mitra/earnings/entries?page=&page_size=: the caller's
// ledger lines, newest first.
func (s *Server) myEarningEntries(w http.ResponseWriter, r *http.Request, c caller) error {
	f := ledger.EntryFilter{MitraID: c.ID, Page: 1, PageSize: defaultEntryPageSize}
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &f.Page, 1_000_000}, {"page_size", &f.PageSize, maxEntryPageSize}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				return curhat.Invalid(p.name, "must be an integer in 1..%d", p.max)
			}
			*p.dst = n
		}
	}
	items, total, err := s.app.client.Ledger().Entries(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]ledgerEntryJSON, 0, len(items))
	for _, e := range items {
		out = append(out, toLedgerEntryJSON(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "page": f.Page, "page_size": f.PageSize, "total": total})
	return nil
}

// ledgerBalance is GET /api/internal/ledger/balance: every account summed over all mitras.
func (s *Server) ledgerBalance(w http.ResponseWriter, r *http.Request, _ caller) error {
	b, err := s.app.client.Ledger().Balance(r.Context())
	if err != nil {
		return err
	}
	a := b.Accounts
	writeJSON(w, http.StatusOK, ledgerBalanceJSON{
		Currency: cmp.Or(b.Currency, serverCurrency),
		Accounts: ledgerAccountsJSON{
			Gateway: a[ledger.AccountGateway], ClientFunds: a[ledger.AccountClientFunds],
			PlatformRevenue: a[ledger.AccountPlatformRevenue], MitraPending: a[ledger.AccountMitraPending],
			MitraAvailable: a[ledger.AccountMitraAvailable], PayoutsInFlight: a[ledger.AccountPayoutsInFlight],
			MitraReceivable: a[ledger.AccountMitraReceivable],
		},
		Imbalance: b.Imbalance,
	})
	return nil
}

// ledgerDashboard is what the dashboard shows of the ledger: the imbalance (the sum of
// every signed line, 0 while the books balance) and the platform's fees posted today (UTC,
// by the server's clock). The balance reads every line: they are among the dashboard's
// slower reads.
func (a *App) ledgerDashboard(ctx context.Context) (imbalance, revenueToday int64, err error) {
	l := a.client.Ledger()
	b, err := l.Balance(ctx)
	if err != nil {
		return 0, 0, err
	}
	now := a.clock.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	// To the end of the day rather than to now: a line stamped this very instant, or by an
	// instance whose clock runs a little ahead, is today's too.
	if revenueToday, err = l.Revenue(ctx, day, day.AddDate(0, 0, 1)); err != nil {
		return 0, 0, err
	}
	return b.Imbalance, revenueToday, nil
}
