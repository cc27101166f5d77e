package pairing_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// A paid blast from start to chat, on the in-memory store and fakes.
func ExamplePairer_StartBlast() {
	ctx := context.Background()
	store := pairing.NewMemoryStore()
	avail := pairingtest.NewAvailability(store, 1)
	payments := pairingtest.NewPayments()
	store.RecordRefunds = payments.RecordRefunds // refunds owed are recorded with the transition
	p, err := pairing.NewPairer(store, pairing.Deps{
		Availability: avail,
		Payments:     payments,
		Quoter:       pairingtest.NewQuoter(map[int]int64{30: 25000}),
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Stop(ctx)
	payments.SetHandler(p) // the payment service calls the Pairer when a payment is paid

	mitra := uuid.New()
	store.PutMitra(pairing.MemoryMitra{ID: mitra, Active: true})
	avail.SetOnline(mitra, true)

	client, _ := p.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"}) // once, at the host's sign-up
	pr, pay, _ := p.StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30, IdempotencyKey: "tap-1"})
	fmt.Println(pr.Status, pay.Amount, pay.Currency)

	_ = payments.Pay(ctx, pay.ID) // the provider's webhook
	offers, _ := p.ListOffers(ctx, mitra)
	fmt.Println(len(offers), "offer of", offers[0].Minutes, "minutes")

	session, _ := p.Accept(ctx, mitra, pr.ID)
	fmt.Println(session.Status, session.Minutes)
	pr, _ = p.GetPairing(ctx, pr.ID)
	fmt.Println(pr.Status)
	// Output:
	// awaiting_payment 25000 IDR
	// 1 offer of 30 minutes
	// active 30
	// matched
}

// A blast with the client's preferences: the mitra fitting every preference is offered
// it first (routing step 0); everyone else only when the steps have widened to any.
func ExamplePairer_StartBlast_preferences() {
	ctx := context.Background()
	store := pairing.NewMemoryStore()
	avail := pairingtest.NewAvailability(store, 1)
	payments := pairingtest.NewPayments()
	store.RecordRefunds = payments.RecordRefunds
	labels := pairingtest.NewLabels() // the SDK wires availability.Mirror's labels here
	p, err := pairing.NewPairer(store, pairing.Deps{
		Availability: avail, Payments: payments, Quoter: pairingtest.NewQuoter(map[int]int64{30: 25000}), Labels: labels,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Stop(ctx)
	payments.SetHandler(p)

	ayu, budi := uuid.New(), uuid.New()
	for _, m := range []uuid.UUID{ayu, budi} {
		store.PutMitra(pairing.MemoryMitra{ID: m, Active: true})
		avail.SetOnline(m, true)
	}
	labels.Set(ayu, pairingtest.MitraLabels{Languages: []string{"id"}, Topics: []string{"keluarga"}, Gender: "female"})

	client, _ := p.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
	pr, pay, _ := p.StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30,
		Preferences: &pairing.Preferences{Language: "id", Topics: []string{"Keluarga"}}})
	_ = payments.Pay(ctx, pay.ID)
	pr, _ = p.GetPairing(ctx, pr.ID)
	ayuOffers, _ := p.ListOffers(ctx, ayu)
	budiOffers, _ := p.ListOffers(ctx, budi)
	fmt.Println("routing step", pr.RoutingStep, "of", len(pr.RoutingSteps), pr.RoutingSteps[pr.RoutingStep].Match)
	fmt.Println("offers:", len(ayuOffers), len(budiOffers))
	// Output:
	// routing step 0 of 3 all
	// offers: 1 0
}
