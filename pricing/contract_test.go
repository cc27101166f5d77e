package pricing_test

import (
	"testing"

	"github.com/curhat/curhat/pricing/pricingtest"
)

func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			pricingtest.RunStoreContract(t, func(t *testing.T) pricingtest.StoreHarness {
				h, _ := newHarness(t, kind)
				return h
			})
		})
	}
}
