// Command embed builds the whole product with one curhat.Client and runs a paid blast end
// to end: a tier, a mitra online, a client registered who pays, the mitra who accepts. It
// runs on the in-memory stores by default; with DATABASE_URL (and VALKEY_URL) on Postgres
// and Valkey.
//
//	go run ./examples/embed
//	DATABASE_URL=postgres://127.0.0.1:5432/test VALKEY_URL=redis://127.0.0.1:6379 go run ./examples/embed
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/pricing"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(ctx, os.Stdout, log, os.Getenv("DATABASE_URL"), os.Getenv("VALKEY_URL")); err != nil {
		log.Error("embed example failed", "err", err)
		os.Exit(1)
	}
}

// run is the whole product: build, start, and one paid blast from the client's tap to the
// mitra's accept.
func run(ctx context.Context, out io.Writer, log *slog.Logger, databaseURL, valkeyURL string) error {
	gateway := payment.NewFakeGateway() // your payment provider's adapter in production
	c, closeAll, err := open(ctx, &curhat.Config{Logger: log, Gateway: gateway}, databaseURL, valkeyURL)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := c.Start(ctx); err != nil { // timers, Valkey seed, watchdog, every sweep
		return err
	}
	defer c.Stop(context.Background())
	_, err = c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000, ChangedBy: "ops"})
	if err != nil && !errors.Is(err, pricing.ErrDuplicateTier) {
		return err
	}
	mitra, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
	if err != nil {
		return err
	}
	if err := c.SetMitraOnline(ctx, mitra.ID); err != nil { // and offered the blasts still searching
		return err
	}
	// Once per client, at the host's sign-up: under the host's own account id (or one the
	// SDK makes, as here). Registering again with the same id and name is harmless.
	client, err := c.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
	if err != nil {
		return err
	}
	pr, pay, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30})
	if err != nil {
		return err
	}
	if _, err := c.Payments().MarkPaid(ctx, pay.ID, pay.ProviderRef); err != nil { // your payment webhook
		return err
	}
	chat, err := c.Pairing().Accept(ctx, mitra.ID, pr.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "paid %d %s; chat %s for %d minutes with %s\n", pay.Amount, pay.Currency, chat.Status, chat.Minutes, mitra.DisplayName)
	return nil
}

// open builds the Client: in memory, or over Postgres (migrated) and Valkey.
func open(ctx context.Context, cfg *curhat.Config, databaseURL, valkeyURL string) (c *curhat.Client, closeAll func(), err error) {
	if databaseURL == "" {
		c, err = curhat.NewMemoryClient(cfg)
		return c, func() {}, err
	}
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, nil, err
	}
	closeAll = pool.Close
	if _, err := curhat.Migrate(ctx, pool); err != nil { // or hand curhat.Migrations() to your tool
		closeAll()
		return nil, nil, err
	}
	var vk valkey.Client
	if valkeyURL != "" {
		opt, err := valkey.ParseURL(valkeyURL)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		opt.ForceSingleClient = true
		if vk, err = valkey.NewClient(opt); err != nil {
			closeAll()
			return nil, nil, err
		}
		closeAll = func() { vk.Close(); pool.Close() }
	}
	if c, err = curhat.NewClient(pool, vk, cfg); err != nil {
		closeAll()
		return nil, nil, err
	}
	return c, closeAll, nil
}
