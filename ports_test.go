package curhat_test

import (
	"errors"
	"testing"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

// Every port one domain declares for another is satisfied by that domain's service as it
// is: the shared value types are one type, so no host writes an adapter (the one shim left,
// pairing.Availability over the mirror's FindOptions, lives in curhat.NewClient's wiring).
var (
	_ pairing.Payments       = (*payment.Service)(nil)
	_ pairing.Quoter         = (*pricing.PricingStore)(nil)
	_ pairing.Extensions     = (*extension.Service)(nil)
	_ pairing.Settings       = (*curhat.RuntimeConfig)(nil)
	_ payment.Handler        = (*pairing.Pairer)(nil)
	_ payment.Handler        = (*extension.Service)(nil)
	_ extension.Sessions     = (*pairing.Pairer)(nil)
	_ extension.Payments     = (*payment.Service)(nil)
	_ extension.Quoter       = (*pricing.PricingStore)(nil)
	_ extension.Reachability = (*availability.Mirror)(nil)
	_ extension.Settings     = (*curhat.RuntimeConfig)(nil)
)

func TestErrNoTier_IsOneValueEverywhere(t *testing.T) {
	for name, err := range map[string]error{
		"pricing": pricing.ErrNoTier, "pairing": pairing.ErrNoTier, "extension": extension.ErrNoTier,
	} {
		if err != curhat.ErrNoTier || !errors.Is(err, curhat.ErrNoTier) {
			t.Errorf("%s.ErrNoTier is not curhat.ErrNoTier", name)
		}
	}
}
