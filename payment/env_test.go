package payment_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/ledger"
	"github.com/curhat/curhat/payment/paymenttest"
	"github.com/curhat/curhat/pricing"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// t0 is the fake clock's start.
var t0 = time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)

// env is one backend (Postgres or in-memory) with the rows a payment session refers to.
type env struct {
	kind  string
	store payment.Store
	// sameData opens another Store over the same data: a second instance.
	sameData func() payment.Store
	// count returns how many payment sessions exist.
	count func() int
	// refs returns a client and the rows a session of purpose may point at.
	refs func(purpose payment.Purpose) paymenttest.Refs
	// deliver makes what a charged session paid for happen: a chat session of its pairing
	// starts (chat_start), its extension is applied (extension).
	deliver func(t *testing.T, s payment.Session)
	// consume posts the value of a chat session of s's pairing that took amount of the
	// charged chat_start session s, as the pairing store does when the session ends.
	consume func(t *testing.T, s payment.Session, amount int64)
}

// sessionValue is a chat session's value that takes amount of payment p to the
// platform (the earning's split does not matter to the payment store).
func sessionValue(p payment.Session, chatSessionID uuid.UUID, amount int64) ledger.Txn {
	return ledger.Txn{ID: uuid.New(), Kind: ledger.KindSessionValue, At: t0, Lines: []ledger.Line{
		{Account: ledger.AccountClientFunds, PaymentID: &p.ID, ChatSessionID: &chatSessionID, Amount: amount, Currency: p.Currency},
		{Account: ledger.AccountPlatformRevenue, ChatSessionID: &chatSessionID, Amount: -amount, Currency: p.Currency},
	}}
}

type backend struct {
	name string
	open func(t *testing.T) *env
}

var backends = []backend{
	{"memory", openMemory},
	{"postgres", openPostgres},
}

// eachBackend runs fn once per backend, in parallel subtests.
func eachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.open(t))
		})
	}
}

// openMemory builds the payment store over one in-memory database with the stores of the
// domains it refers to, as curhat.NewMemoryClient does: its foreign keys and Reconcile's
// reads of pairings, chat sessions and extensions hold as on Postgres.
func openMemory(t *testing.T) *env {
	ctx := context.Background()
	db := memdb.New()
	s := payment.NewMemoryStoreIn(db)
	pairs, exts := pairing.NewMemoryStoreIn(db), extension.NewMemoryStoreIn(db)
	books := ledger.NewMemoryStoreIn(db)
	prices, err := pricing.NewPricingStore(pricing.NewMemoryStoreIn(db), nil)
	require.NoError(t, err)
	tier := func(mode pricing.Mode, minutes int, price int64) uuid.UUID {
		tr, err := prices.CreateTier(ctx, pricing.CreateTierParams{Mode: mode, Minutes: minutes, Price: price, ChangedBy: "ops"})
		require.NoError(t, err)
		return tr.ID
	}
	sessionTier, extensionTier := tier(pricing.ModeSession, 30, 50000), tier(pricing.ModeExtension, 15, 20000)
	mitra, err := availability.NewMemoryStoreIn(db).CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "bestie"})
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Microsecond)
	chatSession := func(client, pairingID uuid.UUID) pairing.ChatSession {
		return pairing.ChatSession{
			ID: uuid.New(), ClientID: client, MitraID: mitra.ID, Status: pairing.SessionActive, Minutes: 30,
			StartedAt: &now, EndsAt: new(now.Add(30 * time.Minute)), PairingID: pairingID, CreatedAt: now, UpdatedAt: now,
		}
	}
	return &env{
		kind: "memory",
		deliver: func(t *testing.T, p payment.Session) {
			t.Helper()
			if p.Purpose == payment.PurposeExtension {
				_, changed, err := exts.Transition(ctx, extension.Transition{
					ID: *p.ExtensionID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusPaid,
					PaymentSessionID: &p.ID,
				})
				require.NoError(t, err)
				require.True(t, changed)
				return
			}
			_, err := pairs.AttachPayment(ctx, *p.PairingID, p.ID, now)
			require.NoError(t, err)
			pairs.PutChatSession(chatSession(p.ClientID, *p.PairingID))
		},
		consume: func(t *testing.T, p payment.Session, amount int64) {
			t.Helper()
			chat := chatSession(p.ClientID, *p.PairingID)
			pairs.PutChatSession(chat)
			_, err := books.Post(ctx, sessionValue(p, chat.ID, amount))
			require.NoError(t, err)
		},
		store:    s,
		sameData: func() payment.Store { return payment.NewMemoryStoreIn(db) },
		count:    s.Len,
		refs: func(purpose payment.Purpose) paymenttest.Refs {
			c, err := pairs.CreateClient(ctx, pairing.Client{ID: uuid.New(), DisplayName: "client", CreatedAt: now})
			require.NoError(t, err)
			pr, err := pairs.CreatePairing(ctx, pairing.Pairing{
				ID: uuid.New(), ClientID: c.ID, Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment, Minutes: 30,
				CreatedAt: now, UpdatedAt: now,
			})
			require.NoError(t, err)
			r := paymenttest.Refs{ClientID: c.ID, TierID: sessionTier, PairingID: &pr.ID}
			if purpose == payment.PurposeExtension {
				chat := chatSession(c.ID, pr.ID)
				pairs.PutChatSession(chat)
				e, err := exts.Insert(ctx, extension.Extension{
					ID: uuid.New(), ChatSessionID: chat.ID, TierID: extensionTier, Minutes: 15, Amount: 20000,
					Status: extension.StatusApproved, CreatedAt: now,
				})
				require.NoError(t, err)
				r.TierID, r.ChatSessionID, r.ExtensionID, r.PairingID = extensionTier, &chat.ID, &e.ID, nil
			}
			return r
		},
	}
}

