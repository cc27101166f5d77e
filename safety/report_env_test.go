package safety_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
	"github.com/curhat/curhat/safety/safetytest"
)

// The reports' backends: a report store with the chat sessions and messages it reads,
// written the way each backend holds them.

func reportCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// reportFacts writes what the pairing and chat sides own.
type reportFacts interface {
	// startSession creates an active 30-minute session between a new client and a new
	// mitra, started at now.
	startSession(t testing.TB, now time.Time) pairing.ChatSession
	// endSession ends an active session at at.
	endSession(t testing.TB, id uuid.UUID, at time.Time)
	// chat is the chat store over the same data (messages are sent through it).
	chat() chat.Store
}

// memReportFacts writes through the pairing, availability and chat memory stores, over one
// database with the report store, as curhat.NewMemoryClient builds it.
type memReportFacts struct {
	pairs  *pairing.MemoryStore
	mitras *availability.MemoryStore
	chats  *chat.MemoryStore
}

func (f *memReportFacts) startSession(t testing.TB, now time.Time) pairing.ChatSession {
	t.Helper()
	ctx := reportCtx(t)
	start := now.UTC().Truncate(time.Microsecond)
	client, err := f.pairs.CreateClient(ctx, pairing.Client{ID: uuid.New(), DisplayName: "client", IsActive: true, CreatedAt: start})
	require.NoError(t, err)
	m, err := f.mitras.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "mitra"})
	require.NoError(t, err)
	p, err := f.pairs.CreatePairing(ctx, pairing.Pairing{
		ID: uuid.New(), ClientID: client.ID, Type: pairing.TypeBlast, Status: pairing.StatusMatched, Minutes: 30,
		MatchedMitraID: &m.ID, CreatedAt: start, UpdatedAt: start,
	})
	require.NoError(t, err)
	s := pairing.ChatSession{ID: uuid.New(), ClientID: client.ID, MitraID: m.ID, Status: pairing.SessionActive, Minutes: 30,
		PairingID: p.ID, StartedAt: &start, EndsAt: new(start.Add(30 * time.Minute)), CreatedAt: start, UpdatedAt: start}
	f.pairs.PutChatSession(s)
	return s
}

func (f *memReportFacts) endSession(t testing.TB, id uuid.UUID, at time.Time) {
	t.Helper()
	_, err := f.pairs.EndChatSession(reportCtx(t), pairing.SessionTransition{
		ID: id, From: []pairing.SessionStatus{pairing.SessionActive}, To: pairing.SessionEnded,
		Reason: pairing.EndClientEnded, Now: at.UTC().Truncate(time.Microsecond),
	})
	require.NoError(t, err)
}

func (f *memReportFacts) chat() chat.Store { return f.chats }

// pgReportFacts inserts clients, mitras, pairings and chat sessions with SQL, as the
// pairing package would, and sends messages through the chat Postgres store.
type pgReportFacts struct {
	pool  *pgxpool.Pool
	chats *chat.PostgresStore
}

func (f pgReportFacts) startSession(t testing.TB, now time.Time) pairing.ChatSession {
	t.Helper()
	ctx := reportCtx(t)
	var client, mitra, pairingID uuid.UUID
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO clients (display_name) VALUES ('client') RETURNING id`).Scan(&client))
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO mitras (display_name) VALUES ('mitra') RETURNING id`).Scan(&mitra))
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO pairings (client_id, type, status, minutes, matched_mitra_id)
		VALUES ($1, 'blast', 'matched', 30, $2) RETURNING id`, client, mitra).Scan(&pairingID))
	start := now.UTC().Truncate(time.Microsecond)
	s := pairing.ChatSession{ClientID: client, MitraID: mitra, Status: pairing.SessionActive, Minutes: 30, PairingID: pairingID,
		StartedAt: &start, EndsAt: new(start.Add(30 * time.Minute))}
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO chat_sessions (client_id, mitra_id, status, minutes, started_at, ends_at, pairing_id)
		VALUES ($1, $2, 'active', 30, $3, $4, $5) RETURNING id`, client, mitra, s.StartedAt, s.EndsAt, pairingID).Scan(&s.ID))
	return s
}

func (f pgReportFacts) endSession(t testing.TB, id uuid.UUID, at time.Time) {
	t.Helper()
	tag, err := f.pool.Exec(reportCtx(t), `UPDATE chat_sessions SET status = 'ended', end_reason = 'client_ended',
		ended_at = $2, updated_at = $2 WHERE id = $1 AND status = 'active'`, id, at)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

func (f pgReportFacts) chat() chat.Store { return f.chats }

// reportBackend opens a report store with its facts.
type reportBackend struct {
	name string
	open func(t testing.TB) (safety.ReportStore, reportFacts)
}

var reportBackends = []reportBackend{
	{"memory", func(testing.TB) (safety.ReportStore, reportFacts) {
		db := memdb.New()
		return safety.NewMemoryReportStoreIn(db), &memReportFacts{pairs: pairing.NewMemoryStoreIn(db),
			mitras: availability.NewMemoryStoreIn(db), chats: chat.NewMemoryStoreIn(db)}
	}},
	{"postgres", func(t testing.TB) (safety.ReportStore, reportFacts) {
		db := testenv.Postgres(t)
		return safety.NewPostgresReportStore(db.Pool), pgReportFacts{pool: db.Pool, chats: chat.NewPostgresStore(db.Pool)}
	}},
}

// sendMessage stores the next message of party in s, sent at at.
func sendMessage(t testing.TB, f reportFacts, s pairing.ChatSession, party pairing.Party, at time.Time) chat.Message {
	t.Helper()
	sender := s.ClientID
	if party == pairing.PartyMitra {
		sender = s.MitraID
	}
	res, err := f.chat().Send(reportCtx(t), chat.Message{ID: uuid.New(), ChatSessionID: s.ID, Sender: party,
		ClientMsgID: uuid.NewString(), Text: "halo", Flags: []chat.Flag{}, CreatedAt: at.UTC().Truncate(time.Microsecond)}, sender)
	require.NoError(t, err)
	require.Equal(t, chat.Stored, res.Outcome)
	return res.Message
}

func TestReportStoreContract(t *testing.T) {
	t.Parallel()
	for _, b := range reportBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			safetytest.RunReportStoreContract(t, func(t *testing.T) safetytest.ReportStoreHarness {
				store, f := b.open(t)
				return safetytest.ReportStoreHarness{
					Store:        store,
					StartSession: func(t *testing.T, now time.Time) pairing.ChatSession { return f.startSession(t, now) },
					Message: func(t *testing.T, s pairing.ChatSession, party pairing.Party, at time.Time) chat.Message {
						return sendMessage(t, f, s, party, at)
					},
				}
			})
		})
	}
}
