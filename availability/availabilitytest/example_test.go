package availabilitytest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/availability/availabilitytest"
	"github.com/curhat/curhat/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// A new Cache mirrors an empty Store: a Mirror over the two serves reads from the cache at
// once, without a seed. A Store filled before the Mirror is built needs
// Mirror.SeedFromPostgres first.
func ExampleNewCache() {
	ctx := context.Background()
	hooks := &availability.Counters{}
	mirror, err := availability.NewMirror(availabilitytest.NewStore(), availabilitytest.NewCache(), &availability.Config{Hooks: hooks})
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
func ExampleCache_SetDown() {
	ctx := context.Background()
	cache := availabilitytest.NewCache()
	hooks := &availability.Counters{}
	mirror, err := availability.NewMirror(availabilitytest.NewStore(), cache, &availability.Config{Hooks: hooks})
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
func ExampleCache_Flush() {
	ctx := context.Background()
	cache := availabilitytest.NewCache()
	mirror, err := availability.NewMirror(availabilitytest.NewStore(), cache, nil)
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
