package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/curhat/curhat/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

func TestRun_APaidBlastEndToEndInMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, slog.New(slog.DiscardHandler), "", ""); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "paid 25000 IDR; chat active for 30 minutes with Ayu\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRun_APaidBlastEndToEndOnPostgresAndValkey(t *testing.T) {
	db := testenv.Postgres(t)
	// run uses the default key names: a private server, not the shared one.
	redis := testenv.StartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, slog.New(slog.DiscardHandler), db.URL, redis.URL()); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "paid 25000 IDR; chat active for 30 minutes with Ayu\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
