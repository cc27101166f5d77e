package curhat_test

import (
	"context"
	"fmt"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// The whole product on the in-memory stores: a client pays for a blast and a mitra takes
// it. With Postgres and Valkey, curhat.NewClient(pool, valkeyClient, cfg) gives the same
// Client.
func ExampleNewMemoryClient() {
	ctx := context.Background()
	c, err := curhat.NewMemoryClient(&curhat.Config{Gateway: payment.NewFakeGateway()})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Start(ctx); err != nil { // timers, seed, watchdog and every sweep
		fmt.Println(err)
		return
	}
	defer c.Stop(ctx)

	_, _ = c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "op"})
	mitra, _ := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
	_ = c.SetMitraOnline(ctx, mitra.ID)

	client, _ := c.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"}) // once, at the host's sign-up
	pr, pay, _ := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30})
	fmt.Println(pr.Status, pay.Amount, pay.Currency)
	_, _ = c.Payments().MarkPaid(ctx, pay.ID, pay.ProviderRef) // the provider's webhook
	offers, _ := c.Pairing().ListOffers(ctx, mitra.ID)
	fmt.Println(len(offers), "offer")
	chat, _ := c.Pairing().Accept(ctx, mitra.ID, pr.ID)
	fmt.Println(chat.Status, chat.Minutes)
	d, _ := c.Dashboard(ctx)
	fmt.Println(d.ActiveSessions, "active,", d.UnsettledPayments, "unsettled")
	// Output:
	// awaiting_payment 25000 IDR
	// 1 offer
	// active 30
	// 1 active, 0 unsettled
}
