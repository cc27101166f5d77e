package curhat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment/ledger"
)

// backfillSQL is the part of the ledger's migration that posts the history.
func backfillSQL(t *testing.T) string {
	t.Helper()
	for _, m := range curhat.Migrations() {
		if m.Version == 7 {
			i := strings.Index(m.SQL, "-- The backfill:")
			require.Positive(t, i, "the migration marks its backfill")
			return m.SQL[i:]
		}
	}
	t.Fatal("no ledger migration")
	return ""
}

// TestLedger_TheBackfillOfADatabaseWithHistoryBalances builds a history with the ledger,
// wipes the ledger as if it had never been, runs the migration's backfill, and checks that
// the books balance, every invariant holds, the mitras have what they earned, and a
// continuation that was still searching refunds exactly what it carries.
func TestLedger_TheBackfillOfADatabaseWithHistoryBalances(t *testing.T) {
	t.Parallel()
	db := testenv.Postgres(t)
	vk := testenv.NewValkey(t)
	cfg, gw, ev, clk := testConfig()
	cfg.KeyNames = vk.Names()
	c, err := curhat.NewClient(db.Pool, vk.Client, cfg)
	require.NoError(t, err)
	startClient(t, c)
	w := newLedgerWorld(t, clientBundle{c: c, gateway: gw, events: ev, clock: clk})
	ctx := w.ctx

	// A chat delivered in full; a chat refunded by an operator after it ended; a blast
	// nobody took (refunded); a chat rerouted to another mitra who finished it; a chat
	// rerouted to nobody (its carry-over refunded); a chat whose continuation still
	// searches.
	ayu, budi := w.onlineMitra(t, "Ayu"), w.onlineMitra(t, "Budi")
	client, _, s := w.paidChat(t, ayu)
	_, err = c.Pairing().EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
	require.NoError(t, err)
	client, pay, s := w.paidChat(t, budi)
	_, err = c.Pairing().EndSession(ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyMitra, CallerID: budi})
	require.NoError(t, err)
	_, err = c.Payments().Refund(ctx, pay, "complaint")
	require.NoError(t, err)

	_, _, s1 := w.paidChat(t, ayu)
	clk.Advance(10 * time.Minute)
	require.NoError(t, c.SetMitraOnline(ctx, budi)) // a fresh heartbeat
	_, err = c.SetMitraActive(ctx, ayu, false)
	require.NoError(t, err)
	offers, err := c.Pairing().ListOffers(ctx, budi)
	require.NoError(t, err)
	require.Len(t, offers, 1)
	s2, err := c.Pairing().Accept(ctx, budi, offers[0].PairingID)
	require.NoError(t, err)
	require.Equal(t, s1.ID, *s2.ReroutedFromID)
	_, err = c.Pairing().EndSession(ctx, pairing.EndParams{SessionID: s2.ID, By: pairing.PartyMitra, CallerID: budi})
	require.NoError(t, err)

	_, err = c.SetMitraActive(ctx, ayu, true)
	require.NoError(t, err)
	require.NoError(t, c.SetMitraOnline(ctx, ayu))
	_, err = c.SetMitraActive(ctx, budi, false)
	require.NoError(t, err)
	w.paidChat(t, ayu)
	clk.Advance(5 * time.Minute)
	_, err = c.SetMitraActive(ctx, ayu, false)
	require.NoError(t, err) // nobody online: the continuation fails, 25 minutes refunded

	_, err = c.SetMitraActive(ctx, budi, true)
	require.NoError(t, err)
	require.NoError(t, c.SetMitraOnline(ctx, budi))
	_, err = c.SetMitraActive(ctx, ayu, true)
	require.NoError(t, err)
	require.NoError(t, c.SetMitraOnline(ctx, ayu))
	w.paidChat(t, ayu)
	clk.Advance(6 * time.Minute)
	require.NoError(t, c.SetMitraOnline(ctx, budi))
	_, err = c.SetMitraActive(ctx, ayu, false)
	require.NoError(t, err) // Budi is offered the continuation and does not answer yet
	pending, err := c.Pairing().ListOffers(ctx, budi)
	require.NoError(t, err)
	require.Len(t, pending, 1)

	want := w.sound(t)
	wantAyu, wantBudi := w.earnings(t, ayu), w.earnings(t, budi)

	// The same history, before the ledger existed.
	require.NoError(t, pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		for _, q := range []string{"SET LOCAL curhat.ledger_erase = 'on'", "DELETE FROM ledger_entries",
			"DELETE FROM ledger_txns", "DELETE FROM ledger_carry_overs", "DELETE FROM ledger_clearance_due"} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}))
	b, err := c.Ledger().Balance(ctx)
	require.NoError(t, err)
	require.Zero(t, b.Accounts[ledger.AccountGateway], "wiped")
	_, err = db.Pool.Exec(ctx, backfillSQL(t))
	require.NoError(t, err)

	got := w.sound(t)
	require.Equal(t, want.Accounts, got.Accounts, "the backfill posts what the ledger would have")
	gotAyu, gotBudi := w.earnings(t, ayu), w.earnings(t, budi)
	require.Equal(t, wantAyu.Pending+wantBudi.Pending, gotAyu.Pending+gotBudi.Pending)
	require.Equal(t, wantBudi.Pending, gotBudi.Pending, "Budi's continuation is his")

	// The continuation still searching fails now: it refunds its carry-over, 24 of 30
	// minutes, and the books stay sound.
	clk.Advance(2 * time.Minute)
	_, err = c.Pairing().SweepTimeouts(ctx)
	require.NoError(t, err)
	bal := w.sound(t)
	require.Equal(t, got.Accounts[ledger.AccountGateway]-24000, bal.Accounts[ledger.AccountGateway])
	require.Zero(t, bal.Accounts[ledger.AccountClientFunds])
}
