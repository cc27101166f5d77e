package curhat_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/payout"
)

// The property test of the ledger (SPEC §23): thousands of random operations of clients,
// mitras, operators, the payment provider and the clock, with every invariant of the books
// checked after each one, and the world brought to rest at the end, where every rupiah paid
// must have ended as an earning, a fee or a refund.
//
// CURHAT_LEDGER_SEED fixes the seed (it is logged, and a failure repeats it with the steps
// that led to it); CURHAT_LEDGER_STEPS overrides the number of operations per backend;
// CURHAT_LEDGER_LOG=1 prints every step.

const (
	ledgerPropSeedEnv  = "CURHAT_LEDGER_SEED"
	ledgerPropStepsEnv = "CURHAT_LEDGER_STEPS"
	// ledgerPropLogEnv = 1 prints every step, also when the test passes.
	ledgerPropLogEnv = "CURHAT_LEDGER_LOG"
	// ledgerPropMaxMitras bounds the mitras the test creates.
	ledgerPropMaxMitras = 8
	// ledgerPropLogTail is how many of the last steps a failure prints.
	ledgerPropLogTail = 60
)

func TestLedger_PropertyRandomOperationsKeepEveryInvariant(t *testing.T) {
	t.Parallel()
	seed := ledgerPropSeed(t)
	t.Logf("seed %d (rerun with %s=%d)", seed, ledgerPropSeedEnv, seed)
	eachLedgerPropBackend(t, func(t *testing.T, b clientBundle, provider *payout.FakeProvider, postgres bool) {
		steps := 3000
		if postgres {
			steps = 1000
		}
		if ledgerPropRace() {
			steps /= 3 // the race detector slows every step several times
		}
		if s := os.Getenv(ledgerPropStepsEnv); s != "" {
			n, err := strconv.Atoi(s)
			require.NoError(t, err, "%s", ledgerPropStepsEnv)
			steps = n
		}
		p := newLedgerProp(t, b, provider, seed)
		start := time.Now()
		p.run(steps)
		ran := time.Since(start)
		p.settle()
		p.assertAtRest()
		for _, kind := range []string{ledgerPropStuckBatch, ledgerPropStaleNextClearance} {
			if found := p.broken[kind]; len(found) > 0 {
				t.Errorf("seed %d: %s, %d times; the first:\n%s", seed, kind, len(found), strings.Join(found[:min(len(found), 3)], "\n"))
			}
		}
		t.Logf("seed %d: %d steps in %s (checks %s), at rest after %s; a mitra owed earnings back after %d steps; ops %s",
			seed, steps, ran.Round(time.Millisecond), p.checking.Round(time.Millisecond), time.Since(start).Round(time.Millisecond),
			p.owed, p.opCounts())
	})
}

// eachLedgerPropBackend is eachClientBackend with a fake payout provider in the Client, so
// that earnings are paid out too.
func eachLedgerPropBackend(t *testing.T, f func(t *testing.T, b clientBundle, provider *payout.FakeProvider, postgres bool)) {
	open := func(t *testing.T, postgres bool) (clientBundle, *payout.FakeProvider) {
		cfg, gw, ev, clk := testConfig()
		provider := payout.NewFakeProvider()
		cfg.Payouts = provider
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
		return clientBundle{c: c, gateway: gw, events: ev, clock: clk}, provider
	}
	for _, postgres := range []bool{false, true} {
		name := "memory"
		if postgres {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, provider := open(t, postgres)
			f(t, b, provider, postgres)
		})
	}
}

func ledgerPropSeed(t *testing.T) uint64 {
	if s := os.Getenv(ledgerPropSeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "%s", ledgerPropSeedEnv)
		return seed
	}
	return rand.Uint64()
}

// ledgerPropRace reports whether the test binary was built with -race.
func ledgerPropRace() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// ledgerProp is one run: the Client, the random source, and what the test knows of the
// world — every actor and object it created or was told of, in the order it learnt of
// them (so that a seed replays the same choices), with short names for the step log.
type ledgerProp struct {
	ledgerWorld
	t       *testing.T
	rng     *rand.Rand
	payouts *payout.FakeProvider

	clients   []uuid.UUID
	mitras    []uuid.UUID
	pairings  []uuid.UUID
	sessions  []uuid.UUID
	payments  []uuid.UUID
	names     map[uuid.UUID]string
	payoutIDs []uuid.UUID
	refs      map[uuid.UUID]string // payment id → provider reference
	// paid holds the payments known paid, with their amount; paidTotal sums them.
	paid      map[uuid.UUID]int64
	paidTotal int64
	// settled holds the pairings seen failed, cancelled or matched: they never change again.
	settled map[uuid.UUID]bool

	eventsSeen int // events of clientBundle.events consumed
	step       int
	log        []string
	counts     map[string]int
	// checking is the time spent checking the invariants.
	checking time.Duration
	// owed counts the steps after which a mitra owed earnings back (mitra_receivable).
	owed int
	// broken lists, by kind, what breaks a rule of the ledger without stopping the run (the
	// test fails at its end): the run goes on to check every invariant.
	broken map[string][]string
}

func newLedgerProp(t *testing.T, b clientBundle, provider *payout.FakeProvider, seed uint64) *ledgerProp {
	p := &ledgerProp{
		ledgerWorld: newLedgerWorld(t, b), t: t, rng: rand.New(rand.NewPCG(seed, 0x1ed9e7)), payouts: provider,
		names: map[uuid.UUID]string{}, refs: map[uuid.UUID]string{}, paid: map[uuid.UUID]int64{}, settled: map[uuid.UUID]bool{},
		counts: map[string]int{}, broken: map[string][]string{},
	}
	t.Cleanup(func() {
		if os.Getenv(ledgerPropLogEnv) == "1" {
			t.Logf("seed %d, every step:\n%s", seed, strings.Join(p.log, "\n"))
		} else if t.Failed() {
			from := max(len(p.log)-ledgerPropLogTail, 0)
			t.Logf("seed %d (%s=%d), failed at step %d; the last steps:\n%s", seed, ledgerPropSeedEnv, seed, p.step,
				strings.Join(p.log[from:], "\n"))
		}
	})
	// Where the operator left the settings (the defaults hold 72 hours before an earning
	// clears: a run of 1000 steps would pay out little).
	if p.chance(75) {
		p.setConfig(t, curhat.KeyEarningsClearanceHours, p.rng.IntN(6))
	}
	p.setConfig(t, curhat.KeyPlatformFeePercent, p.rng.IntN(101))
	p.setConfig(t, curhat.KeyPayoutMinimumAmount, propPick(p, []int{0, 10000, 50000}))
	for range 4 {
		p.addMitra()
	}
	return p
}

// ledgerPropOp is one kind of operation and how often it is drawn.
type ledgerPropOp struct {
	name   string
	weight int
	run    func(p *ledgerProp)
}

