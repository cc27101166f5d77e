// Command embed is the README's embedding example as a program that compiles: it wires the
// runtime config, the availability mirror and pricing over Postgres + Valkey, pings once
// and prints what it sees.
//
//	DATABASE_URL=postgres://127.0.0.1:5432/test VALKEY_URL=redis://127.0.0.1:6379 go run ./examples/embed
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pricing"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, log); err != nil {
		log.Error("embed example failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := curhat.Migrate(ctx, pool); err != nil { // or hand curhat.Migrations() to your tool
		return err
	}

	opt, err := valkey.ParseURL(os.Getenv("VALKEY_URL")) // redis://host:port, as the reference server takes it
	if err != nil {
		return err
	}
	opt.ForceSingleClient = true
	vk, err := valkey.NewClient(opt)
	if err != nil {
		return err
	}
	defer vk.Close()
	names := curhat.NewKeyNames("", false) // the default key names; NewKeyNames("app:", true) for a cluster

	runtime, err := curhat.NewRuntimeConfig(curhat.NewPostgresConfigStore(pool),
		curhat.NewValkeyConfigBus(vk, names.ConfigInvalidate()), &curhat.RuntimeConfigOptions{Logger: log})
	if err != nil {
		return err
	}
	if err := runtime.Start(ctx); err != nil {
		return err
	}
	defer runtime.Stop(context.Background())

	mirror, err := availability.NewMirror(availability.NewPostgresStore(pool),
		availability.NewValkeyCache(vk, availability.CacheConfig{Names: names}),
		&availability.Config{Logger: log, DefaultMaxSessions: runtime.MitraMaxConcurrentSessions})
	if err != nil {
		return err
	}
	if _, err := mirror.SeedFromPostgres(ctx); err != nil {
		log.Warn("seed failed; reads fall back to Postgres meanwhile", "err", err)
	}
	if err := mirror.Start(ctx); err != nil { // reseeds when Valkey restarts or loses its data
		return err
	}
	defer mirror.Stop(context.Background())

	m, err := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
	if err != nil {
		return err
	}
	if err := mirror.SetOnline(ctx, m.ID); err != nil {
		return err
	}
	online, err := mirror.Heartbeat(ctx, m.ID) // 1 Valkey round trip, 0 Postgres
	if err != nil {
		return err
	}
	ids, err := mirror.FindAvailable(ctx, availability.FindOptions{Limit: 50})
	if err != nil {
		return err
	}

	prices, err := pricing.NewPricingStore(pricing.NewPostgresStore(pool), &pricing.Config{Logger: log})
	if err != nil {
		return err
	}
	tiers, err := prices.ListTiers(ctx, pricing.ListTiersParams{Mode: pricing.ModeSession})
	if err != nil {
		return err
	}
	fmt.Printf("mitra %s online=%v; %d available; %d session tiers\n", m.ID, online, len(ids), len(tiers))
	return nil
}
