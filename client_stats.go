package curhat

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
)

// Stats are the marketplace's figures over a window (Client.Stats), computed from the
// durable rows so that every instance answers the same. Events are counted by when they
// happened: after From, at or before To (the time of the reading).
type Stats struct {
	From, To time.Time
	// Pairing is the pairings, offers, waiting clients and chat sessions (pairing.Stats).
	Pairing pairing.Stats
	// Money is the payments paid and the refunds that went through (payment.Stats).
	Money payment.Stats
}

// Stats returns the figures of the window of length window that ends now (the Client's
// clock): two reads, one of the pairing tables and one of the payment tables, run at once.
// window must be positive (a ValidationError naming "window" otherwise).
func (c *Client) Stats(ctx context.Context, window time.Duration) (Stats, error) {
	w, err := c.pairer.StatsWindowEnding(window)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	out := Stats{From: w.From, To: w.To}
	var wg sync.WaitGroup
	var moneyErr error
	wg.Go(func() { out.Money, moneyErr = c.payments.Stats(ctx, w.From, w.To) })
	out.Pairing, err = c.pairer.Stats(ctx, w)
	wg.Wait()
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	if moneyErr != nil {
		return Stats{}, fmt.Errorf("stats: %w", moneyErr)
	}
	return out, nil
}

// MitraStats returns one mitra's figures of the window of length window that ends now
// (pairing.MitraStats); ErrNotFound when the mitra does not exist.
func (c *Client) MitraStats(ctx context.Context, mitraID uuid.UUID, window time.Duration) (pairing.MitraStats, error) {
	w, err := c.pairer.StatsWindowEnding(window)
	if err != nil {
		return pairing.MitraStats{}, fmt.Errorf("stats: %w", err)
	}
	return c.pairer.MitraStats(ctx, mitraID, w)
}

// Waiting returns the paid blasts waiting for a mitra now and the longest wait
// (pairing.Pairer.Waiting): a cheap read, for gauges.
func (c *Client) Waiting(ctx context.Context) (pairing.Waiting, error) { return c.pairer.Waiting(ctx) }
