package curhat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
)

// The property test of blocks (SPEC §25): random clients, mitras, blocks and unblocks by
// either side, blasts, "Curhat lagi", fallbacks, reroutes, accepts, declines, ends,
// mitras going offline and online, the clock, and the pairing policies switched at random
// (the queue, ring offers; half the mitras take two chats at once) — after every step no event ever offered
// a blocked pair, no live offer is between a blocked pair, no match is, and an accept
// across a block is refused. That blocking does not stop the rest: a blast (and a
// reroute's prepaid blast) under the blast policy without the queue is offered to exactly
// the available mitras not blocked with its client, under the ring policy to a ring of
// them, and the run matches pairs.
//
// CURHAT_BLOCKS_SEED fixes the seed (logged; a failure repeats it with the last steps);
// CURHAT_BLOCKS_STEPS overrides the number of steps per backend; CURHAT_BLOCKS_LOG=1
// prints every step.

const (
	blocksPropSeedEnv  = "CURHAT_BLOCKS_SEED"
	blocksPropStepsEnv = "CURHAT_BLOCKS_STEPS"
	blocksPropLogEnv   = "CURHAT_BLOCKS_LOG"
	blocksPropMitras   = 6
	blocksPropClients  = 8
	blocksPropLogTail  = 60
)

func TestBlocks_PropertyABlockedPairIsNeverOfferedAndOthersStillMatch(t *testing.T) {
	t.Parallel()
	seed := rand.Uint64()
	if s := os.Getenv(blocksPropSeedEnv); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "%s", blocksPropSeedEnv)
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, blocksPropSeedEnv, seed)
	for _, name := range []string{"memory", "postgres+valkey"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			steps := 3000
			if name != "memory" {
				steps = 600
			}
			if ledgerPropRace() {
				steps /= 3
			}
			if s := os.Getenv(blocksPropStepsEnv); s != "" {
				n, err := strconv.Atoi(s)
				require.NoError(t, err, "%s", blocksPropStepsEnv)
				steps = n
			}
			p := newBlocksProp(t, openBlocksBundle(t, name != "memory"), seed)
			start := time.Now()
			p.run(steps)
			p.assertLiveness(steps)
			t.Logf("seed %d: %d steps in %s; %s", seed, steps, time.Since(start).Round(time.Millisecond), p.summary())
		})
	}
}

// openBlocksBundle is newMemoryBundle or newPostgresBundle whose Client logs its warnings
// to the test's output: a warning is how the SDK reports work it could not do.
func openBlocksBundle(t *testing.T, postgres bool) clientBundle {
	cfg, gw, ev, clk := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	var c *curhat.Client
	var err error
	if postgres {
		db, vk := testenv.Postgres(t), testenv.NewValkey(t)
		cfg.KeyNames = vk.Names()
		c, err = curhat.NewClient(db.Pool, vk.Client, cfg)
	} else {
		c, err = curhat.NewMemoryClient(cfg)
	}
	require.NoError(t, err)
	startClient(t, c)
	return clientBundle{c: c, gateway: gw, events: ev, clock: clk}
}

// blockPair is a client–mitra pair.
type blockPair struct{ client, mitra uuid.UUID }

// blocksProp is one run: the Client, the random source, and the model — who blocked whom.
type blocksProp struct {
	t   *testing.T
	b   clientBundle
	ctx context.Context
	rng *rand.Rand

	clients, mitras []uuid.UUID
	names           map[uuid.UUID]string
	online          map[uuid.UUID]bool
	// blocks holds each side's block of a pair.
	blocks map[blockPair]map[pairing.Party]bool
	// owner is the client of each pairing the run learnt of.
	owner map[uuid.UUID]uuid.UUID
	// pairings are the pairings the run created, in order.
	pairings []uuid.UUID

	// the runtime settings as the run set them
	queue, ring bool

	eventsSeen int
	step       int
	log        []string
	counts     map[string]int
}

