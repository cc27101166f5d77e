package payment_test

import (
	"testing"

	"github.com/curhat/curhat/payment/paymenttest"
)

// TestStatsContract runs the statistics suite against both stores.
func TestStatsContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			paymenttest.RunStatsContract(t, func(t *testing.T) paymenttest.StoreHarness {
				e := b.open(t)
				return paymenttest.StoreHarness{Store: e.store, SameData: e.sameData, Refs: e.harnessRefs, Deliver: e.deliver}
			})
		})
	}
}
