package availability_test

import (
	"context"
	"fmt"

	"github.com/curhat/curhat/availability"
)

// A new Cache mirrors an empty Store: a Mirror over the two serves reads from the cache at
// once, without a seed. A Store filled before the Mirror is built needs
// Mirror.SeedFromPostgres first.
func ExampleNewMemoryCache() {
	ctx := context.Background()
	hooks := &availability.Counters{}
	mirror, err := availability.NewMirror(availability.NewMemoryStore(), availability.NewMemoryCache(), &availability.Config{Hooks: hooks.Hooks()})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Fajar"})
	_ = mirror.SetOnline(ctx, m.ID)

	n, err := mirror.OnlineCount(ctx)
	fmt.Println(n, err, hooks.Fallbacks())
	// Output: 1 <nil> 0
}

// A Cache set down behaves like a Valkey outage: the Mirror answers from the Store and
// counts the fallback.
func ExampleMemoryCache_SetDown() {
	ctx := context.Background()
	cache := availability.NewMemoryCache()
	hooks := &availability.Counters{}
	mirror, err := availability.NewMirror(availability.NewMemoryStore(), cache, &availability.Config{Hooks: hooks.Hooks()})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = mirror.SeedFromPostgres(ctx)
	m, _ := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Dewi"})
	_ = mirror.SetOnline(ctx, m.ID)

	cache.SetDown(true)
	online, err := mirror.Heartbeat(ctx, m.ID)
	reachable, _ := mirror.IsReachable(ctx, m.ID)
	fmt.Println(online, err, reachable, hooks.Fallbacks())
	// Output: true <nil> true 2
}

// Flush loses the data, like FLUSHALL: reads answer from the Store until the next seed.
func ExampleMemoryCache_Flush() {
	ctx := context.Background()
	cache := availability.NewMemoryCache()
	mirror, err := availability.NewMirror(availability.NewMemoryStore(), cache, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = mirror.SeedFromPostgres(ctx)
	m, _ := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Eka"})
	_ = mirror.SetOnline(ctx, m.ID)

	cache.Flush()
	p, _ := cache.Probe(ctx)
	n, _ := mirror.OnlineCount(ctx) // from the Store
	fmt.Println(p.Seeded, n)
	_, _ = mirror.SeedFromPostgres(ctx) // what the watchdog (Mirror.Start) does by itself
	p, _ = cache.Probe(ctx)
	fmt.Println(p.Seeded)
	// Output:
	// false 1
	// true
}
