package chat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/chat/chattest"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// t0 is the fake clock's start.
var t0 = time.Date(2026, 5, 3, 23, 2, 49, 0, time.UTC)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// facts writes the chat sessions the pairing side owns, the way the backend needs them.
type facts interface {
	// startSession creates an active session between a new client and a new mitra, started
	// at now and ending minutes later.
	startSession(t testing.TB, now time.Time, minutes int) pairing.ChatSession
	// pendingSession creates a pending_payment session (never started).
	pendingSession(t testing.TB, now time.Time) pairing.ChatSession
	// endSession ends an active session at at.
	endSession(t testing.TB, id uuid.UUID, at time.Time)
}

// reportFacts files safety reports where the store reads them (memory-alone has none).
type reportFacts interface {
	// report files an open report of s by its client naming messageIDs; resolve resolves it.
	report(t testing.TB, s pairing.ChatSession, messageIDs []uuid.UUID) (resolve func(t testing.TB))
}

// memFacts writes sessions through the pairing and availability memory stores, over one
// database with the chat store, as curhat.NewMemoryClient builds it.
type memFacts struct {
	pairs   *pairing.MemoryStore
	mitras  *availability.MemoryStore
	reports *safety.MemoryReportStore
}

func openMemory() (*chat.MemoryStore, *chat.MemoryStore, *memFacts) {
	db := memdb.New()
	store := chat.NewMemoryStoreIn(db)
	return store, chat.NewMemoryStoreIn(db), &memFacts{pairs: pairing.NewMemoryStoreIn(db), mitras: availability.NewMemoryStoreIn(db),
		reports: safety.NewMemoryReportStoreIn(db)}
}

func (f *memFacts) session(t testing.TB, now time.Time, minutes int, status pairing.SessionStatus) pairing.ChatSession {
	t.Helper()
	ctx := ctxT(t)
	start := now.UTC().Truncate(time.Microsecond)
	client, err := f.pairs.CreateClient(ctx, pairing.Client{ID: uuid.New(), DisplayName: "client", CreatedAt: start})
	require.NoError(t, err)
	m, err := f.mitras.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "mitra"})
	require.NoError(t, err)
	p, err := f.pairs.CreatePairing(ctx, pairing.Pairing{
		ID: uuid.New(), ClientID: client.ID, Type: pairing.TypeBlast, Status: pairing.StatusMatched, Minutes: max(minutes, 1),
		MatchedMitraID: &m.ID, CreatedAt: start, UpdatedAt: start,
	})
	require.NoError(t, err)
	s := pairing.ChatSession{ID: uuid.New(), ClientID: client.ID, MitraID: m.ID, Status: status, Minutes: max(minutes, 1),
		PairingID: p.ID, CreatedAt: start, UpdatedAt: start}
	if status == pairing.SessionActive {
		s.StartedAt, s.EndsAt = &start, new(start.Add(time.Duration(minutes)*time.Minute))
	}
	f.pairs.PutChatSession(s)
	return s
}

func (f *memFacts) startSession(t testing.TB, now time.Time, minutes int) pairing.ChatSession {
	return f.session(t, now, minutes, pairing.SessionActive)
}

func (f *memFacts) pendingSession(t testing.TB, now time.Time) pairing.ChatSession {
	return f.session(t, now, 30, pairing.SessionPendingPayment)
}

func (f *memFacts) endSession(t testing.TB, id uuid.UUID, at time.Time) {
	t.Helper()
	_, err := f.pairs.EndChatSession(ctxT(t), pairing.SessionTransition{
		ID: id, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
		Reason: pairing.EndClientEnded, Now: at.UTC().Truncate(time.Microsecond),
	})
	require.NoError(t, err)
}

func (f *memFacts) report(t testing.TB, s pairing.ChatSession, messageIDs []uuid.UUID) func(t testing.TB) {
	t.Helper()
	at := time.Now().UTC().Truncate(time.Microsecond)
	res, err := f.reports.FileReport(ctxT(t), safety.Report{ID: uuid.New(), ChatSessionID: s.ID, Reporter: pairing.PartyClient,
		ReporterID: s.ClientID, Reason: safety.ReasonOther, MessageIDs: messageIDs, DueAt: at.Add(72 * time.Hour), CreatedAt: at})
	require.NoError(t, err)
	require.Equal(t, safety.Filed, res.Outcome)
	return func(t testing.TB) {
		_, err := f.reports.ResolveReport(ctxT(t), safety.Resolution{ReportID: res.Report.ID, Outcome: safety.OutcomeNoAction,
			Note: "done", OperatorID: uuid.New(), At: at})
		require.NoError(t, err)
	}
}

// aloneFacts writes sessions straight into a chat store built alone (NewMemoryStore).
type aloneFacts struct {
	store    *chat.MemoryStore
	mu       sync.Mutex
	sessions map[uuid.UUID]pairing.ChatSession
}

func newAloneFacts(store *chat.MemoryStore) *aloneFacts {
	return &aloneFacts{store: store, sessions: map[uuid.UUID]pairing.ChatSession{}}
}

func (f *aloneFacts) put(s pairing.ChatSession) pairing.ChatSession {
	f.mu.Lock()
	f.sessions[s.ID] = s
	f.mu.Unlock()
	f.store.PutSession(s)
	return s
}

func (f *aloneFacts) session(now time.Time, minutes int, status pairing.SessionStatus) pairing.ChatSession {
	start := now.UTC().Truncate(time.Microsecond)
	s := pairing.ChatSession{ID: uuid.New(), ClientID: uuid.New(), MitraID: uuid.New(), Status: status, Minutes: max(minutes, 1),
		PairingID: uuid.New(), CreatedAt: start, UpdatedAt: start}
	if status == pairing.SessionActive {
		s.StartedAt, s.EndsAt = &start, new(start.Add(time.Duration(minutes)*time.Minute))
	}
	return f.put(s)
}

