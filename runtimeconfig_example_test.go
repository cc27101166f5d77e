package curhat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/curhat/curhat"
)

func ExampleRuntimeConfig() {
	ctx := context.Background()
	// In production: NewPostgresConfigStore(pool) and NewValkeyBus(client, names, nil),
	// shared by every instance.
	rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), curhat.NewMemoryBus(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := rc.Start(ctx); err != nil {
		panic(err)
	}
	defer rc.Stop(ctx)

	fmt.Println(rc.MitraMaxConcurrentSessions(ctx)) // the default
	if _, err := rc.Set(ctx, "mitra_max_concurrent_sessions", json.RawMessage(`3`), "operator-1"); err != nil {
		panic(err)
	}
	fmt.Println(rc.MitraMaxConcurrentSessions(ctx))

	_, err = rc.Set(ctx, "mitra_max_concurrent_sessions", json.RawMessage(`"many"`), "operator-1")
	var ve *curhat.ValidationError
	fmt.Println(errors.As(err, &ve), ve.Field)
	_, err = rc.Set(ctx, "no_such_key", json.RawMessage(`1`), "operator-1")
	fmt.Println(errors.Is(err, curhat.ErrUnknownConfigKey))
	// Output:
	// 1
	// 3
	// true value
	// true
}