var ledgerPropOps = []ledgerPropOp{
	{"pay", 12, (*ledgerProp).opPay},
	{"pay_late", 3, (*ledgerProp).opPayLate},
	{"targeted", 3, (*ledgerProp).opTargeted},
	{"fallback", 1, (*ledgerProp).opFallback},
	{"cancel", 4, (*ledgerProp).opCancel},
	{"accept", 22, (*ledgerProp).opAccept},
	{"end", 8, (*ledgerProp).opEnd},
	{"advance", 10, (*ledgerProp).opAdvance},
	{"deactivate", 4, (*ledgerProp).opDeactivate},
	{"reactivate", 3, (*ledgerProp).opReactivate},
	{"presence", 5, (*ledgerProp).opPresence},
	{"client_reroute", 2, (*ledgerProp).opClientReroute},
	{"extension", 8, (*ledgerProp).opExtension},
	{"refund", 5, (*ledgerProp).opRefund},
	{"refuse_refunds", 3, (*ledgerProp).opRefuseRefunds},
	{"retry_refunds", 4, (*ledgerProp).opRetryRefunds},
	{"expire_stale", 2, (*ledgerProp).opExpireStale},
	{"config", 3, (*ledgerProp).opConfig},
	{"clear", 4, (*ledgerProp).opClear},
	{"instances", 2, (*ledgerProp).opInstances},
	{"payout_destination", 1, (*ledgerProp).opPayoutDestination},
	{"payout_run", 4, (*ledgerProp).opPayoutRun},
	{"payout_provider", 2, (*ledgerProp).opPayoutProvider},
	{"payout_outcome", 3, (*ledgerProp).opPayoutOutcome},
	{"payout_retry", 1, (*ledgerProp).opPayoutRetry},
}

func (p *ledgerProp) run(steps int) {
	total := 0
	for _, op := range ledgerPropOps {
		total += op.weight
	}
	for p.step = 1; p.step <= steps; p.step++ {
		n := p.rng.IntN(total)
		for _, op := range ledgerPropOps {
			if n < op.weight {
				p.counts[op.name]++
				op.run(p)
				break
			}
			n -= op.weight
		}
		p.drainEvents()
		start := time.Now()
		p.checkInvariants()
		p.checking += time.Since(start)
	}
}

func (p *ledgerProp) opCounts() string {
	var out []string
	for _, op := range ledgerPropOps {
		out = append(out, fmt.Sprintf("%s=%d", op.name, p.counts[op.name]))
	}
	return strings.Join(out, " ")
}

// logf records what a step did (printed when the test fails).
func (p *ledgerProp) logf(format string, args ...any) {
	p.log = append(p.log, fmt.Sprintf("%5d %s  ", p.step, p.clock.Now().Format("01-02 15:04:05"))+fmt.Sprintf(format, args...))
}

// name is the short name of id in the step log.
func (p *ledgerProp) name(id uuid.UUID) string {
	if n, ok := p.names[id]; ok {
		return n
	}
	return id.String()[:8]
}

func (p *ledgerProp) learn(list *[]uuid.UUID, prefix string, id uuid.UUID) bool {
	if _, ok := p.names[id]; ok {
		return false
	}
	*list = append(*list, id)
	p.names[id] = fmt.Sprintf("%s%d", prefix, len(*list))
	return true
}

// ok reports whether err is nil; an error a real caller gets in the world as it is (one
// of allowed) is logged and gives false; any other fails the test.
func (p *ledgerProp) ok(what string, err error, allowed ...error) bool {
	p.t.Helper()
	if err == nil {
		return true
	}
	for _, a := range allowed {
		if errors.Is(err, a) {
			p.logf("    %s: %v", what, err)
			return false
		}
	}
	p.logf("    %s: UNEXPECTED %v", what, err)
	p.t.Fatalf("step %d: %s: unexpected error: %v", p.step, what, err)
	return false
}

func (p *ledgerProp) noErr(what string, err error) {
	p.t.Helper()
	p.ok(what, err)
}

// The rules whose breaches are collected (ledgerProp.broken).
const (
	ledgerPropStuckBatch         = "a clearance batch made no progress (Store.Clear)"
	ledgerPropStaleNextClearance = "next_clearance_at names a clearance that never happens (Store.Earnings)"
)

// breach records that a rule of the ledger broke (the test fails at the end of the run).
func (p *ledgerProp) breach(kind, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.broken[kind] = append(p.broken[kind], msg)
	p.logf("    BROKEN: %s: %s", kind, msg)
}

func propPick[T any](p *ledgerProp, xs []T) T { return xs[p.rng.IntN(len(xs))] }

func (p *ledgerProp) chance(percent int) bool { return p.rng.IntN(100) < percent }

// --- the world as it is ---

func (p *ledgerProp) addMitra() uuid.UUID {
	m, err := p.c.Availability().CreateMitra(p.ctx, availability.CreateMitraParams{DisplayName: fmt.Sprintf("Mitra %d", len(p.mitras)+1)})
	p.noErr("create mitra", err)
	p.learn(&p.mitras, "m", m.ID)
	p.noErr("set online", p.c.SetMitraOnline(p.ctx, m.ID))
	p.logf("new mitra %s online", p.name(m.ID))
	if p.chance(70) {
		p.setDestination(m.ID)
	}
	return m.ID
}

func (p *ledgerProp) mitra(id uuid.UUID) availability.Mitra {
	m, err := p.c.Availability().GetMitra(p.ctx, id)
	p.noErr("get mitra", err)
	return m
}

// mitrasWhere returns the known mitras for which keep holds, in the order they were made.
func (p *ledgerProp) mitrasWhere(keep func(availability.Mitra) bool) []uuid.UUID {
	var out []uuid.UUID
	for _, id := range p.mitras {
		if keep(p.mitra(id)) {
			out = append(out, id)
		}
	}
	return out
}

// openSessions returns the known chat sessions in one of statuses, in the order they
// started.
func (p *ledgerProp) openSessions(statuses ...pairing.SessionStatus) []pairing.ChatSession {
	open, err := p.c.Pairing().ListChatSessions(p.ctx, pairing.ListSessionsParams{Statuses: statuses})
	p.noErr("list chat sessions", err)
	byID := map[uuid.UUID]pairing.ChatSession{}
	for _, s := range open {
		byID[s.ID] = s
		p.learn(&p.sessions, "s", s.ID) // sessions the test did not accept itself (none expected)
	}
	var out []pairing.ChatSession
	for _, id := range p.sessions {
		if s, ok := byID[id]; ok {
			out = append(out, s)
		}
	}
	return out
}

// openPairings returns the known pairings that are not failed, cancelled or matched, in
// the order the test learnt of them.
func (p *ledgerProp) openPairings() []pairing.Pairing {
	var out []pairing.Pairing
	for _, id := range p.pairings {
		if p.settled[id] {
			continue
		}
		pr, err := p.c.Pairing().GetPairing(p.ctx, id)
		p.noErr("get pairing", err)
		switch pr.Status {
		case pairing.StatusFailed, pairing.StatusCancelled, pairing.StatusMatched:
			p.settled[id] = true
		default:
			out = append(out, pr)
		}
	}
	return out
}

func (p *ledgerProp) learnPayment(pay payment.Session) {
	p.learn(&p.payments, "pay", pay.ID)
	if pay.ProviderRef != "" {
		p.refs[pay.ID] = pay.ProviderRef
	}
}

// markPaid is the provider's confirmation of a payment (its webhook).
func (p *ledgerProp) markPaid(id uuid.UUID) {
	sess, err := p.c.Payments().MarkPaid(p.ctx, id, p.refs[id])
	if !p.ok("mark paid "+p.name(id), err, curhat.ErrInvalidState) {
		return
	}
	p.notePaid(sess)
	p.logf("    %s paid (%d): %s, refunded %d", p.name(id), sess.Amount, sess.Status, sess.RefundedAmount)
}

func (p *ledgerProp) notePaid(sess payment.Session) {
	if sess.PaidAt == nil {
		return
	}
	if _, ok := p.paid[sess.ID]; !ok {
		p.paid[sess.ID] = sess.Amount
		p.paidTotal += sess.Amount
	}
}

