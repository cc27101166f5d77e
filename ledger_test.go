package curhat_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/pricing"
)

// eachClientBackend runs f on a memory Client and on a Postgres + Valkey one.
func eachClientBackend(t *testing.T, f func(t *testing.T, b clientBundle)) {
	t.Run("memory", func(t *testing.T) { t.Parallel(); f(t, newMemoryBundle(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); f(t, newPostgresBundle(t)) })
}

// ledgerWorld is a Client with a session tier of 30 minutes at 30,000 and an extension
// tier of 15 minutes at 15,000.
type ledgerWorld struct {
	clientBundle
	ctx context.Context
}

func newLedgerWorld(t *testing.T, b clientBundle) ledgerWorld {
	t.Helper()
	ctx := context.Background()
	_, err := b.c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 30000, ChangedBy: "op"})
	require.NoError(t, err)
	_, err = b.c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeExtension, Minutes: 15, Price: 15000, ChangedBy: "op"})
	require.NoError(t, err)
	return ledgerWorld{clientBundle: b, ctx: ctx}
}

func (w ledgerWorld) setConfig(t *testing.T, key curhat.ConfigKey, value int) {
	t.Helper()
	raw, err := json.Marshal(value)
	require.NoError(t, err)
	_, err = w.c.Runtime().Set(w.ctx, string(key), raw, "op")
	require.NoError(t, err)
}

func (w ledgerWorld) onlineMitra(t *testing.T, name string) uuid.UUID {
	t.Helper()
	m, err := w.c.Availability().CreateMitra(w.ctx, availability.CreateMitraParams{DisplayName: name})
	require.NoError(t, err)
	require.NoError(t, w.c.SetMitraOnline(w.ctx, m.ID))
	return m.ID
}

// paidChat starts a 30-minute blast for a new client, pays it and has mitra accept it.
func (w ledgerWorld) paidChat(t *testing.T, mitra uuid.UUID) (client uuid.UUID, pay uuid.UUID, session pairing.ChatSession) {
	t.Helper()
	client = w.newClient(t)
	pr, p, err := w.c.Pairing().StartBlast(w.ctx, pairing.StartParams{ClientID: client, Minutes: 30})
	require.NoError(t, err)
	_, err = w.c.Payments().MarkPaid(w.ctx, p.ID, p.ProviderRef)
	require.NoError(t, err)
	session, err = w.c.Pairing().Accept(w.ctx, mitra, pr.ID)
	require.NoError(t, err)
	return client, p.ID, session
}

func (w ledgerWorld) earnings(t *testing.T, mitra uuid.UUID) ledger.Earnings {
	t.Helper()
	e, err := w.c.Ledger().Earnings(w.ctx, mitra)
	require.NoError(t, err)
	return e
}