func newBlocksProp(t *testing.T, b clientBundle, seed uint64) *blocksProp {
	p := &blocksProp{
		t: t, b: b, ctx: context.Background(), rng: rand.New(rand.NewPCG(seed, 0xb10c)),
		names: map[uuid.UUID]string{}, online: map[uuid.UUID]bool{}, blocks: map[blockPair]map[pairing.Party]bool{},
		owner: map[uuid.UUID]uuid.UUID{}, counts: map[string]int{},
	}
	t.Cleanup(func() {
		if os.Getenv(blocksPropLogEnv) == "1" {
			t.Logf("seed %d, every step:\n%s", seed, strings.Join(p.log, "\n"))
		} else if t.Failed() {
			from := max(len(p.log)-blocksPropLogTail, 0)
			t.Logf("seed %d (%s=%d), failed at step %d; the last steps:\n%s", seed, blocksPropSeedEnv, seed, p.step,
				strings.Join(p.log[from:], "\n"))
		}
	})
	_, err := b.c.Pricing().CreateTier(p.ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 10, Price: 10000, ChangedBy: "op"})
	require.NoError(t, err)
	for i := range blocksPropMitras {
		// Every other mitra holds two chats at once. (Its own maximum: a change of the
		// runtime default reaches the mirror's available set as each mitra's capacity is
		// next recomputed, which would blur the check of who a blast may be offered to.)
		params := availability.CreateMitraParams{DisplayName: fmt.Sprintf("m%d", i+1)}
		if i%2 == 1 {
			two := 2
			params.MaxConcurrentSessions = &two
		}
		m, err := b.c.Availability().CreateMitra(p.ctx, params)
		require.NoError(t, err)
		p.mitras = append(p.mitras, m.ID)
		p.names[m.ID] = fmt.Sprintf("m%d", i+1)
		require.NoError(t, b.c.SetMitraOnline(p.ctx, m.ID))
		p.online[m.ID] = true
	}
	for i := range blocksPropClients {
		c, err := b.c.RegisterClient(p.ctx, pairing.RegisterClientParams{DisplayName: fmt.Sprintf("c%d", i+1)})
		require.NoError(t, err)
		p.clients = append(p.clients, c.ID)
		p.names[c.ID] = fmt.Sprintf("c%d", i+1)
	}
	p.setPolicies()
	p.drain()
	return p
}

// name is the short name of an id in the step log (pairings are named as the run learns
// of them).
func (p *blocksProp) name(id uuid.UUID) string {
	if n, ok := p.names[id]; ok {
		return n
	}
	n := fmt.Sprintf("p%d", len(p.pairings)+1)
	p.names[id] = n
	return n
}

func (p *blocksProp) logf(format string, args ...any) {
	p.log = append(p.log, fmt.Sprintf("%4d ", p.step)+fmt.Sprintf(format, args...))
}

func (p *blocksProp) chance(percent int) bool { return p.rng.IntN(100) < percent }

func blocksPick[T any](p *blocksProp, xs []T) T { return xs[p.rng.IntN(len(xs))] }

// blocked reports whether the model has the pair blocked by either side.
func (p *blocksProp) blocked(client, mitra uuid.UUID) bool {
	return len(p.blocks[blockPair{client, mitra}]) > 0
}

// ownerOf returns the client of a pairing.
func (p *blocksProp) ownerOf(id uuid.UUID) uuid.UUID {
	if c, ok := p.owner[id]; ok {
		return c
	}
	pr, err := p.b.c.Pairing().GetPairing(p.ctx, id)
	require.NoError(p.t, err)
	p.learn(pr)
	return pr.ClientID
}

func (p *blocksProp) learn(pr pairing.Pairing) {
	if _, ok := p.owner[pr.ID]; ok {
		return
	}
	p.name(pr.ID)
	p.owner[pr.ID] = pr.ClientID
	p.pairings = append(p.pairings, pr.ID)
}

