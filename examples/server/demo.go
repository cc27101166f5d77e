package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/pricing"
)

// seedDemo creates a few mitras and clients with long-lived tokens and prints them, so a
// newcomer can curl the API at once.
func (a *App) seedDemo(ctx context.Context, out io.Writer) error {
	const ttl = 30 * 24 * time.Hour
	fmt.Fprintln(out, "demo data (tokens valid 30 days):")
	tiers := []pricing.CreateTierParams{
		{Mode: pricing.ModeSession, Minutes: 15, Price: 15_000, Label: "15 menit"},
		{Mode: pricing.ModeSession, Minutes: 30, Price: 25_000, Label: "30 menit"},
		{Mode: pricing.ModeSession, Minutes: 60, Price: 45_000, Label: "60 menit"},
		{Mode: pricing.ModeExtension, Minutes: 10, Price: 10_000, Label: "+10 menit"},
		{Mode: pricing.ModeExtension, Minutes: 15, Price: 14_000, Label: "+15 menit"},
	}
	for _, t := range tiers {
		t.ChangedBy = "demo"
		if _, err := a.pricing.CreateTier(ctx, t); err != nil && !errors.Is(err, pricing.ErrDuplicateTier) {
			return err
		}
	}
	fmt.Fprintln(out, "  pricing: session tiers 15/30/60 min, extension tiers 10/15 min (IDR)")
	for i, name := range []string{"Bestie Ayu", "Bestie Bima", "Bestie Citra"} {
		m, err := a.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: name})
		if err != nil {
			return err
		}
		if i < 2 {
			if err := a.mirror.SetOnline(ctx, m.ID); err != nil {
				return err
			}
		}
		tok, _, err := a.auth.issue(ctx, SubjectMitra, m.ID, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  mitra  %-14s id=%s online=%-5v token=%s\n", name, m.ID, i < 2, tok)
	}
	for _, name := range []string{"Client Dewi", "Client Eko"} {
		c, err := a.accounts.CreateClient(ctx, name, a.clock.Now().UTC().Truncate(time.Microsecond))
		if err != nil {
			return err
		}
		tok, _, err := a.auth.issue(ctx, SubjectClient, c.ID, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  client %-14s id=%s token=%s\n", name, c.ID, tok)
	}
	return nil
}