// sound asserts the books balance and break no invariant, and returns the balance.
func (w ledgerWorld) sound(t *testing.T) ledger.Balance {
	t.Helper()
	b, err := w.c.Ledger().Balance(w.ctx)
	require.NoError(t, err)
	require.Zero(t, b.Imbalance)
	findings, err := w.c.LedgerFindings(w.ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
	return b
}

func TestLedger_ASessionPaid30000AtFee30EndsAsTheMitrasPendingEarningAndThePlatformsFee(t *testing.T) {
	t.Parallel()
	eachClientBackend(t, func(t *testing.T, b clientBundle) {
		w := newLedgerWorld(t, b)
		w.setConfig(t, curhat.KeyPlatformFeePercent, 30)
		m := w.onlineMitra(t, "Ayu")
		client, pay, s := w.paidChat(t, m)

		bal := w.sound(t)
		require.Equal(t, int64(30000), bal.Accounts[ledger.AccountGateway], "paid: at the provider")
		require.Equal(t, int64(30000), bal.Accounts[ledger.AccountClientFunds], "not delivered yet")
		p, err := w.c.Payments().Get(w.ctx, pay)
		require.NoError(t, err)
		require.Equal(t, 30, *p.PlatformFeePercent, "the fee is fixed on the payment when it is paid")

		w.setConfig(t, curhat.KeyPlatformFeePercent, 50) // later changes do not touch this payment
		w.clock.Advance(12 * time.Minute)
		_, err = w.c.Pairing().EndSession(w.ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
		require.NoError(t, err)

		bal = w.sound(t)
		require.Equal(t, map[ledger.Account]int64{
			ledger.AccountGateway: 30000, ledger.AccountClientFunds: 0, ledger.AccountPlatformRevenue: 9000,
			ledger.AccountMitraPending: 21000, ledger.AccountMitraAvailable: 0, ledger.AccountPayoutsInFlight: 0,
			ledger.AccountMitraReceivable: 0,
		}, bal.Accounts, "an early end delivers the whole payment")
		e := w.earnings(t, m)
		require.Equal(t, int64(21000), e.Pending)
		require.Zero(t, e.Available)
		require.NotNil(t, e.NextClearanceAt)
		require.True(t, e.NextClearanceAt.Equal(w.clock.Now().Add(72*time.Hour)), "due 72 hours after the end: %s", e.NextClearanceAt)

		entries, total, err := w.c.Ledger().Entries(w.ctx, ledger.EntryFilter{MitraID: m})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, ledger.KindSessionValue, entries[0].Kind)
		require.Equal(t, int64(-21000), entries[0].Amount, "a credit to mitra_pending")
		require.Equal(t, s.ID, *entries[0].ChatSessionID)

		// Not due yet: nothing clears. Due: all of it becomes available, once.
		n, err := w.c.Ledger().Clear(w.ctx, w.clock.Now().Add(71*time.Hour), 0)
		require.NoError(t, err)
		require.Zero(t, n)
		w.clock.Advance(72 * time.Hour)
		n, err = w.c.Ledger().Clear(w.ctx, w.clock.Now(), 0)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = w.c.Ledger().Clear(w.ctx, w.clock.Now(), 0)
		require.NoError(t, err)
		require.Zero(t, n, "cleared once")
		e = w.earnings(t, m)
		require.Equal(t, int64(21000), e.Available)
		require.Zero(t, e.Pending)
		require.Nil(t, e.NextClearanceAt)
		w.sound(t)
	})
}

func TestLedger_ARerouteSplitsTheValueBetweenTheTwoMitrasAndTheTotalsMatchThePayment(t *testing.T) {
	t.Parallel()
	eachClientBackend(t, func(t *testing.T, b clientBundle) {
		w := newLedgerWorld(t, b)
		ayu := w.onlineMitra(t, "Ayu")
		client, _, s := w.paidChat(t, ayu)
		w.clock.Advance(10 * time.Minute)
		budi := w.onlineMitra(t, "Budi")

		_, err := w.c.SetMitraActive(w.ctx, ayu, false)
		require.NoError(t, err)
		ended, err := w.c.Pairing().GetChatSession(w.ctx, s.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.EndMitraDeactivated, ended.EndReason)
		// Ayu delivered 10 of 30 minutes: 10,000, of which 3,000 is the fee. The 20 minutes
		// left (20,000) are carried to the blast that continues the chat.
		require.Equal(t, int64(7000), w.earnings(t, ayu).Pending)
		bal := w.sound(t)
		require.Equal(t, int64(20000), bal.Accounts[ledger.AccountClientFunds], "the carry-over is still the client's")

		cont, err := w.c.Pairing().ListChatSessions(w.ctx, pairing.ListSessionsParams{ClientID: &client, Status: pairing.SessionEnded})
		require.NoError(t, err)
		require.Len(t, cont, 1)
		offers, err := w.c.Pairing().ListOffers(w.ctx, budi)
		require.NoError(t, err)
		require.Len(t, offers, 1)
		s2, err := w.c.Pairing().Accept(w.ctx, budi, offers[0].PairingID)
		require.NoError(t, err)
		require.Equal(t, s.ID, *s2.ReroutedFromID)
		w.clock.Advance(19 * time.Minute)
		_, err = w.c.Pairing().EndSession(w.ctx, pairing.EndParams{SessionID: s2.ID, By: pairing.PartyMitra, CallerID: budi})
		require.NoError(t, err)

		require.Equal(t, int64(14000), w.earnings(t, budi).Pending)
		require.Equal(t, int64(7000), w.earnings(t, ayu).Pending)
		bal = w.sound(t)
		require.Equal(t, int64(9000), bal.Accounts[ledger.AccountPlatformRevenue])
		require.Equal(t, int64(21000), bal.Accounts[ledger.AccountMitraPending])
		require.Zero(t, bal.Accounts[ledger.AccountClientFunds])
		require.Equal(t, int64(30000), bal.Accounts[ledger.AccountGateway], "the totals are the payment")
	})
}

func TestLedger_AContinuationThatFailsRefundsExactlyItsCarryOver(t *testing.T) {
	t.Parallel()
	eachClientBackend(t, func(t *testing.T, b clientBundle) {
		w := newLedgerWorld(t, b)
		ayu := w.onlineMitra(t, "Ayu")
		client, pay, s := w.paidChat(t, ayu)
		// An extension of 15 minutes (15,000): 45 minutes for 45,000.
		x, extPay, err := w.c.Extensions().Request(w.ctx, extension.RequestParams{ClientID: client, ChatSessionID: s.ID, Minutes: 15})
		require.NoError(t, err)
		require.NotNil(t, extPay, "auto-approved: %s", x.Status)
		_, err = w.c.Payments().MarkPaid(w.ctx, extPay.ID, extPay.ProviderRef)
		require.NoError(t, err)
		w.clock.Advance(15 * time.Minute)

		// Nobody else is online: the continuation fails at once and gives back the 30
		// minutes left of 45, newest payment first: the extension's 15,000, then 15,000.
		_, err = w.c.SetMitraActive(w.ctx, ayu, false)
		require.NoError(t, err)
		require.Equal(t, []int64{15000, 15000}, []int64{w.gateway.RefundedAmount(extPay.ID), w.gateway.RefundedAmount(pay)})
		e := w.earnings(t, ayu)
		require.Equal(t, int64(10500), e.Pending, "15 of 45 minutes delivered: 15,000 less the 30%% fee")
		bal := w.sound(t)
		require.Equal(t, int64(15000), bal.Accounts[ledger.AccountGateway])
		require.Zero(t, bal.Accounts[ledger.AccountClientFunds])
		require.Equal(t, int64(4500), bal.Accounts[ledger.AccountPlatformRevenue])
	})
}

func TestLedger_ARefundAfterTheChatReversesTheEarningFromPendingThenAvailable(t *testing.T) {
	t.Parallel()
	eachClientBackend(t, func(t *testing.T, b clientBundle) {
		w := newLedgerWorld(t, b)
		w.setConfig(t, curhat.KeyEarningsClearanceHours, 0)
		m := w.onlineMitra(t, "Ayu")
		client, pay, s := w.paidChat(t, m)
		_, err := w.c.Pairing().EndSession(w.ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
		require.NoError(t, err)
		n, err := w.c.Ledger().Clear(w.ctx, w.clock.Now(), 0)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, int64(21000), w.earnings(t, m).Available)

		// An operator refunds the delivered chat: the money comes back from the mitra and
		// the platform, and the client's funds never go below zero.
		_, err = w.c.Payments().Refund(w.ctx, pay, "complaint upheld")
		require.NoError(t, err)
		e := w.earnings(t, m)
		require.Zero(t, e.Available)
		require.Zero(t, e.Pending)
		require.Zero(t, e.Receivable)
		bal := w.sound(t)
		require.Zero(t, bal.Accounts[ledger.AccountGateway])
		require.Zero(t, bal.Accounts[ledger.AccountPlatformRevenue])
		require.Zero(t, bal.Accounts[ledger.AccountClientFunds])
		entries, _, err := w.c.Ledger().Entries(w.ctx, ledger.EntryFilter{MitraID: m})
		require.NoError(t, err)
		require.Equal(t, ledger.KindEarningReversed, entries[0].Kind)
	})
}

func TestLedger_PostingIsBalancedIdempotentAndAppendOnly(t *testing.T) {
	t.Parallel()
	eachClientBackend(t, func(t *testing.T, b clientBundle) {
		w := newLedgerWorld(t, b)
		m := w.onlineMitra(t, "Ayu")
		mid := m
		txn := ledger.Txn{ID: uuid.New(), Kind: ledger.KindEarningCleared, At: w.clock.Now(), Lines: []ledger.Line{
			{Account: ledger.AccountMitraPending, MitraID: &mid, Amount: 100, Currency: "IDR"},
			{Account: ledger.AccountMitraAvailable, MitraID: &mid, Amount: -99, Currency: "IDR"},
		}}
		_, err := w.c.Ledger().Post(w.ctx, txn)
		var ve *curhat.ValidationError
		require.ErrorAs(t, err, &ve, "an unbalanced transaction is refused")
		txn.Lines[1].Amount = -100
		posted, err := w.c.Ledger().Post(w.ctx, txn)
		require.NoError(t, err)
		require.True(t, posted)
		posted, err = w.c.Ledger().Post(w.ctx, txn)
		require.NoError(t, err)
		require.False(t, posted, "the same transaction id posts once")
		e := w.earnings(t, m)
		require.Equal(t, int64(-100), e.Pending)
		findings, err := w.c.LedgerFindings(w.ctx)
		require.NoError(t, err)
		require.Equal(t, []ledger.Finding{{Reason: ledger.ReasonNegativeBalance, MitraID: &mid, Account: ledger.AccountMitraPending, Amount: -100}},
			findings, "a negative pending balance is named")
	})
}
