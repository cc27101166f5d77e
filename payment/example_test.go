package payment_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// startChat is what a pairing package registers: it starts the blast once the chat is paid.
type startChat struct{}

func (startChat) PaymentPaid(_ context.Context, s payment.Session) error {
	fmt.Println("paid: start the blast for", s.Minutes, "minutes")
	return nil
}

func (startChat) PaymentClosed(_ context.Context, s payment.Session) error {
	fmt.Println("closed:", s.Status, "- cancel the pairing")
	return nil
}

func Example() {
	ctx := context.Background()
	gateway := payment.NewFakeGateway()
	svc, err := payment.NewService(payment.NewMemoryStore(), gateway, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	svc.SetHandler(payment.PurposeChatStart, startChat{})

	pairingID := uuid.New()
	sess, _, err := svc.Create(ctx, payment.CreateParams{
		ClientID: uuid.New(), Purpose: payment.PurposeChatStart, PairingID: &pairingID,
		TierID: uuid.New(), Minutes: 30, BaseAmount: 50000, DiscountAmount: 10000, Amount: 40000,
		Currency: "IDR", IdempotencyKey: "req-1",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(sess.Status, sess.Amount, sess.Currency, sess.CheckoutURL != "")

	// The provider's webhook, delivered twice.
	for range 2 {
		sess, err = svc.MarkPaid(ctx, sess.ID, sess.ProviderRef)
		if err != nil {
			panic(err)
		}
	}
	fmt.Println(sess.Status)

	// The pairing found nobody: give the money back.
	sess, err = svc.Refund(ctx, sess.ID, "no_mitra_available")
	if err != nil {
		panic(err)
	}
	fmt.Println(sess.Status, len(gateway.Refunds()), "refund")
	// Output:
	// pending 40000 IDR true
	// paid: start the blast for 30 minutes
	// paid
	// refunded 1 refund
}
