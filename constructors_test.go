package curhat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/extension/extensiontest"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/sweeps"
)

// No constructor panics on what a host gives it: a missing dependency or a config no
// default can stand for comes back as an error naming the field.
func TestConstructors_RefuseBadInputNamingTheField(t *testing.T) {
	job := func(context.Context) (sweeps.Report, error) { return sweeps.Report{}, nil }
	pairStore := pairing.NewMemoryStore()
	pairDeps := pairing.Deps{
		Availability: pairingtest.NewAvailability(pairStore, 1), Payments: pairingtest.NewPayments(),
		Quoter: pairingtest.NewQuoter(nil),
	}
	payments := pairingtest.NewPayments().Service()
	prices, err := pricing.NewPricingStore(pricing.NewMemoryStore(), nil)
	if err != nil {
		t.Fatal(err)
	}
	extDeps := extension.Deps{
		Sessions: extensiontest.NewSessions(), Reachability: extensiontest.NewReachability(), Payments: payments, Quoter: prices,
	}
	ignore := func(_ any, err error) error { return err }

	for _, tc := range []struct {
		name  string
		build func() error
		field string
	}{
		{"mirror without a store", func() error { return ignore(availability.NewMirror(nil, nil, nil)) }, "store"},
		{"mirror with a negative stale threshold", func() error {
			return ignore(availability.NewMirror(availability.NewMemoryStore(), nil, &availability.Config{StaleThreshold: -time.Second}))
		}, "Config.StaleThreshold"},
		{"mirror with a negative watchdog interval", func() error {
			return ignore(availability.NewMirror(availability.NewMemoryStore(), nil, &availability.Config{WatchdogInterval: -1}))
		}, "Config.WatchdogInterval"},
		{"pricing without a store", func() error { return ignore(pricing.NewPricingStore(nil, nil)) }, "store"},
		{"pricing with a currency that is not ISO 4217", func() error {
			return ignore(pricing.NewPricingStore(pricing.NewMemoryStore(), &pricing.Config{Currency: "rupiah"}))
		}, "Config.Currency"},
		{"payments without a store", func() error { return ignore(payment.NewService(nil, payment.NewFakeGateway(), nil)) }, "store"},
		{"payments without a gateway", func() error { return ignore(payment.NewService(payment.NewMemoryStore(), nil, nil)) }, "gateway"},
		{"payments with negative refund attempts", func() error {
			return ignore(payment.NewService(payment.NewMemoryStore(), payment.NewFakeGateway(), &payment.Config{RefundMaxAttempts: -1}))
		}, "Config.RefundMaxAttempts"},
		{"pairer without a store", func() error { return ignore(pairing.NewPairer(nil, pairDeps, nil)) }, "store"},
		{"pairer without payments", func() error {
			d := pairDeps
			d.Payments = nil
			return ignore(pairing.NewPairer(pairStore, d, nil))
		}, "Deps.Payments"},
		{"pairer with a negative fan-out cap", func() error {
			return ignore(pairing.NewPairer(pairStore, pairDeps, &pairing.Config{FanoutCap: -1}))
		}, "Config.FanoutCap"},
		{"extensions without sessions", func() error {
			d := extDeps
			d.Sessions = nil
			return ignore(extension.NewService(extension.NewMemoryStore(), d, nil))
		}, "Deps.Sessions"},
		{"extensions with a negative orphan TTL", func() error {
			return ignore(extension.NewService(extension.NewMemoryStore(), extDeps, &extension.Config{OrphanTTL: -time.Minute}))
		}, "Config.OrphanTTL"},
		{"chat without a store", func() error { return ignore(chat.NewService(nil, chat.Deps{}, nil)) }, "store"},
		{"chat with a negative history after the end", func() error {
			return ignore(chat.NewService(chat.NewMemoryStore(), chat.Deps{}, &chat.Config{HistoryAfterEnd: -time.Hour}))
		}, "Config.HistoryAfterEnd"},
		{"sweep without a job", func() error { return ignore(sweeps.New(nil, sweeps.Config{})) }, "job"},
		{"sweep with a negative interval", func() error { return ignore(sweeps.New(job, sweeps.Config{Interval: -time.Second})) }, "Config.Interval"},
		{"sweep with a negative timeout", func() error { return ignore(sweeps.New(job, sweeps.Config{Timeout: -time.Second})) }, "Config.Timeout"},
		{"runtime config without a store", func() error { return ignore(curhat.NewRuntimeConfig(nil, nil, nil)) }, "store"},
		{"runtime config with a negative max age", func() error {
			return ignore(curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), nil, &curhat.RuntimeConfigOptions{MaxAge: -time.Second}))
		}, "RuntimeConfigOptions.MaxAge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build()
			var ve *curhat.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a *curhat.ValidationError on %s", err, tc.field)
			}
			if ve.Field != tc.field {
				t.Fatalf("the error names %q, want %q (%v)", ve.Field, tc.field, err)
			}
		})
	}
}