// drainEvents learns the pairings the Client told mitras about (the prepaid blasts that
// continue a rerouted chat are known only this way) and the payments it asked clients for.
func (p *ledgerProp) drainEvents() {
	p.events.mu.Lock()
	list := append([]pairing.Event(nil), p.events.list[p.eventsSeen:]...)
	p.eventsSeen += len(list)
	p.events.mu.Unlock()
	for _, e := range list {
		switch ev := e.Payload.(type) {
		case pairing.PairingOfferEvent:
			if p.learn(&p.pairings, "pr", ev.PairingID) {
				p.logf("    offer of a new pairing %s (%d min)", p.name(ev.PairingID), ev.Minutes)
			}
		case pairing.PairingMatchedEvent:
			if ev.Payment != nil && p.learn(&p.payments, "pay", ev.Payment.ID) {
				p.logf("    %s to pay for %s", p.name(ev.Payment.ID), p.name(ev.ChatSessionID))
			}
		}
	}
}

// --- operations ---

// opPay: a client (new, or one the test knows) starts a 30-minute blast and mostly pays.
func (p *ledgerProp) opPay() {
	var client uuid.UUID
	if len(p.clients) == 0 || p.chance(35) {
		client = p.newClient(p.t)
		p.learn(&p.clients, "c", client)
	} else {
		client = propPick(p, p.clients)
	}
	pr, pay, err := p.c.Pairing().StartBlast(p.ctx, pairing.StartParams{ClientID: client, Minutes: 30})
	if !p.ok("start blast", err, curhat.ErrInvalidState, pairing.ErrQueueFull) {
		p.logf("pay: %s cannot start a blast", p.name(client))
		return
	}
	p.learn(&p.pairings, "pr", pr.ID)
	p.learnPayment(pay)
	p.logf("pay: %s starts %s, %s of %d", p.name(client), p.name(pr.ID), p.name(pay.ID), pay.Amount)
	if p.chance(80) {
		p.markPaid(pay.ID)
		if p.chance(50) {
			p.opAccept() // a mitra answers at once
		}
	}
}

// opPayLate: the provider confirms a payment the test knows: one left unpaid (in time,
// or late: refunded), or a duplicate confirmation.
func (p *ledgerProp) opPayLate() {
	if len(p.payments) == 0 {
		return
	}
	var unpaid []uuid.UUID
	for _, id := range p.payments {
		if _, ok := p.paid[id]; !ok {
			unpaid = append(unpaid, id)
		}
	}
	id := propPick(p, p.payments)
	if len(unpaid) > 0 && p.chance(80) {
		id = propPick(p, unpaid)
	}
	if p.chance(20) {
		sess, err := p.c.Payments().MarkFailed(p.ctx, id, p.refs[id])
		if p.ok("mark failed", err, curhat.ErrInvalidState) {
			p.logf("pay_failed: %s → %s", p.name(id), sess.Status)
		}
		return
	}
	p.logf("pay_late: %s", p.name(id))
	p.markPaid(id)
}

// opTargeted: "Curhat lagi": a client asks a mitra it chatted with before.
func (p *ledgerProp) opTargeted() {
	if len(p.sessions) == 0 {
		return
	}
	s, err := p.c.Pairing().GetChatSession(p.ctx, propPick(p, p.sessions))
	p.noErr("get chat session", err)
	pr, err := p.c.Pairing().StartTargeted(p.ctx, s.ClientID, s.MitraID, 30)
	if !p.ok("start targeted", err, curhat.ErrInvalidState, pairing.ErrNoPreviousSession, pairing.ErrMitraUnavailable) {
		p.logf("targeted: %s → %s refused", p.name(s.ClientID), p.name(s.MitraID))
		return
	}
	p.learn(&p.pairings, "pr", pr.ID)
	p.logf("targeted: %s → %s: %s %s", p.name(s.ClientID), p.name(s.MitraID), p.name(pr.ID), pr.Status)
}

// opFallback: a client whose "Curhat lagi" mitra was unavailable falls back to a blast,
// and mostly pays.
func (p *ledgerProp) opFallback() {
	waiting := slices.DeleteFunc(p.openPairings(), func(pr pairing.Pairing) bool {
		return pr.Status != pairing.StatusTargetedUnavailable
	})
	if len(waiting) == 0 {
		return
	}
	pr := propPick(p, waiting)
	got, pay, err := p.c.Pairing().FallbackToBlast(p.ctx, pr.ClientID, pr.ID)
	if !p.ok("fall back to a blast", err, curhat.ErrInvalidState, pairing.ErrQueueFull) {
		return
	}
	p.learnPayment(pay)
	p.logf("fallback: %s → %s %s, %s of %d", p.name(pr.ID), got.Type, got.Status, p.name(pay.ID), pay.Amount)
	if p.chance(80) {
		p.markPaid(pay.ID)
	}
}

// opCancel: a client cancels one of its pairings: mostly one still open, now and then
// one that is over.
func (p *ledgerProp) opCancel() {
	open := p.openPairings()
	if len(open) == 0 || p.chance(10) {
		if len(p.pairings) == 0 {
			return
		}
		pr, err := p.c.Pairing().GetPairing(p.ctx, propPick(p, p.pairings))
		p.noErr("get pairing", err)
		open = []pairing.Pairing{pr}
	}
	pr := propPick(p, open)
	got, err := p.c.Pairing().Cancel(p.ctx, pr.ClientID, pr.ID)
	if p.ok("cancel "+p.name(pr.ID), err, curhat.ErrInvalidState, pairing.ErrAlreadyMatched) {
		p.logf("cancel: %s (%s) → %s", p.name(pr.ID), pr.Status, got.Status)
	}
}

// opAccept: an online mitra with offers accepts one; a targeted chat's payment comes next.
func (p *ledgerProp) opAccept() {
	order := map[uuid.UUID]int{}
	for i, id := range p.pairings {
		order[id] = i
	}
	mitras := slices.Clone(p.mitras)
	p.rng.Shuffle(len(mitras), func(i, j int) { mitras[i], mitras[j] = mitras[j], mitras[i] })
	for _, m := range mitras {
		offers, err := p.c.Pairing().ListOffers(p.ctx, m)
		p.noErr("list offers", err)
		if len(offers) == 0 {
			continue
		}
		for _, o := range offers {
			if p.learn(&p.pairings, "pr", o.PairingID) {
				order[o.PairingID] = len(p.pairings) - 1
			}
		}
		slices.SortFunc(offers, func(a, b pairing.Offer) int { return order[a.PairingID] - order[b.PairingID] })
		o := propPick(p, offers)
		if p.chance(10) {
			err := p.c.Pairing().Decline(p.ctx, m, o.PairingID)
			if p.ok("decline", err, curhat.ErrInvalidState, curhat.ErrNotFound, pairing.ErrExpired, pairing.ErrAlreadyMatched) {
				p.logf("decline: %s declines %s", p.name(m), p.name(o.PairingID))
			}
			return
		}
		s, err := p.c.Pairing().Accept(p.ctx, m, o.PairingID)
		if !p.ok("accept", err, curhat.ErrInvalidState, curhat.ErrNotFound, curhat.ErrDeactivated,
			pairing.ErrAlreadyMatched, pairing.ErrExpired, pairing.ErrAtCapacity) {
			p.logf("accept: %s of %s refused", p.name(m), p.name(o.PairingID))
			return
		}
		p.learn(&p.sessions, "s", s.ID)
		p.logf("accept: %s takes %s: %s %s, %d min", p.name(m), p.name(o.PairingID), p.name(s.ID), s.Status, s.Minutes)
		if s.Status == pairing.SessionPendingPayment {
			pr, err := p.c.Pairing().GetPairing(p.ctx, o.PairingID)
			p.noErr("get pairing", err)
			if pr.PaymentSessionID != nil {
				pay, err := p.c.Payments().Get(p.ctx, *pr.PaymentSessionID)
				p.noErr("get payment", err)
				p.learnPayment(pay)
				p.logf("    %s to pay %d", p.name(pay.ID), pay.Amount)
				if p.chance(80) {
					p.markPaid(pay.ID)
				}
			}
		}
		return
	}
}

