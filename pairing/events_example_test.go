package pairing_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// pushNotifier is a host's Notifier: it switches on the payload's type to word a push
// notification (a host forwarding events to apps would encode e.Payload as JSON instead).
type pushNotifier struct{}

func (pushNotifier) Notify(_ context.Context, e pairing.Event) {
	switch p := e.Payload.(type) {
	case pairing.PairingOfferEvent:
		fmt.Printf("to the mitra: a %d-minute chat (%s)\n", p.Minutes, e.Kind())
	case pairing.PairingMatchedEvent:
		fmt.Printf("to %s: matched, session %s\n", recipients(e), p.Status)
	default:
		fmt.Printf("to %s: %s\n", recipients(e), e.Kind())
	}
}

func recipients(e pairing.Event) string {
	switch {
	case e.ClientID != nil && e.MitraID != nil:
		return "both"
	case e.ClientID != nil:
		return "the client"
	}
	return "the mitra"
}

// The events of a paid blast, as a host's Notifier sees them.
func ExampleEvent() {
	ctx := context.Background()
	store := pairing.NewMemoryStore()
	avail := pairingtest.NewAvailability(store, 1)
	payments := pairingtest.NewPayments()
	store.RecordRefunds = payments.RecordRefunds
	p, err := pairing.NewPairer(store, pairing.Deps{
		Availability: avail,
		Payments:     payments,
		Quoter:       pairingtest.NewQuoter(map[int]int64{30: 25000}),
		Notifier:     pushNotifier{},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Stop(ctx)
	payments.SetHandler(p)

	mitra := uuid.New()
	store.PutMitra(pairing.MemoryMitra{ID: mitra, Active: true})
	avail.SetOnline(mitra, true)
	client, _ := p.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
	pr, pay, _ := p.StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30})
	_ = payments.Pay(ctx, pay.ID)
	_, _ = p.Accept(ctx, mitra, pr.ID)
	// Output:
	// to the client: payment_paid
	// to the mitra: a 30-minute chat (pairing_offer)
	// to both: matched, session active
	// to both: session_started
}
