package curhat_test

import (
	"errors"
	"testing"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
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

func TestErrAlreadyRated_IsPairingsValue(t *testing.T) {
	if curhat.ErrAlreadyRated != pairing.ErrAlreadyRated || !errors.Is(pairing.ErrAlreadyRated, curhat.ErrAlreadyRated) {
		t.Error("curhat.ErrAlreadyRated is not pairing.ErrAlreadyRated")
	}
}