func (p *blocksProp) run(steps int) {
	ops := []struct {
		name   string
		weight int
		do     func()
	}{
		{"block_by_client", 7, p.blockByClient},
		{"block_by_mitra", 6, p.blockByMitra},
		{"unblock", 6, p.unblock},
		{"blast", 14, p.blast},
		{"targeted", 6, p.targeted},
		{"fallback", 3, p.fallback},
		{"accept", 12, p.accept},
		{"accept_across_block", 3, p.acceptAcrossBlock},
		{"decline", 3, p.decline},
		{"end", 6, p.end},
		{"offline", 3, p.offline},
		{"online", 5, p.comeOnline},
		{"advance", 10, p.advance},
		{"reroute", 4, p.reroute},
		{"cancel", 3, p.cancel},
		{"policies", 2, p.setPolicies},
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	for p.step = 1; p.step <= steps; p.step++ {
		n := p.rng.IntN(total)
		for _, o := range ops {
			if n -= o.weight; n < 0 {
				p.counts[o.name]++
				o.do()
				break
			}
		}
		p.drain()
		p.checkLiveOffers()
	}
}

// drain checks every event since the last drain against the model as it is now, and
// returns them: no offer to a blocked pair, no match of one.
func (p *blocksProp) drain() []pairing.Event {
	p.b.events.mu.Lock()
	evs := slices.Clone(p.b.events.list[p.eventsSeen:])
	p.eventsSeen = len(p.b.events.list)
	p.b.events.mu.Unlock()
	for _, e := range evs {
		switch pl := e.Payload.(type) {
		case pairing.PairingOfferEvent:
			require.NotNil(p.t, e.MitraID)
			client := p.ownerOf(pl.PairingID)
			p.counts["offers"]++
			if p.blocked(client, *e.MitraID) {
				p.t.Fatalf("step %d: %s offered to %s, blocked with its client %s", p.step, p.name(pl.PairingID),
					p.name(*e.MitraID), p.name(client))
			}
		case pairing.PairingMatchedEvent:
			if e.MitraID == nil {
				continue // the client's copy of a targeted match
			}
			client := p.ownerOf(pl.PairingID)
			p.counts["matches"]++
			if p.blocked(client, pl.MitraID) {
				p.t.Fatalf("step %d: %s matched %s with %s, a blocked pair", p.step, p.name(pl.PairingID),
					p.name(client), p.name(pl.MitraID))
			}
		}
	}
	return evs
}

// offeredIn returns the mitras evs offered the pairing.
func offeredIn(evs []pairing.Event, pairingID uuid.UUID) []uuid.UUID {
	var out []uuid.UUID
	for _, e := range evs {
		if o, ok := e.Payload.(pairing.PairingOfferEvent); ok && o.PairingID == pairingID {
			out = append(out, *e.MitraID)
		}
	}
	return out
}

// checkLiveOffers reads every mitra's live offers: none is between a blocked pair.
func (p *blocksProp) checkLiveOffers() {
	for _, m := range p.mitras {
		offers, err := p.b.c.Pairing().ListOffers(p.ctx, m)
		require.NoError(p.t, err)
		for _, o := range offers {
			if c := p.ownerOf(o.PairingID); p.blocked(c, m) {
				p.t.Fatalf("step %d: %s holds a live offer of %s, blocked with its client %s", p.step, p.name(m),
					p.name(o.PairingID), p.name(c))
			}
		}
	}
}

// availableFor returns the available mitras not blocked with client, and whether a block
// left any available mitra out.
func (p *blocksProp) availableFor(client uuid.UUID) ([]uuid.UUID, bool) {
	ids, err := p.b.c.Availability().FindAvailable(p.ctx, availability.FindOptions{})
	require.NoError(p.t, err)
	n := len(ids)
	ids = slices.DeleteFunc(ids, func(m uuid.UUID) bool { return p.blocked(client, m) })
	return ids, len(ids) < n
}

func (p *blocksProp) nameList(ids []uuid.UUID) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = p.name(id)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// expectFanOut checks the offers a blast (or a reroute's prepaid blast) of client got as
// it started, against the mitras that were available for it: every one under the blast
// policy, a ring of them under the ring policy (the queue off).
func (p *blocksProp) expectFanOut(pairingID, client uuid.UUID, avail []uuid.UUID, blockedOut bool, evs []pairing.Event) {
	if p.queue {
		return // a blast may queue behind others: the general checks apply
	}
	got := offeredIn(evs, pairingID)
	if p.ring {
		size := p.b.c.Runtime().RingSize(p.ctx)
		require.Len(p.t, got, min(size, len(avail)), "step %d: ring of %s: %s of %s", p.step, p.name(pairingID),
			p.nameList(got), p.nameList(avail))
		for _, m := range got {
			require.Contains(p.t, avail, m, "step %d", p.step)
		}
	} else {
		pr, err := p.b.c.Pairing().GetPairing(p.ctx, pairingID)
		require.NoError(p.t, err)
		require.ElementsMatch(p.t, avail, got, "step %d: the blast %s of %s (now %s %s, rings %d) is offered to every available mitra it is not blocked with",
			p.step, p.name(pairingID), p.name(client), pr.Status, pr.FailureReason, pr.Rings)
	}
	p.counts["fanouts_checked"]++
	if blockedOut {
		p.counts["fanouts_around_a_block"]++
	}
}

// ---- the steps ----

func (p *blocksProp) blockByClient() {
	c, m := blocksPick(p, p.clients), blocksPick(p, p.mitras)
	p.doBlock(pairing.PartyClient, c, m, true)
}

// blockByMitra blocks, mostly, a client the mitra had a session with (a mitra may block
// only those).
func (p *blocksProp) blockByMitra() {
	c := blocksPick(p, p.clients)
	sessions, err := p.b.c.Pairing().ListChatSessions(p.ctx, pairing.ListSessionsParams{ClientID: &c})
	require.NoError(p.t, err)
	m := blocksPick(p, p.mitras)
	if len(sessions) > 0 && p.chance(85) {
		m = blocksPick(p, sessions).MitraID
	}
	had := slices.ContainsFunc(sessions, func(s pairing.ChatSession) bool { return s.MitraID == m })
	p.doBlock(pairing.PartyMitra, c, m, had)
}

func (p *blocksProp) doBlock(by pairing.Party, c, m uuid.UUID, allowed bool) {
	key := blockPair{c, m}
	_, created, err := p.b.c.Pairing().Block(p.ctx, by, c, m)
	if !allowed {
		require.ErrorIs(p.t, err, pairing.ErrNotFound, "step %d: %s blocks %s without a session", p.step, p.name(m), p.name(c))
		p.logf("%s %s blocks %s: refused, no session", by, p.name(m), p.name(c))
		return
	}
	require.NoError(p.t, err, "step %d", p.step)
	require.Equal(p.t, !p.blocks[key][by], created, "step %d: created iff that side had not blocked", p.step)
	if p.blocks[key] == nil {
		p.blocks[key] = map[pairing.Party]bool{}
	}
	p.blocks[key][by] = true
	p.counts["blocks"]++
	p.logf("%s side blocks (%s, %s)", by, p.name(c), p.name(m))
}

// blockedPairs returns the pairs the model has blocked, in a stable order (a seed replays
// the same choices).
func (p *blocksProp) blockedPairs() []blockPair {
	var keys []blockPair
	for k := range p.blocks {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b blockPair) int {
		return strings.Compare(a.client.String()+a.mitra.String(), b.client.String()+b.mitra.String())
	})
	return keys
}

