package curhat

import (
	"context"

	"github.com/curhat/curhat/pairing"
)

// RegisterClient registers one of the host's paying clients with the SDK
// (pairing.Pairer.RegisterClient): under its account id in the host, or an id the SDK
// generates (params.ID zero), with the name mitras see. A client is registered once,
// before its first pairing: a pairing or a payment of an id never registered is
// ErrNotFound, over Postgres and in memory alike. Registering again with the same id and
// display name returns the client as first registered; the id with another display name
// is ErrConflict. Pairing().GetClient reads it back.
func (c *Client) RegisterClient(ctx context.Context, params pairing.RegisterClientParams) (pairing.Client, error) {
	return c.pairer.RegisterClient(ctx, params)
}
