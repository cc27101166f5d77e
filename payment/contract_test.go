package payment_test

import (
	"testing"

	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/paymenttest"
)

func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			paymenttest.RunStoreContract(t, func(t *testing.T) paymenttest.StoreHarness {
				e := b.open(t)
				return paymenttest.StoreHarness{Store: e.store, SameData: e.sameData, Refs: e.harnessRefs, Deliver: e.deliver,
					Consume: e.consume}
			})
		})
	}
}

// harnessRefs hands the backend's rows of other domains to the contract suite.
func (e *env) harnessRefs(_ *testing.T, purpose payment.Purpose) paymenttest.Refs {
	return e.refs(purpose)
}