func (p *blocksProp) unblock() {
	keys := p.blockedPairs()
	if len(keys) == 0 {
		return
	}
	k := blocksPick(p, keys)
	var sides []pairing.Party
	for _, by := range []pairing.Party{pairing.PartyClient, pairing.PartyMitra} {
		if p.blocks[k][by] {
			sides = append(sides, by)
		}
	}
	by := blocksPick(p, sides)
	require.NoError(p.t, p.b.c.Pairing().Unblock(p.ctx, by, k.client, k.mitra), "step %d", p.step)
	delete(p.blocks[k], by)
	if len(p.blocks[k]) == 0 {
		delete(p.blocks, k)
	}
	blocked, err := p.b.c.Pairing().Blocked(p.ctx, k.client, k.mitra)
	require.NoError(p.t, err)
	require.Equal(p.t, p.blocked(k.client, k.mitra), blocked, "step %d: an unblock removes the caller's block only", p.step)
	p.logf("%s side unblocks (%s, %s); still blocked: %v", by, p.name(k.client), p.name(k.mitra), blocked)
}

func (p *blocksProp) blast() {
	c := blocksPick(p, p.clients)
	pr, pay, err := p.b.c.Pairing().StartBlast(p.ctx, pairing.StartParams{ClientID: c, Minutes: 10})
	if errors.Is(err, pairing.ErrInvalidState) || errors.Is(err, pairing.ErrQueueFull) {
		p.logf("%s blast: %v", p.name(c), err)
		return
	}
	require.NoError(p.t, err, "step %d", p.step)
	p.learn(pr)
	p.drain()
	avail, blockedOut := p.availableFor(c)
	_, err = p.b.c.Payments().MarkPaid(p.ctx, pay.ID, pay.ProviderRef)
	require.NoError(p.t, err, "step %d", p.step)
	evs := p.drain()
	p.expectFanOut(pr.ID, c, avail, blockedOut, evs)
	p.logf("%s blast %s paid: offered %s (available for it %s)", p.name(c), p.name(pr.ID), p.nameList(offeredIn(evs, pr.ID)), p.nameList(avail))
}