// opEnd: the client or the mitra ends an open chat session.
func (p *ledgerProp) opEnd() {
	open := p.openSessions(pairing.SessionActive, pairing.SessionPendingPayment)
	if len(open) == 0 {
		return
	}
	s := propPick(p, open)
	params := pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: s.ClientID}
	if p.chance(50) {
		params.By, params.CallerID = pairing.PartyMitra, s.MitraID
	}
	got, err := p.c.Pairing().EndSession(p.ctx, params)
	if p.ok("end "+p.name(s.ID), err, curhat.ErrInvalidState) {
		p.logf("end: %s ends %s (%s, %d min, started %v): %s %s", params.By, p.name(s.ID), s.Status, s.Minutes, s.StartedAt,
			got.Status, got.EndReason)
	}
}

// opAdvance: time passes (seconds to 40 minutes); most online mitras keep up their
// heartbeat; then the timeouts sweep runs (sessions expire, blasts time out and refund).
func (p *ledgerProp) opAdvance() {
	var d time.Duration
	switch r := p.rng.IntN(10); {
	case r < 5:
		d = time.Duration(1+p.rng.IntN(120)) * time.Second
	case r < 8:
		d = time.Duration(120+p.rng.IntN(18*60)) * time.Second
	default:
		d = time.Duration(20*60+p.rng.IntN(20*60+1)) * time.Second
	}
	p.logf("advance %s", d)
	p.clock.Advance(d)
	for _, m := range p.mitras {
		if p.chance(90) {
			_, err := p.c.Availability().Heartbeat(p.ctx, m)
			p.ok("heartbeat", err, curhat.ErrDeactivated)
		}
	}
	p.sweepTimeouts()
}

func (p *ledgerProp) sweepTimeouts() {
	r, err := p.c.Pairing().SweepTimeouts(p.ctx)
	p.noErr("sweep timeouts", err)
	n, err := p.c.Extensions().SweepExpired(p.ctx)
	p.noErr("sweep expired extensions", err)
	if r != (pairing.TimeoutReport{}) || n > 0 {
		p.logf("    sweep: %+v, extensions expired %d", r, n)
	}
}

// opDeactivate: an operator deactivates a busy mitra, with another mitra online to
// continue its chat, or with nobody (the continuation fails and refunds at once).
func (p *ledgerProp) opDeactivate() {
	open := p.openSessions(pairing.SessionActive, pairing.SessionPendingPayment)
	if len(open) == 0 {
		return
	}
	s := propPick(p, open)
	spare := p.chance(65)
	others := p.mitrasWhere(func(m availability.Mitra) bool { return m.ID != s.MitraID && m.IsActive })
	if spare {
		if len(others) == 0 && len(p.mitras) < ledgerPropMaxMitras {
			others = append(others, p.addMitra())
		}
		if len(others) > 0 {
			m := propPick(p, others)
			p.noErr("set online", p.c.SetMitraOnline(p.ctx, m))
			_, err := p.c.Availability().Heartbeat(p.ctx, m)
			p.noErr("heartbeat", err)
			p.logf("deactivate: %s online as a spare", p.name(m))
		}
	} else {
		for _, m := range others {
			p.noErr("set offline", p.c.Availability().SetOffline(p.ctx, m))
		}
		p.logf("deactivate: every other mitra offline")
	}
	_, err := p.c.SetMitraActive(p.ctx, s.MitraID, false)
	p.noErr("deactivate", err)
	p.logf("deactivate: %s (busy with %s, %s)", p.name(s.MitraID), p.name(s.ID), s.Status)
}

// opReactivate: an operator reactivates a mitra, which mostly goes online again.
func (p *ledgerProp) opReactivate() {
	inactive := p.mitrasWhere(func(m availability.Mitra) bool { return !m.IsActive })
	if len(inactive) == 0 {
		return
	}
	m := propPick(p, inactive)
	_, err := p.c.SetMitraActive(p.ctx, m, true)
	p.noErr("reactivate", err)
	online := p.chance(70)
	if online {
		p.noErr("set online", p.c.SetMitraOnline(p.ctx, m))
	}
	p.logf("reactivate: %s (online %t)", p.name(m), online)
}

// opPresence: a mitra goes online or offline; now and then a new one signs up.
func (p *ledgerProp) opPresence() {
	if len(p.mitras) < ledgerPropMaxMitras && p.chance(15) {
		p.addMitra()
		return
	}
	m := p.mitra(propPick(p, p.mitras))
	switch {
	case !m.IsActive:
		return
	case m.IsOnline && p.chance(40):
		p.noErr("set offline", p.c.Availability().SetOffline(p.ctx, m.ID))
		p.logf("presence: %s offline", p.name(m.ID))
	default:
		p.noErr("set online", p.c.SetMitraOnline(p.ctx, m.ID))
		p.logf("presence: %s online", p.name(m.ID))
	}
}

// opClientReroute: a client whose mitra is unreachable moves its chat to another mitra.
func (p *ledgerProp) opClientReroute() {
	open := p.openSessions(pairing.SessionActive)
	if len(open) == 0 {
		return
	}
	s := propPick(p, open)
	pr, err := p.c.Pairing().Reroute(p.ctx, s.ClientID, s.ID)
	if !p.ok("reroute", err, curhat.ErrInvalidState) {
		return
	}
	p.learn(&p.pairings, "pr", pr.ID)
	p.logf("client_reroute: %s → %s %s, %d min", p.name(s.ID), p.name(pr.ID), pr.Status, pr.Minutes)
}

// opExtension: a client asks for 15 more minutes on its active chat, and mostly pays.
func (p *ledgerProp) opExtension() {
	open := p.openSessions(pairing.SessionActive)
	if len(open) == 0 {
		return
	}
	s := propPick(p, open)
	x, pay, err := p.c.Extensions().Request(p.ctx, extension.RequestParams{ClientID: s.ClientID, ChatSessionID: s.ID, Minutes: 15})
	if !p.ok("request extension", err, curhat.ErrInvalidState, extension.ErrMitraUnavailable) {
		p.logf("extension: %s refused", p.name(s.ID))
		return
	}
	if pay == nil && x.Status == extension.StatusRequested && p.chance(80) {
		// Auto-approve is off: the mitra decides.
		if p.chance(20) {
			_, err := p.c.Extensions().Reject(p.ctx, s.MitraID, x.ID, "")
			p.noErr("reject extension", err)
			p.logf("extension: %s +15 min, rejected by %s", p.name(s.ID), p.name(s.MitraID))
			return
		}
		_, approved, err := p.c.Extensions().Approve(p.ctx, s.MitraID, x.ID)
		if !p.ok("approve extension", err, curhat.ErrInvalidState) {
			return
		}
		pay = &approved
	}
	if pay == nil {
		p.logf("extension: %s %s, nothing to pay", p.name(s.ID), x.Status)
		return
	}
	p.learnPayment(*pay)
	p.logf("extension: %s +15 min, %s of %d", p.name(s.ID), p.name(pay.ID), pay.Amount)
	if p.chance(85) {
		p.markPaid(pay.ID)
	}
}