func (f *aloneFacts) startSession(_ testing.TB, now time.Time, minutes int) pairing.ChatSession {
	return f.session(now, minutes, pairing.SessionActive)
}

func (f *aloneFacts) pendingSession(_ testing.TB, now time.Time) pairing.ChatSession {
	return f.session(now, 30, pairing.SessionPendingPayment)
}

func (f *aloneFacts) endSession(t testing.TB, id uuid.UUID, at time.Time) {
	t.Helper()
	f.mu.Lock()
	s, ok := f.sessions[id]
	f.mu.Unlock()
	require.True(t, ok, "session %s", id)
	at = at.UTC().Truncate(time.Microsecond)
	s.Status, s.EndReason, s.EndedAt, s.UpdatedAt = pairing.SessionEnded, pairing.EndClientEnded, &at, at
	f.put(s)
}

// pgFacts inserts clients, mitras, pairings and chat sessions with SQL, as the pairing
// package would.
type pgFacts struct{ pool *pgxpool.Pool }

func (f pgFacts) session(t testing.TB, now time.Time, minutes int, status string) pairing.ChatSession {
	t.Helper()
	ctx := ctxT(t)
	var client, mitra, pairingID uuid.UUID
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO clients (display_name) VALUES ('client') RETURNING id`).Scan(&client))
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO mitras (display_name) VALUES ('mitra') RETURNING id`).Scan(&mitra))
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
		VALUES ($1, 'blast', 'matched', $2, $3) RETURNING id`, client, max(minutes, 1), mitra).Scan(&pairingID))
	start := now.UTC().Truncate(time.Microsecond)
	s := pairing.ChatSession{ClientID: client, MitraID: mitra, Status: pairing.SessionStatus(status), Minutes: max(minutes, 1),
		PairingID: pairingID}
	var started, ends *time.Time
	if status == "active" {
		started, ends = &start, new(start.Add(time.Duration(minutes)*time.Minute))
		s.StartedAt, s.EndsAt = started, ends
	}
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, started_at, ends_at, pairing_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, client, mitra, status, max(minutes, 1), started, ends, pairingID).Scan(&s.ID))
	return s
}

func (f pgFacts) startSession(t testing.TB, now time.Time, minutes int) pairing.ChatSession {
	return f.session(t, now, minutes, "active")
}

func (f pgFacts) pendingSession(t testing.TB, now time.Time) pairing.ChatSession {
	return f.session(t, now, 30, "pending_payment")
}

func (f pgFacts) endSession(t testing.TB, id uuid.UUID, at time.Time) {
	t.Helper()
	tag, err := f.pool.Exec(ctxT(t), `UPDATE chat_sessions SET status = 'ended', end_reason = 'client_ended',
		ended_at = $2, updated_at = $2 WHERE id = $1 AND status = 'active'`, id, at)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

func (f pgFacts) report(t testing.TB, s pairing.ChatSession, messageIDs []uuid.UUID) func(t testing.TB) {
	t.Helper()
	id := uuid.New()
	_, err := f.pool.Exec(ctxT(t), `INSERT INTO safety_reports (id, chat_session_id, reporter, reporter_id, reported, reported_id,
		reason, message_ids, status, due_at, created_at) VALUES ($1, $2, 'client', $3, 'mitra', $4, 'other', $5, 'open', now() + interval '72 hours', now())`,
		id, s.ID, s.ClientID, s.MitraID, messageIDs)
	require.NoError(t, err)
	return func(t testing.TB) {
		_, err := f.pool.Exec(ctxT(t), `UPDATE safety_reports SET status = 'resolved', outcome = 'no_action', resolution_note = 'done',
			resolved_at = now() WHERE id = $1`, id)
		require.NoError(t, err)
	}
}

// backend opens a store (and a twin over the same data) with its facts.
type backend struct {
	name string
	open func(t *testing.T) (store, twin chat.Store, f facts)
}

var backends = []backend{
	{"memory", func(*testing.T) (chat.Store, chat.Store, facts) {
		s, twin, f := openMemory()
		return s, twin, f
	}},
	{"memory-alone", func(*testing.T) (chat.Store, chat.Store, facts) {
		s := chat.NewMemoryStore()
		return s, nil, newAloneFacts(s)
	}},
	{"postgres", func(t *testing.T) (chat.Store, chat.Store, facts) {
		db := testenv.Postgres(t)
		return chat.NewPostgresStore(db.Pool), chat.NewPostgresStore(db.Pool), pgFacts{db.Pool}
	}},
}

// harness hands a store and its facts to the contract suite.
func harness(store, twin chat.Store, f facts) chattest.StoreHarness {
	h := chattest.StoreHarness{
		Store: store, Twin: twin,
		StartSession: func(t *testing.T, now time.Time, minutes int) pairing.ChatSession {
			return f.startSession(t, now, minutes)
		},
		PendingSession: func(t *testing.T, now time.Time) pairing.ChatSession { return f.pendingSession(t, now) },
		EndSession:     func(t *testing.T, id uuid.UUID, at time.Time) { f.endSession(t, id, at) },
	}
	if r, ok := f.(reportFacts); ok {
		h.Report = func(t *testing.T, s pairing.ChatSession, messageIDs []uuid.UUID) func(t *testing.T) {
			resolve := r.report(t, s, messageIDs)
			return func(t *testing.T) { resolve(t) }
		}
	}
	return h
}

// eachBackend runs fn once per backend, in parallel subtests.
func eachBackend(t *testing.T, fn func(t *testing.T, store chat.Store, f facts)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store, _, f := b.open(t)
			fn(t, store, f)
		})
	}
}