// targeted asks a mitra the client had an ended session with, mostly, for "Curhat lagi".
func (p *blocksProp) targeted() {
	c := blocksPick(p, p.clients)
	ended, err := p.b.c.Pairing().ListChatSessions(p.ctx, pairing.ListSessionsParams{ClientID: &c, Status: pairing.SessionEnded})
	require.NoError(p.t, err)
	m := blocksPick(p, p.mitras)
	if len(ended) > 0 && p.chance(90) {
		m = blocksPick(p, ended).MitraID
	}
	if blocked := p.blockedPairs(); len(blocked) > 0 && p.chance(25) {
		k := blocksPick(p, blocked)
		c, m = k.client, k.mitra
	}
	pr, err := p.b.c.Pairing().StartTargeted(p.ctx, c, m, 10)
	if p.blocked(c, m) {
		require.ErrorIs(p.t, err, pairing.ErrBlocked, "step %d: Curhat lagi across a block", p.step)
		p.counts["targeted_blocked"]++
		p.logf("%s curhat lagi %s: blocked", p.name(c), p.name(m))
		return
	}
	if errors.Is(err, pairing.ErrInvalidState) || errors.Is(err, pairing.ErrNoPreviousSession) {
		p.logf("%s curhat lagi %s: %v", p.name(c), p.name(m), err)
		return
	}
	require.NoError(p.t, err, "step %d", p.step)
	p.learn(pr)
	evs := p.drain()
	if pr.Status == pairing.StatusTargetedWaiting {
		require.Equal(p.t, []uuid.UUID{m}, offeredIn(evs, pr.ID), "step %d: Curhat lagi offers its mitra", p.step)
	}
	p.logf("%s curhat lagi %s: %s %s", p.name(c), p.name(m), p.name(pr.ID), pr.Status)
}

// openPairings returns the pairings the run knows of in one of statuses.
func (p *blocksProp) openPairings(statuses ...pairing.Status) []pairing.Pairing {
	var out []pairing.Pairing
	for _, id := range p.pairings {
		pr, err := p.b.c.Pairing().GetPairing(p.ctx, id)
		require.NoError(p.t, err)
		if slices.Contains(statuses, pr.Status) {
			out = append(out, pr)
		}
	}
	return out
}

func (p *blocksProp) fallback() {
	open := p.openPairings(pairing.StatusTargetedUnavailable)
	if len(open) == 0 {
		return
	}
	pr := blocksPick(p, open)
	_, pay, err := p.b.c.Pairing().FallbackToBlast(p.ctx, pr.ClientID, pr.ID)
	if errors.Is(err, pairing.ErrQueueFull) {
		return
	}
	require.NoError(p.t, err, "step %d", p.step)
	_, err = p.b.c.Payments().MarkPaid(p.ctx, pay.ID, pay.ProviderRef)
	require.NoError(p.t, err, "step %d", p.step)
	evs := p.drain()
	p.logf("%s falls back to a blast: offered %s", p.name(pr.ID), p.nameList(offeredIn(evs, pr.ID)))
}