// opRefund: an operator refunds a paid payment, whatever became of it.
func (p *ledgerProp) opRefund() {
	var paid []uuid.UUID
	for _, id := range p.payments {
		if _, ok := p.paid[id]; ok {
			paid = append(paid, id)
		}
	}
	if len(paid) == 0 {
		return
	}
	id := propPick(p, paid)
	sess, err := p.c.Payments().Refund(p.ctx, id, "operator refund")
	if p.ok("refund "+p.name(id), err, curhat.ErrInvalidState) {
		p.logf("refund: %s → %s, refunded %d of %d", p.name(id), sess.Status, sess.RefundedAmount, sess.Amount)
	}
}

// opRefuseRefunds: the provider refuses the next refunds (or stops refusing).
func (p *ledgerProp) opRefuseRefunds() {
	n := p.rng.IntN(4)
	p.gateway.FailNextRefunds(n)
	p.logf("refuse_refunds: the next %d", n)
}

// opRetryRefunds: the refund retry sweep, and now and then an operator's retry of a
// failed refund.
func (p *ledgerProp) opRetryRefunds() {
	p.retryRefunds()
	if !p.chance(30) {
		return
	}
	failed, _, err := p.c.Payments().ListRefunds(p.ctx, payment.RefundFilter{Status: payment.RefundFailed, PageSize: 100})
	p.noErr("list refunds", err)
	if len(failed) == 0 {
		return
	}
	slices.SortFunc(failed, func(a, b payment.Refund) int {
		return cmp.Or(strings.Compare(p.name(a.PaymentID), p.name(b.PaymentID)), strings.Compare(a.Cause, b.Cause))
	})
	r := propPick(p, failed)
	got, err := p.c.Payments().RetryRefund(p.ctx, r.ID)
	if p.ok("retry refund", err, curhat.ErrInvalidState, curhat.ErrConflict) {
		p.logf("    operator retries the refund of %s (%d): %s", p.name(r.PaymentID), r.Amount, got.Status)
	}
}

func (p *ledgerProp) retryRefunds() {
	r, err := p.c.Payments().RetryRefunds(p.ctx)
	p.noErr("retry refunds", err)
	n, err := p.c.Pairing().SyncFailureRefunds(p.ctx)
	p.noErr("sync failure refunds", err)
	p.logf("retry_refunds: attempted %d, succeeded %d, failed %d (gave up %d); failure rows refunded %d",
		r.Attempted, r.Succeeded, r.Failed, r.GaveUp, n)
}

func (p *ledgerProp) opExpireStale() {
	r, err := p.c.Payments().ExpireStale(p.ctx)
	p.noErr("expire stale payments", err)
	p.logf("expire_stale: expired %d, redelivered %d", r.Expired, r.Redelivered)
}

// opConfig: an operator changes the fee, the clearance delay, a mitra's default capacity
// or the queue.
func (p *ledgerProp) opConfig() {
	switch r := p.rng.IntN(10); {
	case r < 5:
		v := propPick(p, []int{0, 1, 30, 33, 50, 99, 100, p.rng.IntN(101)})
		p.setConfig(p.t, curhat.KeyPlatformFeePercent, v)
		p.logf("config: platform_fee_percent %d", v)
	case r < 8:
		v := p.rng.IntN(6)
		p.setConfig(p.t, curhat.KeyEarningsClearanceHours, v)
		p.logf("config: earnings_clearance_hours %d", v)
	case r < 9 && p.chance(50):
		v := propPick(p, []int{0, 10000, 25000, 50000})
		p.setConfig(p.t, curhat.KeyPayoutMinimumAmount, v)
		p.logf("config: payout_minimum_amount %d", v)
	case r < 9:
		v := 1 + p.rng.IntN(2)
		p.setConfig(p.t, curhat.KeyMitraMaxConcurrentSessions, v)
		p.logf("config: mitra_max_concurrent_sessions %d", v)
	default:
		key := propPick(p, []curhat.ConfigKey{curhat.KeyPairingQueueEnabled, curhat.KeyExtensionAutoApprove, curhat.KeyPairingOfferPolicy})
		raw := []byte(strconv.FormatBool(p.chance(50)))
		if key == curhat.KeyPairingOfferPolicy {
			raw = []byte(strconv.Quote(propPick(p, []string{"blast", "ring"})))
		}
		_, err := p.c.Runtime().Set(p.ctx, string(key), raw, "op")
		p.noErr("set config", err)
		p.logf("config: %s %s", key, raw)
	}
}

// opInstances: the sweeps of several instances run at once (each is safe to): two
// clearances, two payout runs, two refund retries, the timeouts sweep twice, or a mix.
func (p *ledgerProp) opInstances() {
	sweeps := map[string]func() error{
		"clear": func() error { _, err := p.c.Ledger().Clear(p.ctx, p.clock.Now(), 0); return err },
		"payout_run": func() error {
			_, err := p.c.Payouts().Run(p.ctx, payout.RunParams{})
			return err
		},
		"retry_refunds": func() error { _, err := p.c.Payments().RetryRefunds(p.ctx); return err },
		"timeouts":      func() error { _, err := p.c.Pairing().SweepTimeouts(p.ctx); return err },
		"payout_retry":  func() error { _, err := p.c.Payouts().RetryPending(p.ctx, 0); return err },
	}
	names := []string{"clear", "payout_run", "retry_refunds", "timeouts", "payout_retry"}
	var run []string
	if p.chance(50) {
		n := propPick(p, names)
		run = []string{n, n}
	} else {
		run = []string{propPick(p, names), propPick(p, names), propPick(p, names)}
	}
	errs := make([]error, len(run))
	var wg sync.WaitGroup
	for i, n := range run {
		wg.Go(func() { errs[i] = sweeps[n]() })
	}
	wg.Wait()
	p.logf("instances: %s at once", strings.Join(run, ", "))
	for i, err := range errs {
		p.noErr(run[i], err)
	}
}

// opClear runs the clearance sweep, in a batch of any size (the sweep's is 1000), and
// checks that it moved out of each mitra's pending balance at most what its due earnings
// had left, and that a batch clears something while an earning has something to clear.
func (p *ledgerProp) opClear() {
	now := p.clock.Now()
	limit := 0
	if p.chance(50) {
		limit = 1 + p.rng.IntN(3)
	}
	type state struct{ pending, due int64 }
	before := map[uuid.UUID]state{}
	clearable := false
	for _, m := range p.mitras {
		st := state{p.earnings(p.t, m).Pending, p.dueLeft(m, now)}
		before[m] = st
		clearable = clearable || (st.pending > 0 && st.due > 0)
	}
	n, err := p.c.Ledger().Clear(p.ctx, now, limit)
	p.noErr("clear", err)
	p.logf("clear: %d earnings (batch %d)", n, limit)
	for _, m := range p.mitras {
		moved := before[m].pending - p.earnings(p.t, m).Pending
		require.LessOrEqual(p.t, moved, before[m].due, "step %d: the clearance moved %d out of %s's pending, whose due "+
			"earnings had %d left", p.step, moved, p.name(m), before[m].due)
	}
	if n == 0 && clearable {
		p.breach(ledgerPropStuckBatch, "step %d: Clear(now, %d) cleared nothing while a due earning had something left to clear",
			p.step, limit)
	}
}

