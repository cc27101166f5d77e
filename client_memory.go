package curhat

import (
	"fmt"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/payout"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/safety"
)

// NewMemoryClient builds a Client over the in-memory stores of the domains, for tests and
// demos: the whole product without a server (payment.NewFakeGateway is a fake payment
// provider for cfg.Gateway). Every store is built over one in-memory database, so that
// what Postgres refuses the memory client refuses too: a pairing or a payment of a client
// never registered (RegisterClient) is ErrNotFound, an offer to an unknown mitra as well,
// and the reads that Postgres answers with a join (a mitra's open sessions, whether a
// payment delivered, the first-session discount's "has this client paid") and the writes
// of two domains in one transaction (a pairing's transition and the refund it owes, an
// extension paid and its chat session grown) read and write the other domain's tables.
func NewMemoryClient(cfg *Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("curhat.NewMemoryClient: %w", err)
	}
	c := newClient(cfg)
	db := memdb.New()
	err := c.build(stores{
		config: NewMemoryConfigStore(), bus: c.cfg.Bus,
		avail: availability.NewMemoryStoreIn(db), cache: availability.NewMemoryCache(),
		prices: pricing.NewMemoryStoreIn(db), pays: payment.NewMemoryStoreIn(db), ledger: ledger.NewMemoryStoreIn(db),
		payouts: payout.NewMemoryStoreIn(db),
		pairing: pairing.NewMemoryStoreIn(db), exts: extension.NewMemoryStoreIn(db),
		chat: chat.NewMemoryStoreIn(db), reports: safety.NewMemoryReportStoreIn(db),
		alerts: safety.NewMemoryAlertStoreIn(db),
	})
	if err != nil {
		return nil, fmt.Errorf("curhat.NewMemoryClient: %w", err)
	}
	return c, nil
}