func openPostgres(t *testing.T) *env {
	db := testenv.PostgresWith(t, testenv.PGOptions{MaxConns: 24})
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := db.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	sessionTier, extensionTier := uuid.New(), uuid.New()
	exec(`INSERT INTO pricing_tiers (id, mode, minutes, price) VALUES ($1, 'session', 30, 50000), ($2, 'extension', 15, 20000)`,
		sessionTier, extensionTier)
	mitra := uuid.New()
	exec(`INSERT INTO mitras (id, display_name) VALUES ($1, 'bestie')`, mitra)
	return &env{
		kind: "postgres",
		deliver: func(t *testing.T, p payment.Session) {
			t.Helper()
			if p.Purpose == payment.PurposeExtension {
				exec(`UPDATE extensions SET status = 'paid', payment_session_id = $2 WHERE id = $1`, *p.ExtensionID, p.ID)
				return
			}
			chat := uuid.New()
			exec(`INSERT INTO chat_sessions (id, client_id, mitra_id, status, minutes, started_at, pairing_id)
				VALUES ($1, $2, $3, 'active', 30, now(), $4)`, chat, p.ClientID, mitra, *p.PairingID)
			exec(`UPDATE pairings SET status = 'matched', payment_session_id = $2, chat_session_id = $3 WHERE id = $1`,
				*p.PairingID, p.ID, chat)
		},
		consume: func(t *testing.T, p payment.Session, amount int64) {
			t.Helper()
			chat := uuid.New()
			exec(`INSERT INTO chat_sessions (id, client_id, mitra_id, status, minutes, started_at, pairing_id)
				VALUES ($1, $2, $3, 'active', 30, now(), $4)`, chat, p.ClientID, mitra, *p.PairingID)
			_, err := ledger.PostTx(ctx, db.Pool, sessionValue(p, chat, amount))
			require.NoError(t, err)
		},
		store:    payment.NewPostgresStore(db.Pool),
		sameData: func() payment.Store { return payment.NewPostgresStore(db.Pool) },
		count: func() int {
			var n int
			require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM payment_sessions`).Scan(&n))
			return n
		},
		refs: func(purpose payment.Purpose) paymenttest.Refs {
			r := paymenttest.Refs{ClientID: uuid.New(), TierID: sessionTier, PairingID: ptr(uuid.New())}
			exec(`INSERT INTO clients (id, display_name) VALUES ($1, 'client')`, r.ClientID)
			exec(`INSERT INTO pairings (id, client_id, type, status, minutes) VALUES ($1, $2, 'blast', 'awaiting_payment', 30)`,
				*r.PairingID, r.ClientID)
			if purpose == payment.PurposeExtension {
				r.TierID, r.ChatSessionID, r.ExtensionID = extensionTier, ptr(uuid.New()), ptr(uuid.New())
				exec(`INSERT INTO chat_sessions (id, client_id, mitra_id, status, minutes, pairing_id) VALUES ($1, $2, $3, 'active', 30, $4)`,
					*r.ChatSessionID, r.ClientID, mitra, *r.PairingID)
				exec(`INSERT INTO extensions (id, chat_session_id, tier_id, minutes, amount, status) VALUES ($1, $2, $3, 15, 20000, 'approved')`,
					*r.ExtensionID, *r.ChatSessionID, extensionTier)
				r.PairingID = nil
			}
			return r
		},
	}
}

// params returns valid CreateParams for a fresh client: a 30-minute chat for 50000 IDR.
func (e *env) params(purpose payment.Purpose) payment.CreateParams {
	r := e.refs(purpose)
	return payment.CreateParams{
		ClientID: r.ClientID, Purpose: purpose, PairingID: r.PairingID, ChatSessionID: r.ChatSessionID, ExtensionID: r.ExtensionID,
		TierID: r.TierID, Minutes: 30, BaseAmount: 50000, DiscountAmount: 0, Amount: 50000, Currency: "IDR",
	}
}

// rig is a Service over an env with a fake clock, a fake gateway and recording handlers.
type rig struct {
	*env
	clock   *clock.Fake
	gw      *payment.FakeGateway
	svc     *payment.Service
	handler *recorder
	refunds *hookCounter
}

func newRig(t *testing.T, e *env) *rig {
	r := &rig{env: e, clock: clock.NewFake(t0), gw: payment.NewFakeGateway(), handler: newRecorder(), refunds: &hookCounter{}}
	r.svc = r.service(e.store)
	return r
}

// service returns another Service (an instance) sharing the rig's clock, gateway and handler.
func (r *rig) service(store payment.Store) *payment.Service {
	svc, err := payment.NewService(store, r.gw, &payment.Config{
		Clock: r.clock,
		Hooks: payment.Hooks{
			RefundIssued: func(context.Context, payment.Refund) { r.refunds.add(&r.refunds.issued) },
			RefundFailed: func(context.Context, payment.Refund, error) { r.refunds.add(&r.refunds.failed) },
		},
	})
	if err != nil {
		panic(err) // the rig's config is valid
	}
	svc.SetHandler(payment.PurposeChatStart, r.handler)
	svc.SetHandler(payment.PurposeExtension, r.handler)
	return svc
}

// create makes a pending, charged session.
func (r *rig) create(t *testing.T) payment.Session {
	t.Helper()
	sess, replayed, err := r.svc.Create(context.Background(), r.params(payment.PurposeChatStart))
	require.NoError(t, err)
	require.False(t, replayed)
	require.Equal(t, payment.StatusPending, sess.Status)
	return sess
}

// recorder is a Handler counting its calls per session.
type recorder struct {
	mu       sync.Mutex
	paid     map[uuid.UUID]int
	closed   map[uuid.UUID]int
	paidErr  error
	lastPaid payment.Session
}

func newRecorder() *recorder {
	return &recorder{paid: map[uuid.UUID]int{}, closed: map[uuid.UUID]int{}}
}

func (h *recorder) PaymentPaid(ctx context.Context, s payment.Session) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	h.paid[s.ID]++
	h.lastPaid = s
	return h.paidErr
}

func (h *recorder) PaymentClosed(ctx context.Context, s payment.Session) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	h.closed[s.ID]++
	return nil
}

func (h *recorder) failPaid(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.paidErr = err
}

func (h *recorder) paidCalls(id uuid.UUID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.paid[id]
}

func (h *recorder) closedCalls(id uuid.UUID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed[id]
}

func (h *recorder) totalClosed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.closed {
		n += c
	}
	return n
}

type hookCounter struct {
	mu             sync.Mutex
	issued, failed int
}

func (c *hookCounter) add(n *int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*n++
}

func (c *hookCounter) counts() (issued, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issued, c.failed
}

func ptr[T any](v T) *T { return &v }

// parallel runs fn n times at once and waits for all.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}