// liveOffer picks a live offer of a random mitra that has one.
func (p *blocksProp) liveOffer() (uuid.UUID, pairing.Offer, bool) {
	type held struct {
		m uuid.UUID
		o pairing.Offer
	}
	var all []held
	for _, m := range p.mitras {
		offers, err := p.b.c.Pairing().ListOffers(p.ctx, m)
		require.NoError(p.t, err)
		for _, o := range offers {
			all = append(all, held{m, o})
		}
	}
	if len(all) == 0 {
		return uuid.Nil, pairing.Offer{}, false
	}
	h := blocksPick(p, all)
	return h.m, h.o, true
}

func (p *blocksProp) accept() {
	m, o, ok := p.liveOffer()
	if !ok {
		return
	}
	s, err := p.b.c.Pairing().Accept(p.ctx, m, o.PairingID)
	if err != nil {
		require.NotErrorIs(p.t, err, pairing.ErrBlocked, "step %d: a live offer is never of a blocked pair", p.step)
		p.logf("%s accepts %s: %v", p.name(m), p.name(o.PairingID), err)
		return
	}
	if s.Status == pairing.SessionPendingPayment {
		pr, err := p.b.c.Pairing().GetPairing(p.ctx, o.PairingID)
		require.NoError(p.t, err)
		pay, err := p.b.c.Payments().Get(p.ctx, *pr.PaymentSessionID)
		require.NoError(p.t, err)
		_, err = p.b.c.Payments().MarkPaid(p.ctx, pay.ID, pay.ProviderRef)
		require.NoError(p.t, err)
	}
	p.logf("%s accepts %s", p.name(m), p.name(o.PairingID))
}

// acceptAcrossBlock has a mitra blocked with a client try to take that client's waiting
// pairing: refused, whatever it answers.
func (p *blocksProp) acceptAcrossBlock() {
	waiting := p.openPairings(pairing.StatusSearching, pairing.StatusQueued, pairing.StatusTargetedWaiting)
	var tries []blockPair
	var ids []uuid.UUID
	for _, pr := range waiting {
		for _, m := range p.mitras {
			if p.blocked(pr.ClientID, m) {
				tries = append(tries, blockPair{pr.ClientID, m})
				ids = append(ids, pr.ID)
			}
		}
	}
	if len(tries) == 0 {
		return
	}
	i := p.rng.IntN(len(tries))
	_, err := p.b.c.Pairing().Accept(p.ctx, tries[i].mitra, ids[i])
	require.Error(p.t, err, "step %d: %s took %s across a block", p.step, p.name(tries[i].mitra), p.name(ids[i]))
	p.counts["accepts_refused_across_a_block"]++
	p.logf("%s tries %s across a block: %v", p.name(tries[i].mitra), p.name(ids[i]), err)
}

func (p *blocksProp) decline() {
	m, o, ok := p.liveOffer()
	if !ok {
		return
	}
	require.NoError(p.t, p.b.c.Pairing().Decline(p.ctx, m, o.PairingID), "step %d", p.step)
	p.logf("%s declines %s", p.name(m), p.name(o.PairingID))
}

func (p *blocksProp) activeSessions() []pairing.ChatSession {
	active, err := p.b.c.Pairing().ListChatSessions(p.ctx, pairing.ListSessionsParams{Status: pairing.SessionActive})
	require.NoError(p.t, err)
	return active
}

func (p *blocksProp) end() {
	active := p.activeSessions()
	if len(active) == 0 {
		return
	}
	s := blocksPick(p, active)
	params := pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: s.ClientID}
	if p.chance(50) {
		params.By, params.CallerID = pairing.PartyMitra, s.MitraID
	}
	_, err := p.b.c.Pairing().EndSession(p.ctx, params)
	require.NoError(p.t, err, "step %d", p.step)
	p.logf("%s ends the session of (%s, %s)", params.By, p.name(s.ClientID), p.name(s.MitraID))
}

func (p *blocksProp) offline() {
	m := blocksPick(p, p.mitras)
	if !p.online[m] {
		return
	}
	require.NoError(p.t, p.b.c.Availability().SetOffline(p.ctx, m))
	p.online[m] = false
	p.logf("%s goes offline", p.name(m))
}

