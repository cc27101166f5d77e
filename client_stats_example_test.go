package curhat_test

import (
	"context"
	"fmt"
	"time"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// The operators' statistics of the last hour: a blast paid, answered 45 seconds later.
func ExampleClient_Stats() {
	ctx := context.Background()
	clock := curhat.NewFakeClock(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	c, err := curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway(), Clock: clock,
		Sweeps: curhat.SweepsConfig{Disabled: true}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "op"})
	mitra, _ := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
	_ = c.SetMitraOnline(ctx, mitra.ID)
	client, _ := c.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
	pr, pay, _ := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30})
	_, _ = c.Payments().MarkPaid(ctx, pay.ID, pay.ProviderRef)
	clock.Advance(45 * time.Second)
	_, _ = c.Pairing().Accept(ctx, mitra.ID, pr.ID)

	st, _ := c.Stats(ctx, time.Hour)
	asa, _ := st.Pairing.Answer.MeanSeconds()
	fmt.Println(st.Pairing.PaidPairings, "paid,", st.Pairing.Matched, "matched, ASA", asa, "s")
	fmt.Println(st.Pairing.OffersSent, "offer sent,", st.Pairing.SessionsActive, "session active,", st.Money.GrossPaid, "paid in")
	m, _ := c.MitraStats(ctx, mitra.ID, time.Hour)
	rate, _ := m.AcceptanceRate()
	fmt.Println(m.OffersReceived, "offer received, acceptance", rate)
	// Output:
	// 1 paid, 1 matched, ASA 45 s
	// 1 offer sent, 1 session active, 25000 paid in
	// 1 offer received, acceptance 1
}