// dueLeft sums what the mitra's earnings due at now and not cleared yet have left: each
// session's earning (its mitra_pending line) less what reversals took from it.
func (p *ledgerProp) dueLeft(m uuid.UUID, now time.Time) int64 {
	earning, reversed := map[uuid.UUID]int64{}, map[uuid.UUID]int64{}
	due, cleared := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
	for page := 1; ; page++ {
		es, total, err := p.c.Ledger().Entries(p.ctx, ledger.EntryFilter{MitraID: m, Page: page, PageSize: 100})
		p.noErr("ledger entries", err)
		for _, e := range es {
			if e.ChatSessionID == nil {
				continue
			}
			sid := *e.ChatSessionID
			switch {
			case e.Kind == ledger.KindEarningCleared:
				cleared[sid] = true
			case e.Account != ledger.AccountMitraPending:
			case e.Kind == ledger.KindEarningReversed:
				reversed[sid] += e.Amount
			case e.ClearsAt != nil:
				earning[sid] -= e.Amount
				due[sid] = !e.ClearsAt.After(now)
			}
		}
		if len(es) == 0 || page*100 >= total {
			break
		}
	}
	var n int64
	for sid, e := range earning {
		if due[sid] && !cleared[sid] {
			n += max(e-reversed[sid], 0)
		}
	}
	return n
}

// opPayoutDestination: a mitra sets where it is paid.
func (p *ledgerProp) opPayoutDestination() { p.setDestination(propPick(p, p.mitras)) }

func (p *ledgerProp) setDestination(m uuid.UUID) {
	_, err := p.c.Payouts().SetDestination(p.ctx, payout.Destination{
		MitraID: m, ChannelCode: "ID_BCA", AccountNumber: fmt.Sprintf("%010d", p.rng.IntN(1e9)), AccountHolderName: "Mitra " + p.name(m),
	})
	p.noErr("set payout destination", err)
	p.logf("payout_destination: %s", p.name(m))
}

// opPayoutRun: an operator runs the payouts, of every eligible mitra or of one.
func (p *ledgerProp) opPayoutRun() {
	var params payout.RunParams
	if p.chance(30) {
		m := propPick(p, p.mitras)
		params.MitraID = &m
	}
	rep, err := p.c.Payouts().Run(p.ctx, params)
	if !p.ok("run payouts", err, curhat.ErrInvalidState) {
		return
	}
	var out []string
	for _, po := range rep.Created {
		p.learn(&p.payoutIDs, "po", po.ID)
		out = append(out, fmt.Sprintf("%s %s %d %s", p.name(po.ID), p.name(po.MitraID), po.Amount, po.Status))
	}
	p.logf("payout_run: %s", strings.Join(out, ", "))
}

// opPayoutProvider: the payout provider refuses the next payouts, answers later
// (processing) or cannot be reached — or works again.
func (p *ledgerProp) opPayoutProvider() {
	switch r := p.rng.IntN(3); r {
	case 0:
		n := p.rng.IntN(3)
		p.payouts.FailNext(n)
		p.logf("payout_provider: refuses the next %d", n)
	case 1:
		on := p.chance(50)
		p.payouts.SetAsync(on)
		p.logf("payout_provider: answers later %t", on)
	default:
		down := p.chance(30)
		p.payouts.SetDown(down)
		p.logf("payout_provider: down %t", down)
	}
}

// opPayoutOutcome: the provider's callback: a payout in processing succeeded or failed,
// or one that succeeded came back (reversed).
func (p *ledgerProp) opPayoutOutcome() {
	if len(p.payoutIDs) == 0 {
		return
	}
	po, err := p.c.Payouts().Get(p.ctx, propPick(p, p.payoutIDs))
	p.noErr("get payout", err)
	var got payout.Payout
	switch {
	case po.Status == payout.StatusSucceeded || (po.Status.Open() && p.chance(20)):
		got, err = p.c.Payouts().Reversed(p.ctx, po.ID, "returned by the bank")
	case p.chance(70):
		got, err = p.c.Payouts().Succeeded(p.ctx, po.ID, "fake_po_"+po.ID.String())
	default:
		got, err = p.c.Payouts().Failed(p.ctx, po.ID, "account closed")
	}
	if p.ok("payout outcome", err, curhat.ErrInvalidState) {
		p.logf("payout_outcome: %s of %s (%d): %s → %s", p.name(po.ID), p.name(po.MitraID), po.Amount, po.Status, got.Status)
	}
}

func (p *ledgerProp) opPayoutRetry() {
	n, err := p.c.Payouts().RetryPending(p.ctx, 0)
	p.noErr("retry pending payouts", err)
	p.logf("payout_retry: %d sent again", n)
}

// allPayouts lists every payout.
func (p *ledgerProp) allPayouts() []payout.Payout {
	var out []payout.Payout
	for page := 1; ; page++ {
		ps, total, err := p.c.Payouts().List(p.ctx, payout.Filter{Page: page, PageSize: 100})
		p.noErr("list payouts", err)
		out = append(out, ps...)
		if len(ps) == 0 || len(out) >= total {
			return out
		}
	}
}

// --- invariants ---

// gatewayRefunded sums the refunds the provider made.
func (p *ledgerProp) gatewayRefunded() int64 {
	var n int64
	for _, r := range p.gateway.Refunds() {
		n += r.Amount
	}
	return n
}

// checkInvariants asserts what must hold after every step, whatever is in flight: the
// books balance, no transaction is unbalanced, no mitra balance is negative, no payment
// gave more than it was paid, the gateway account is the money the provider holds, and the
// mitras' balances add up to the accounts.
func (p *ledgerProp) checkInvariants() {
	t := p.t
	t.Helper()
	bal, err := p.c.Ledger().Balance(p.ctx)
	require.NoError(t, err)
	require.Zero(t, bal.Imbalance, "step %d: the books do not balance", p.step)
	// With no grace Check lists, besides what breaks an invariant whatever is in flight
	// (unbalanced_txn, negative_balance, payment_overdrawn, gateway_mismatch), every payment
	// that holds funds while a refund of it has not gone through (refund_not_succeeded: the
	// provider refused it, it is retried) and every payment whose chat and pairing are final
	// and whose refunds succeeded that still holds funds (payment_holds_funds: never, since
	// each change posts in the transaction that makes it).
	findings, err := p.c.Ledger().Check(p.ctx, p.clock.Now())
	require.NoError(t, err)
	findings = slices.DeleteFunc(findings, func(f ledger.Finding) bool { return f.Reason == ledger.ReasonRefundNotSucceeded })
	require.Empty(t, findings, "step %d: %s", p.step, p.describe(findings))

	open, paidOut := map[uuid.UUID]int64{}, map[uuid.UUID]int64{}
	var paidOutTotal int64
	for _, po := range p.allPayouts() {
		p.learn(&p.payoutIDs, "po", po.ID)
		switch {
		case po.Status.Open():
			open[po.MitraID] += po.Amount
		case po.Status == payout.StatusSucceeded:
			paidOut[po.MitraID] += po.Amount
			paidOutTotal += po.Amount
		}
	}

	var pending, available, inFlight, receivable int64
	for _, m := range p.mitras {
		e, err := p.c.Ledger().Earnings(p.ctx, m)
		require.NoError(t, err)
		require.Equal(t, open[m], e.InFlight, "step %d: %s: in flight = its open payout", p.step, p.name(m))
		require.Equal(t, paidOut[m], e.PaidOut, "step %d: %s: paid out = its succeeded payouts", p.step, p.name(m))
		require.GreaterOrEqual(t, e.Pending, int64(0), "step %d: %s pending", p.step, p.name(m))
		require.GreaterOrEqual(t, e.Available, int64(0), "step %d: %s available", p.step, p.name(m))
		require.GreaterOrEqual(t, e.InFlight, int64(0), "step %d: %s in flight", p.step, p.name(m))
		require.GreaterOrEqual(t, e.Receivable, int64(0), "step %d: %s receivable", p.step, p.name(m))
		pending, available, inFlight, receivable = pending+e.Pending, available+e.Available, inFlight+e.InFlight, receivable+e.Receivable
	}
	require.Equal(t, map[ledger.Account]int64{
		ledger.AccountMitraPending: pending, ledger.AccountMitraAvailable: available,
		ledger.AccountPayoutsInFlight: inFlight, ledger.AccountMitraReceivable: receivable,
	}, map[ledger.Account]int64{
		ledger.AccountMitraPending: bal.Accounts[ledger.AccountMitraPending], ledger.AccountMitraAvailable: bal.Accounts[ledger.AccountMitraAvailable],
		ledger.AccountPayoutsInFlight: bal.Accounts[ledger.AccountPayoutsInFlight], ledger.AccountMitraReceivable: bal.Accounts[ledger.AccountMitraReceivable],
	}, "step %d: the mitras' earnings add up to the accounts", p.step)
	require.GreaterOrEqual(t, bal.Accounts[ledger.AccountClientFunds], int64(0), "step %d: client_funds", p.step)
	if receivable > 0 {
		p.owed++
	}
	require.Equal(t, p.paidTotal-p.gatewayRefunded()-paidOutTotal, bal.Accounts[ledger.AccountGateway],
		"step %d: gateway = what was paid less what the provider refunded and the payouts that went out", p.step)
}