func (p *blocksProp) comeOnline() {
	m := blocksPick(p, p.mitras)
	require.NoError(p.t, p.b.c.SetMitraOnline(p.ctx, m))
	p.online[m] = true
	evs := p.drain()
	var got []string
	for _, e := range evs {
		if o, ok := e.Payload.(pairing.PairingOfferEvent); ok && *e.MitraID == m {
			got = append(got, p.name(o.PairingID))
		}
	}
	p.logf("%s online: offered %s", p.name(m), strings.Join(got, ","))
}

// advance moves the clock (deadlines, rings, expiries fire) and keeps the online mitras'
// heartbeats fresh.
func (p *blocksProp) advance() {
	d := time.Duration(1+p.rng.IntN(45)) * time.Second
	p.b.clock.Advance(d)
	for _, m := range p.mitras {
		if p.online[m] {
			_, err := p.b.c.Availability().Heartbeat(p.ctx, m)
			require.NoError(p.t, err)
		}
	}
	p.logf("clock +%s", d)
}

// reroute takes an active session's mitra offline and moves the chat: its prepaid blast
// is offered as a blast is.
func (p *blocksProp) reroute() {
	active := p.activeSessions()
	if len(active) == 0 {
		return
	}
	s := blocksPick(p, active)
	require.NoError(p.t, p.b.c.Availability().SetOffline(p.ctx, s.MitraID))
	p.online[s.MitraID] = false
	p.drain()
	avail, blockedOut := p.availableFor(s.ClientID)
	pr, err := p.b.c.Pairing().Reroute(p.ctx, s.ClientID, s.ID)
	if errors.Is(err, pairing.ErrInvalidState) {
		p.logf("reroute of (%s, %s): %v", p.name(s.ClientID), p.name(s.MitraID), err)
		return // less than a minute left
	}
	require.NoError(p.t, err, "step %d", p.step)
	p.learn(pr)
	evs := p.drain()
	p.expectFanOut(pr.ID, s.ClientID, avail, blockedOut, evs)
	p.counts["reroutes"]++
	p.logf("reroute of (%s, %s): %s offered %s", p.name(s.ClientID), p.name(s.MitraID), p.name(pr.ID), p.nameList(offeredIn(evs, pr.ID)))
}

func (p *blocksProp) cancel() {
	open := p.openPairings(pairing.OpenStatuses...)
	if len(open) == 0 {
		return
	}
	pr := blocksPick(p, open)
	_, err := p.b.c.Pairing().Cancel(p.ctx, pr.ClientID, pr.ID)
	require.NoError(p.t, err, "step %d", p.step)
	p.logf("%s cancels %s", p.name(pr.ClientID), p.name(pr.ID))
}

// setPolicies switches the pairing policies at random: the queue, ring offers (of one to
// three mitras, every 10 seconds).
func (p *blocksProp) setPolicies() {
	p.queue, p.ring = p.chance(40), p.chance(40)
	policy := "blast"
	if p.ring {
		policy = "ring"
	}
	for key, value := range map[curhat.ConfigKey]any{
		curhat.KeyPairingQueueEnabled: p.queue,
		curhat.KeyPairingOfferPolicy:  policy,
		curhat.KeyPairingRingSize:     1 + p.rng.IntN(3),
		curhat.KeyPairingRingInterval: 10,
	} {
		raw, err := json.Marshal(value)
		require.NoError(p.t, err)
		_, err = p.b.c.Runtime().Set(p.ctx, string(key), raw, "op")
		require.NoError(p.t, err)
	}
	p.logf("policies: queue %v, %s", p.queue, policy)
}

// assertLiveness checks that the run did what it is for: blocks were made, blasts were
// checked around them, pairs matched.
func (p *blocksProp) assertLiveness(steps int) {
	if steps < 300 {
		return // too short to promise any of it
	}
	for _, what := range []string{"blocks", "matches", "fanouts_checked", "fanouts_around_a_block", "targeted_blocked"} {
		require.Positive(p.t, p.counts[what], "%s: the run saw none; %s", what, p.summary())
	}
}

func (p *blocksProp) summary() string {
	keys := make([]string, 0, len(p.counts))
	for k := range p.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, p.counts[k])
	}
	return strings.Join(parts, ", ")
}
