package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
)

// demoPace is how the server plays the demo mitras (DEMO_MITRAS=auto).
type demoPace struct {
	Poll time.Duration // how often their offers are read
	// Heartbeat is how often they heartbeat; 0 means a third of the stale threshold
	// (MITRA_HEARTBEAT_STALE_SECONDS), whatever it is, so that a beat or two may come late
	// without a demo mitra going stale.
	Heartbeat time.Duration
	MinDelay  time.Duration // an offer is accepted after a random delay in [MinDelay, MaxDelay)
	MaxDelay  time.Duration
}

// defaultDemoPace: a mitra reads the offer, thinks a second or three, accepts.
var defaultDemoPace = demoPace{Poll: 500 * time.Millisecond, MinDelay: time.Second, MaxDelay: 4 * time.Second}

// staleThreshold is the stale threshold the mirror applies: MITRA_HEARTBEAT_STALE_SECONDS,
// or availability's default when the Config leaves it zero.
func (a *App) staleThreshold() time.Duration {
	return cmp.Or(a.cfg.HeartbeatStale, availability.DefaultStaleThreshold)
}

// withDefaults fills a zero Heartbeat from the stale threshold in effect.
func (p demoPace) withDefaults(stale time.Duration) demoPace {
	if p.Heartbeat <= 0 {
		p.Heartbeat = stale / 3
	}
	return p
}

// seedDemo creates a few mitras and clients with long-lived tokens and prints them, so a
// newcomer can curl the API at once. With DEMO_MITRAS=auto the server then plays the
// online demo mitras (playDemoMitras) until it closes.
func (a *App) seedDemo(ctx context.Context, out io.Writer, pace demoPace) error {
	const ttl = 30 * 24 * time.Hour
	pace = pace.withDefaults(a.staleThreshold())
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
	auto := a.cfg.DemoMitras == DemoMitrasAuto
	var played []uuid.UUID
	for i, name := range []string{"Bestie Ayu", "Bestie Bima", "Bestie Citra"} {
		m, err := a.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: name})
		if err != nil {
			return err
		}
		online := i < 2
		if online {
			if err := a.mirror.SetOnline(ctx, m.ID); err != nil {
				return err
			}
			played = append(played, m.ID)
		}
		tok, _, err := a.auth.issue(ctx, SubjectMitra, m.ID, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  mitra  %-14s id=%s online=%-5v token=%s\n", name, m.ID, online, tok)
		if !online {
			// The mitra app's: the server never plays this one, whatever DEMO_MITRAS says.
			a.demoLogins.Mitra, a.demoLogins.MitraName = tok, name
		}
	}
	for _, name := range []string{"Client Dewi", "Client Eko"} {
		c, err := a.registerClient(ctx, name)
		if err != nil {
			return err
		}
		tok, _, err := a.auth.issue(ctx, SubjectClient, c.ID, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  client %-14s id=%s token=%s\n", name, c.ID, tok)
		if a.demoLogins.Client == "" {
			a.demoLogins.Client, a.demoLogins.ClientName = tok, name
		}
	}
	if auto {
		fmt.Fprintf(out, "  DEMO_MITRAS=auto: the server plays the online mitras: they heartbeat every %v and accept offers after %v–%v (DEMO_MITRAS=off to drive them yourself)\n",
			pace.Heartbeat, pace.MinDelay, pace.MaxDelay)
		a.playDemoMitras(played, pace)
	} else {
		fmt.Fprintf(out, "  DEMO_MITRAS=off: drive the mitras with their tokens; a mitra that sends no heartbeat for MITRA_HEARTBEAT_STALE_SECONDS (%v) goes offline\n",
			a.staleThreshold())
	}
	if a.fakeGateway != nil {
		fmt.Fprintln(out, "  payments: open a payment's checkout_url (the fake gateway's page on this server) to pay it or make it fail")
	} else {
		fmt.Fprintln(out, "  payments: a payment's checkout_url is the provider's page; its callback marks it paid")
	}
	return nil
}

// demoPlayer plays the demo mitras: heartbeats, and accepting offers after a short random
// delay. It runs until the App closes (stopDemo).
type demoPlayer struct {
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// playDemoMitras starts the demo player for mitras.
func (a *App) playDemoMitras(mitras []uuid.UUID, pace demoPace) {
	ctx, cancel := context.WithCancel(a.bgCtx)
	p := &demoPlayer{stop: cancel}
	a.demoMu.Lock()
	a.demo = p
	a.demoMu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		a.runDemoMitras(ctx, mitras, pace)
	}()
}

