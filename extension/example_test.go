package extension_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/extension/extensiontest"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// Example wires a Service over the in-memory store with real payment and pricing services
// and fakes of the chat sessions and of mitra reachability, then buys 15 more minutes.
func Example() {
	ctx := context.Background()

	prices, err := pricing.NewPricingStore(pricing.NewMemoryStore(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := prices.CreateTier(ctx, pricing.CreateTierParams{
		Mode: pricing.ModeExtension, Minutes: 15, Price: 10000, Label: "+15 menit", ChangedBy: "ops",
	}); err != nil {
		panic(err)
	}
	payments, err := payment.NewService(payment.NewMemoryStore(), payment.NewFakeGateway(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	store := extension.NewMemoryStore()
	sessions := extensiontest.NewSessions()
	store.ExtendSession = sessions.Extend // the in-memory store cannot see chat sessions
	reach := extensiontest.NewReachability()

	svc, err := extension.NewService(store, extension.Deps{
		Sessions: sessions, Reachability: reach, Payments: payments, Quoter: prices,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = svc.Stop(ctx) }()
	payments.SetHandler(payment.PurposeExtension, svc)

	client, mitra := uuid.New(), uuid.New()
	chat := sessions.StartActive(client, mitra, time.Now(), 30) // a paid extension needs a session not over yet

	// The mitra went offline: the safeguard refuses, and charges nothing.
	e, _, err := svc.Request(ctx, extension.RequestParams{ClientID: client, ChatSessionID: chat.ID, Minutes: 15})
	fmt.Println(e.Status, e.RejectReason, errors.Is(err, extension.ErrMitraUnavailable))

	// Back online: approved at once, and charged.
	reach.Set(mitra, true)
	e, pay, err := svc.Request(ctx, extension.RequestParams{ClientID: client, ChatSessionID: chat.ID, Minutes: 15})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Status, e.DecidedBy, pay.Amount, pay.Currency)

	// The provider confirms the payment: the session grows by 15 minutes.
	if _, err := payments.MarkPaid(ctx, pay.ID, pay.ProviderRef); err != nil {
		panic(err)
	}
	e, _ = svc.Get(ctx, e.ID)
	chat, _ = sessions.GetChatSession(ctx, chat.ID)
	fmt.Println(e.Status, chat.Minutes, chat.EndsAt.Sub(*chat.StartedAt))
	// Output:
	// rejected mitra_offline true
	// approved auto 10000 IDR
	// paid 45 45m0s
}
