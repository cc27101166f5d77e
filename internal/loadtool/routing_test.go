package main

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/pairing"
)

func TestGini_ZeroWhenEvenAndNMinusOneOverNWhenOneHoldsAll(t *testing.T) {
	assert.Zero(t, gini([]float64{120, 120, 120, 120}), "all equal")
	assert.Zero(t, gini([]float64{0, 0, 0}), "nothing at all is even")
	assert.Zero(t, gini(nil))
	assert.Zero(t, gini([]float64{7}), "one mitra alone")
	assert.InDelta(t, 3.0/4, gini([]float64{0, 0, 100, 0}), 1e-12, "one of four has all: (n-1)/n")
	assert.InDelta(t, 49.0/50, gini(append(make([]float64, 49), 2000)), 1e-12, "one of fifty has all")
	// {1, 2, 3, 4}: Σ|xi-xj| over ordered pairs = 20, 2·n²·mean = 2·16·2.5 = 80.
	assert.InDelta(t, 0.25, gini([]float64{4, 1, 3, 2}), 1e-12)
	assert.InDelta(t, gini([]float64{1, 2, 3, 4}), gini([]float64{10, 20, 30, 40}), 1e-12, "scale-free")
	in := []float64{3, 1, 2}
	gini(in)
	assert.Equal(t, []float64{3, 1, 2}, in, "the input stays as it is")
}

func TestOfferLog_KeepsEachPairingsFirstOfferEventInOrder(t *testing.T) {
	l := newOfferLog()
	ctx := context.Background()
	p := uuid.New()
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	l.NotifyMitras(ctx, pairing.Event{Payload: pairing.OfferDismissedEvent{PairingID: p}}, []uuid.UUID{c})
	l.NotifyMitras(ctx, pairing.Event{Payload: pairing.PairingOfferEvent{PairingID: p}}, []uuid.UUID{b, a})
	l.Notify(ctx, pairing.Event{MitraID: &c, Payload: pairing.PairingOfferEvent{PairingID: p}})
	require.Equal(t, []uuid.UUID{b, a}, l.take(p), "the first offer event, in its order; a later ring is not the first")
	assert.Empty(t, l.take(p), "taken once")
	l.Notify(ctx, pairing.Event{MitraID: &c, Payload: pairing.PairingOfferEvent{PairingID: p}})
	assert.Equal(t, []uuid.UUID{c}, l.take(p), "one event per mitra (a Notifier without NotifyMitras)")
}