func (p *ledgerProp) describe(fs []ledger.Finding) string {
	var out []string
	for _, f := range fs {
		s := fmt.Sprintf("%s %s %d", f.Reason, f.Account, f.Amount)
		if f.PaymentID != nil {
			s += " payment " + p.name(*f.PaymentID)
		}
		if f.MitraID != nil {
			s += " mitra " + p.name(*f.MitraID)
		}
		if f.TxnID != nil {
			s += " txn " + f.TxnID.String()
		}
		out = append(out, s)
	}
	return "findings: " + strings.Join(out, "; ")
}

// --- at rest ---

// settle brings the world to rest: the provider stops refusing, time passes until every
// chat, blast and payment is final and every refund went through, and every earning
// clears.
func (p *ledgerProp) settle() {
	p.step++
	p.logf("settle")
	p.gateway.FailNextRefunds(0)
	p.gateway.FailRefunds(false)
	p.payouts.FailNext(0)
	p.payouts.SetAsync(false)
	p.payouts.SetDown(false)
	for round := 0; ; round++ {
		require.Less(p.t, round, 40, "the world does not come to rest: %s", p.unrest())
		if p.unrest() == "" {
			break
		}
		p.clock.Advance(time.Hour)
		p.sweepTimeouts()
		p.opExpireStale()
		p.retryRefunds()
		failed, _, err := p.c.Payments().ListRefunds(p.ctx, payment.RefundFilter{Status: payment.RefundFailed, PageSize: 100})
		p.noErr("list refunds", err)
		for _, r := range failed { // gave up: an operator retries them
			_, err := p.c.Payments().RetryRefund(p.ctx, r.ID)
			p.ok("retry refund", err, curhat.ErrInvalidState, curhat.ErrConflict)
		}
		p.opPayoutRetry()
		for _, po := range p.allPayouts() {
			if po.Status == payout.StatusProcessing { // the provider's callback
				_, err := p.c.Payouts().Succeeded(p.ctx, po.ID, "fake_po_"+po.ID.String())
				p.noErr("payout succeeded", err)
			}
		}
		p.drainEvents()
		p.checkInvariants()
	}
	// Every earning clears when it is due: 72 hours after its session ended by default, 0 to
	// 5 hours once the operator changed it.
	var last time.Time
	for _, m := range p.mitras {
		for page := 1; ; page++ {
			es, total, err := p.c.Ledger().Entries(p.ctx, ledger.EntryFilter{MitraID: m, Page: page, PageSize: 100})
			p.noErr("ledger entries", err)
			for _, e := range es {
				if e.ClearsAt != nil && e.ClearsAt.After(last) {
					last = *e.ClearsAt
				}
			}
			if len(es) == 0 || page*100 >= total {
				break
			}
		}
	}
	p.clock.Set(last)
	for {
		n, err := p.c.Ledger().Clear(p.ctx, p.clock.Now(), 0)
		p.noErr("clear", err)
		p.logf("clear: %d earnings", n)
		if n == 0 {
			break
		}
	}
	p.checkInvariants()
	for _, m := range p.mitras {
		if at := p.earnings(p.t, m).NextClearanceAt; at != nil {
			p.breach(ledgerPropStaleNextClearance, "at rest %s: every earning is past its clearance, yet %s's next "+
				"clearance is at %s", p.clock.Now().Format(time.RFC3339), p.name(m), at.Format(time.RFC3339))
		}
	}
}

// unrest says what is not final yet ("" when nothing).
func (p *ledgerProp) unrest() string {
	var out []string
	if open := p.openSessions(pairing.SessionActive, pairing.SessionPendingPayment); len(open) > 0 {
		out = append(out, fmt.Sprintf("%d chat sessions open", len(open)))
	}
	for _, pr := range p.openPairings() {
		out = append(out, fmt.Sprintf("%s %s", p.name(pr.ID), pr.Status))
	}
	for _, st := range []payment.RefundStatus{payment.RefundPending, payment.RefundFailed} {
		_, n, err := p.c.Payments().ListRefunds(p.ctx, payment.RefundFilter{Status: st, PageSize: 1})
		p.noErr("list refunds", err)
		if n > 0 {
			out = append(out, fmt.Sprintf("%d refunds %s", n, st))
		}
	}
	for _, id := range p.payments {
		sess, err := p.c.Payments().Get(p.ctx, id)
		p.noErr("get payment", err)
		if sess.Status == payment.StatusPending {
			out = append(out, p.name(id)+" pending")
		}
	}
	for _, po := range p.allPayouts() {
		if po.Status.Open() {
			out = append(out, fmt.Sprintf("payout %s %s", p.name(po.ID), po.Status))
		}
	}
	return strings.Join(out, ", ")
}