// stopDemo stops the demo player, if any, and waits for it.
func (a *App) stopDemo() {
	a.demoMu.Lock()
	p := a.demo
	a.demoMu.Unlock()
	if p != nil {
		p.stop()
		p.wg.Wait()
	}
}

func (a *App) runDemoMitras(ctx context.Context, mitras []uuid.UUID, pace demoPace) {
	// The loop turns at least twice per heartbeat, so that a beat is at most half a period
	// late: a threshold of a second or two asks for beats closer together than the poll.
	poll := time.NewTicker(max(min(pace.Poll, pace.Heartbeat/2), time.Millisecond))
	defer poll.Stop()
	var lastBeat time.Time
	due := map[uuid.UUID]time.Time{} // pairing → when its mitra accepts
	mitraOf := map[uuid.UUID]uuid.UUID{}
	read := map[uuid.UUID]int64{} // chat session → the last message a demo mitra read
	for {
		now := time.Now()
		if now.Sub(lastBeat) >= pace.Heartbeat {
			lastBeat = now
			for _, id := range mitras {
				if _, err := a.mirror.Heartbeat(ctx, id); err != nil && ctx.Err() == nil {
					a.log.WarnContext(ctx, "demo mitra heartbeat", "mitra", id, "err", err)
				}
			}
		}
		for _, id := range mitras {
			offers, err := a.pairer.ListOffers(ctx, id)
			if err != nil {
				continue
			}
			for _, o := range offers {
				if _, ok := due[o.PairingID]; !ok {
					due[o.PairingID] = now.Add(pace.MinDelay + rand.N(max(pace.MaxDelay-pace.MinDelay, 1)))
					mitraOf[o.PairingID] = id
				}
			}
		}
		for pid, at := range due {
			if now.Before(at) {
				continue
			}
			mitra := mitraOf[pid]
			delete(due, pid)
			delete(mitraOf, pid)
			_, err := a.pairer.Accept(ctx, mitra, pid)
			switch {
			case err == nil:
				a.log.InfoContext(ctx, "demo mitra accepted an offer", "mitra", mitra, "pairing", pid)
			case errors.Is(err, pairing.ErrAlreadyMatched), errors.Is(err, pairing.ErrExpired), errors.Is(err, pairing.ErrAtCapacity),
				ctx.Err() != nil:
				// Someone else was quicker, or the offer went: as it happens to a person.
			default:
				a.log.WarnContext(ctx, "demo mitra accept", "pairing", pid, "err", err)
			}
		}
		a.replyAsDemoMitras(ctx, mitras, read)
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
}

// demoReplies are what a demo mitra answers a client's messages with, in turn.
var demoReplies = []string{
	"Aku di sini, cerita aja ya.",
	"Hmm, aku dengerin. Terus gimana rasanya?",
	"Wajar kok kalau kamu merasa begitu.",
	"Makasih sudah cerita. Apa yang paling bikin berat?",
}

// replyAsDemoMitras answers the clients in the demo mitras' running chats: once per batch
// of new messages whose last is the client's, so that the client app alone plays the whole
// product. read holds the last message each demo mitra read of each running chat.
func (a *App) replyAsDemoMitras(ctx context.Context, mitras []uuid.UUID, read map[uuid.UUID]int64) {
	running := map[uuid.UUID]bool{}
	for _, id := range mitras {
		sessions, err := a.pairer.ListChatSessions(ctx, pairing.ListSessionsParams{MitraID: &id, Status: pairing.SessionActive})
		if err != nil {
			continue
		}
		for _, cs := range sessions {
			running[cs.ID] = true
			h, err := a.client.Chat().History(ctx, chat.HistoryParams{ChatSessionID: cs.ID, Reader: pairing.PartyMitra,
				ReaderID: id, AfterSeq: read[cs.ID], Limit: chat.MaxHistoryLimit})
			if err != nil || len(h.Messages) == 0 {
				continue
			}
			last := h.Messages[len(h.Messages)-1]
			read[cs.ID] = last.Seq
			if last.Sender != pairing.PartyClient {
				continue
			}
			_, err = a.client.Chat().Send(ctx, chat.SendParams{ChatSessionID: cs.ID, Sender: pairing.PartyMitra, SenderID: id,
				ClientMsgID: fmt.Sprintf("demo-reply-%d", last.Seq), Text: demoReplies[int(last.Seq)%len(demoReplies)]})
			if err != nil && ctx.Err() == nil {
				a.log.WarnContext(ctx, "demo mitra reply", "chat_session", cs.ID, "err", err)
			}
		}
	}
	for id := range read {
		if !running[id] {
			delete(read, id) // ended: nothing more to answer
		}
	}
}
