package availability_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
)

// A Mirror over the in-memory Store and Cache: the same behaviour as Postgres + Valkey,
// without servers.
func ExampleMirror() {
	ctx := context.Background()
	mirror, err := availability.NewMirror(availability.NewMemoryStore(), availability.NewMemoryCache(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := mirror.SeedFromPostgres(ctx); err != nil { // at startup, before serving
		panic(err)
	}

	m, _ := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Sari"})
	_ = mirror.SetOnline(ctx, m.ID)
	online, _ := mirror.Heartbeat(ctx, m.ID) // the app pings every ~30 s
	ids, _ := mirror.FindAvailable(ctx, availability.FindOptions{Limit: 50})
	beacon, _ := mirror.CountAvailable(ctx)
	fmt.Println("online:", online)
	fmt.Println("available:", len(ids), beacon.AvailableCount)
	// Output:
	// online: true
	// available: 1 1
}

// Deactivation revokes the mitra's sessions and refuses its pings from then on.
func ExampleMirror_SetActive() {
	ctx := context.Background()
	store := availability.NewMemoryStore()
	store.SetOnDeactivate(func(_ context.Context, _ uuid.UUID) error {
		fmt.Println("auth sessions revoked")
		return nil
	})
	mirror, err := availability.NewMirror(store, availability.NewMemoryCache(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = mirror.SeedFromPostgres(ctx)

	m, _ := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Budi"})
	_ = mirror.SetOnline(ctx, m.ID)
	_, _ = mirror.SetActive(ctx, m.ID, false)
	_, err = mirror.Heartbeat(ctx, m.ID)
	fmt.Println(errors.Is(err, availability.ErrDeactivated))
	// Output:
	// auth sessions revoked
	// true
}

// Capacity is derived from the chat sessions, never counted up and down: after every
// chat-session transition, RecomputeCapacity.
func ExampleMirror_RecomputeCapacity() {
	ctx := context.Background()
	store := availability.NewMemoryStore()
	open := 0 // the host's chat sessions of this one mitra
	store.SetOpenSessions(func(context.Context, uuid.UUID) (int, error) { return open, nil })
	mirror, err := availability.NewMirror(store, availability.NewMemoryCache(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = mirror.SeedFromPostgres(ctx)
	m, _ := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Citra"})
	_ = mirror.SetOnline(ctx, m.ID)

	open = 1 // a chat session started
	n, _ := mirror.RecomputeCapacity(ctx, m.ID)
	ids, _ := mirror.FindAvailable(ctx, availability.FindOptions{})
	fmt.Println("open sessions:", n, "available:", len(ids))
	open = 0 // it ended
	_, _ = mirror.RecomputeCapacity(ctx, m.ID)
	ids, _ = mirror.FindAvailable(ctx, availability.FindOptions{})
	fmt.Println("available:", len(ids))
	// Output:
	// open sessions: 1 available: 0
	// available: 1
}

// A mitra on two devices: the phone signing off leaves the mitra online on the tablet;
// the last device signing off takes it offline.
func ExampleMirror_EndDevice() {
	ctx := context.Background()
	mirror, err := availability.NewMirror(availability.NewMemoryStore(), availability.NewMemoryCache(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Dian"})
	_ = mirror.SetOnlineDevice(ctx, m.ID, "phone")
	_, _ = mirror.HeartbeatDevice(ctx, m.ID, "tablet") // the tablet pings too

	online, _ := mirror.EndDevice(ctx, m.ID, "phone")
	devices, _ := mirror.Devices(ctx, m.ID)
	fmt.Println("online:", online, "devices:", len(devices), devices[0].ID)
	online, _ = mirror.EndDevice(ctx, m.ID, "tablet")
	fmt.Println("online:", online)
	// Output:
	// online: true devices: 1 tablet
	// online: false
}

// An open event stream holds its device's lease: no heartbeat is needed while it is open.
// Start runs the refreshes; Close keeps the lease for the reconnect grace.
func ExampleMirror_OpenStream() {
	ctx := context.Background()
	mirror, err := availability.NewMirror(availability.NewMemoryStore(), availability.NewMemoryCache(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = mirror.Start(ctx)
	defer func() { _ = mirror.Stop(ctx) }()
	m, _ := mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Eka"})
	_ = mirror.SetOnlineDevice(ctx, m.ID, "phone")

	stream, _ := mirror.OpenStream(ctx, availability.StreamParams{
		MitraID: m.ID, Device: "phone",
		OnPresence: func(online bool) { fmt.Println("tell the app: online", online) },
	})
	devices, _ := mirror.Devices(ctx, m.ID)
	fmt.Println("online:", stream.Online(), "streaming:", devices[0].Streaming)
	stream.Close() // the mitra stays reachable for Config.ReconnectGrace
	ok, _ := mirror.IsReachable(ctx, m.ID)
	fmt.Println("reachable:", ok)
	// Output:
	// online: true streaming: true
	// reachable: true
}