// assertAtRest asserts what must hold once nothing is in flight: no finding at all, no
// unsettled payment, every payment's money is an earning, a fee or a refund, and the
// accounts add up to what was paid.
func (p *ledgerProp) assertAtRest() {
	t := p.t
	for _, id := range p.payments {
		sess, err := p.c.Payments().Get(p.ctx, id)
		require.NoError(t, err)
		p.notePaid(sess)
		if sess.PaidAt == nil {
			require.Zero(t, p.gateway.RefundedAmount(id), "%s was never paid, and is not refunded", p.name(id))
			continue
		}
		require.LessOrEqual(t, sess.RefundedAmount, sess.Amount, "%s", p.name(id))
		require.Equal(t, sess.RefundedAmount, p.gateway.RefundedAmount(id), "%s: refunded, as the provider says", p.name(id))
	}
	findings, err := p.c.LedgerFindings(p.ctx)
	require.NoError(t, err)
	require.Empty(t, findings, "at rest: %s", p.describe(findings))
	findings, err = p.c.Ledger().Check(p.ctx, p.clock.Now())
	require.NoError(t, err)
	require.Empty(t, findings, "at rest, no grace: %s", p.describe(findings))
	unsettled, err := p.c.Payments().Reconcile(p.ctx, 0)
	require.NoError(t, err)
	require.Empty(t, unsettled, "at rest: unsettled payments")
	_, n, err := p.c.Pairing().ListFailures(p.ctx, pairing.FailureFilter{RefundStatus: pairing.RefundFailed, PageSize: 1})
	require.NoError(t, err)
	require.Zero(t, n, "at rest every failed pairing's refund went through")

	succeeded := p.listRefunds(payment.RefundSucceeded)
	var refunded int64
	for _, r := range succeeded {
		refunded += r.Amount
	}
	require.Equal(t, p.gatewayRefunded(), refunded, "the refunds recorded succeeded are the ones the provider made")
	require.Len(t, p.gateway.Refunds(), len(succeeded))

	var paidOut int64
	for _, po := range p.allPayouts() {
		require.False(t, po.Status.Open(), "payout %s is %s", p.name(po.ID), po.Status)
		if po.Status == payout.StatusSucceeded {
			paidOut += po.Amount
		}
	}

	bal, err := p.c.Ledger().Balance(p.ctx)
	require.NoError(t, err)
	a := bal.Accounts
	require.Zero(t, bal.Imbalance)
	require.Equal(t, p.paidTotal-refunded-paidOut, a[ledger.AccountGateway], "gateway = paid − refunds succeeded − paid out")
	require.Zero(t, a[ledger.AccountPayoutsInFlight], "no payout is open")
	require.Zero(t, a[ledger.AccountClientFunds], "at rest nothing is held for clients")
	require.Zero(t, a[ledger.AccountMitraPending], "every earning cleared")
	require.Equal(t, p.paidTotal,
		a[ledger.AccountPlatformRevenue]+a[ledger.AccountMitraPending]+a[ledger.AccountMitraAvailable]+
			a[ledger.AccountPayoutsInFlight]-a[ledger.AccountMitraReceivable]+a[ledger.AccountClientFunds]+refunded+paidOut,
		"what was paid is fees, earnings (paid out or not, less what mitras owe back), client funds and refunds: %v", a)
	p.t.Logf("at rest: paid %d in %d payments, refunded %d in %d refunds, fees %d, earnings paid out %d in %d payouts, "+
		"available %d, receivable %d", p.paidTotal, len(p.paid), refunded, len(succeeded), a[ledger.AccountPlatformRevenue],
		paidOut, len(p.payoutIDs), a[ledger.AccountMitraAvailable], a[ledger.AccountMitraReceivable])
}

func (p *ledgerProp) listRefunds(st payment.RefundStatus) []payment.Refund {
	var out []payment.Refund
	for page := 1; ; page++ {
		rs, total, err := p.c.Payments().ListRefunds(p.ctx, payment.RefundFilter{Status: st, Page: page, PageSize: 100})
		p.noErr("list refunds", err)
		out = append(out, rs...)
		if len(rs) == 0 || len(out) >= total {
			return out
		}
	}
}

// --- what the property test found, each reduced to its smallest case ---

// An earning a refund took back in full before it cleared has nothing left to clear:
// Clear posts nothing for it, so it never gets its earning_cleared transaction, and
// Earnings keeps reporting its due time as next_clearance_at — in the past, forever.
func TestLedger_AFullyReversedEarningHasNoClearanceLeft(t *testing.T) {
	t.Parallel()
	eachClientBackend(t, func(t *testing.T, b clientBundle) {
		w := newLedgerWorld(t, b)
		m := w.onlineMitra(t, "Ayu")
		client, pay, s := w.paidChat(t, m)
		_, err := w.c.Pairing().EndSession(w.ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
		require.NoError(t, err)
		_, err = w.c.Payments().Refund(w.ctx, pay, "complaint upheld") // before the earning cleared
		require.NoError(t, err)
		e := w.earnings(t, m)
		require.Zero(t, e.Pending)
		w.clock.Advance(73 * time.Hour)
		n, err := w.c.Ledger().Clear(w.ctx, w.clock.Now(), 0)
		require.NoError(t, err)
		require.Zero(t, n)
		e = w.earnings(t, m)
		require.Nil(t, e.NextClearanceAt, "nothing is pending, nothing clears next: %v", e.NextClearanceAt)
	})
}

// The same earning, with nothing left to clear, stays due forever. The Postgres store
// lists the due earnings with the batch's LIMIT before it finds they have nothing left, so
// a batch of such earnings (the sweep's is 1000) clears nothing, run after run, and the
// earnings behind them never clear. The memory store counts only what it cleared.
func TestLedger_AClearanceBatchIsNotFilledByEarningsWithNothingLeft(t *testing.T) {
	t.Parallel()
	eachClientBackend(t, func(t *testing.T, b clientBundle) {
		w := newLedgerWorld(t, b)
		w.setConfig(t, curhat.KeyEarningsClearanceHours, 0)
		ayu, budi := w.onlineMitra(t, "Ayu"), w.onlineMitra(t, "Budi")
		client, pay, s := w.paidChat(t, ayu)
		_, err := w.c.Pairing().EndSession(w.ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
		require.NoError(t, err)
		_, err = w.c.Payments().Refund(w.ctx, pay, "complaint upheld") // Ayu's earning: all reversed
		require.NoError(t, err)
		w.clock.Advance(time.Second)
		client, _, s = w.paidChat(t, budi)
		_, err = w.c.Pairing().EndSession(w.ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
		require.NoError(t, err)

		// A sweep clearing one earning at a time clears Budi's.
		for range 3 {
			_, err := w.c.Ledger().Clear(w.ctx, w.clock.Now(), 1)
			require.NoError(t, err)
		}
		require.Equal(t, int64(21000), w.earnings(t, budi).Available)
	})
}

// A reversal takes the mitra's part from mitra_pending first, whichever session's earning
// that balance holds, but its lines name the reversed session: a later session's earning
// (B) keeps its whole amount to clear. When B is due, its clearance moves that amount out of
// the pending balance, which by then holds the earning of another session (C), not due for
// days: C's money becomes available early.
func TestLedger_AnEarningNeverClearsBeforeItsDueTime(t *testing.T) {
	t.Parallel()
	eachClientBackend(t, func(t *testing.T, b clientBundle) {
		w := newLedgerWorld(t, b)
		m := w.onlineMitra(t, "Ayu")
		end := func(client uuid.UUID, s pairing.ChatSession) {
			_, err := w.c.Pairing().EndSession(w.ctx, pairing.EndParams{SessionID: s.ID, By: pairing.PartyClient, CallerID: client})
			require.NoError(t, err)
		}
		// A: cleared at once. B: due in 5 hours.
		w.setConfig(t, curhat.KeyEarningsClearanceHours, 0)
		clientA, payA, a := w.paidChat(t, m)
		end(clientA, a)
		_, err := w.c.Ledger().Clear(w.ctx, w.clock.Now(), 0)
		require.NoError(t, err)
		w.setConfig(t, curhat.KeyEarningsClearanceHours, 5)
		clientB, _, bs := w.paidChat(t, m)
		end(clientB, bs)
		// A's payment is refunded: its earning, cleared already, is taken back from
		// available, never from B's or C's pending earnings.
		_, err = w.c.Payments().Refund(w.ctx, payA, "complaint upheld")
		require.NoError(t, err)
		// C: due in 72 hours.
		w.setConfig(t, curhat.KeyEarningsClearanceHours, 72)
		clientC, _, cs := w.paidChat(t, m)
		end(clientC, cs)
		before := w.earnings(t, m)
		require.Equal(t, int64(42000), before.Pending, "B's and C's earnings")

		w.clock.Advance(5 * time.Hour)
		_, err = w.c.Ledger().Clear(w.ctx, w.clock.Now(), 0)
		require.NoError(t, err)
		after := w.earnings(t, m)
		require.Equal(t, int64(21000), after.Pending, "B cleared; C's earning is not due for 67 hours: before %+v, after %+v", before, after)
		require.True(t, after.NextClearanceAt.Equal(w.clock.Now().Add(67*time.Hour)), "C's due time: %v", after.NextClearanceAt)
	})
}
