package chattest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// StoreHarness is one chat.Store under test, with the chat sessions it reads but the
// pairing side owns. RunStoreContract calls the harness constructor once per subtest, from
// parallel subtests.
type StoreHarness struct {
	// Store is the store under test.
	Store chat.Store
	// Twin is a second store over the same data (another instance), or nil.
	Twin chat.Store
	// StartSession starts an active chat session between a new client and a new mitra,
	// started at now and ending minutes later.
	StartSession func(t *testing.T, now time.Time, minutes int) pairing.ChatSession
	// PendingSession creates a chat session waiting for its payment (pending_payment,
	// never started) between a new client and a new mitra.
	PendingSession func(t *testing.T, now time.Time) pairing.ChatSession
	// EndSession ends an active chat session at at (status ended).
	EndSession func(t *testing.T, id uuid.UUID, at time.Time)
	// Report files an open report of session s by its client naming messageIDs (the
	// safety reports the store reads), and returns what resolves it; nil when the store
	// sees no reports (a memory store built alone).
	Report func(t *testing.T, s pairing.ChatSession, messageIDs []uuid.UUID) (resolve func(t *testing.T))
}

// t0 is the base time of the suite.
var t0 = time.Date(2026, 5, 3, 23, 2, 49, 0, time.UTC)

// msg builds a message of party in session s, sent at at.
func msg(s pairing.ChatSession, party pairing.Party, clientMsgID, text string, at time.Time) chat.Message {
	return chat.Message{ID: uuid.New(), ChatSessionID: s.ID, Sender: party, ClientMsgID: clientMsgID, Text: text,
		Flags: []chat.Flag{}, CreatedAt: at}
}

// idOf is the id of party in s.
func idOf(s pairing.ChatSession, party pairing.Party) uuid.UUID {
	if party == pairing.PartyMitra {
		return s.MitraID
	}
	return s.ClientID
}

func send(t *testing.T, st chat.Store, s pairing.ChatSession, m chat.Message) chat.SendResult {
	t.Helper()
	res, err := st.Send(check.Context(t), m, idOf(s, m.Sender))
	check.NoError(t, err)
	return res
}

func stored(t *testing.T, st chat.Store, s pairing.ChatSession, m chat.Message) chat.Message {
	t.Helper()
	res := send(t, st, s, m)
	check.Equal(t, chat.Stored, res.Outcome, "send %s", m.ClientMsgID)
	return res.Message
}

func history(t *testing.T, st chat.Store, s pairing.ChatSession, reader pairing.Party, after int64, limit int) chat.HistoryResult {
	t.Helper()
	res, err := st.History(check.Context(t), chat.HistoryQuery{SessionID: s.ID, Reader: reader, ReaderID: idOf(s, reader),
		AfterSeq: after, Limit: limit})
	check.NoError(t, err)
	return res
}

func seqs(ms []chat.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

// RunStoreContract runs the conformance suite of chat.Store: every implementation
// (chat.NewPostgresStore, chat.NewMemoryStore, a host's own) must pass it. Each behaviour
// is a parallel subtest over its own harness from newHarness.
func RunStoreContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	runRetentionContract(t, newHarness)
	t.Run("SendNumbersTheMessagesOfASessionFromOneAndStoresThemAtPostgresPrecision", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, t0, 30)
		at := t0.Add(1234567891 * time.Nanosecond).In(time.FixedZone("WIB", 7*3600))
		first := msg(s, pairing.PartyClient, "c-1", "halo, kak", at)
		res := send(t, h.Store, s, first)
		check.Equal(t, chat.Stored, res.Outcome)
		want := first
		want.Seq, want.CreatedAt = 1, at.UTC().Truncate(time.Microsecond)
		check.Equal(t, want, res.Message)
		check.True(t, res.Session.Found)
		check.Equal(t, s.ClientID, res.Session.ClientID)
		check.Equal(t, s.MitraID, res.Session.MitraID)
		check.Equal(t, pairing.SessionActive, res.Session.Status)

		reply := msg(s, pairing.PartyMitra, "m-1", "halo juga 👋", t0.Add(2*time.Second))
		check.Equal(t, int64(2), stored(t, h.Store, s, reply).Seq)
		flagged := msg(s, pairing.PartyClient, "c-2", "ada yang ditandai", t0.Add(3*time.Second))
		flagged.Flags = []chat.Flag{"crisis", "contact"}
		got := stored(t, h.Store, s, flagged)
		check.Equal(t, int64(3), got.Seq)
		check.Equal(t, []chat.Flag{"crisis", "contact"}, got.Flags)

		page := history(t, h.Store, s, pairing.PartyMitra, 0, 10)
		check.True(t, page.Session.Found)
		check.Equal(t, []int64{1, 2, 3}, seqs(page.Messages))
		check.Equal(t, want, page.Messages[0], "as it was stored")
		check.Equal(t, "halo juga 👋", page.Messages[1].Text)
		check.Equal(t, pairing.PartyMitra, page.Messages[1].Sender)
		check.Equal(t, []chat.Flag{}, page.Messages[1].Flags, "no flags: empty, not nil")
		check.Equal(t, int64(3), page.Thread.LastSeq)

		thread, err := h.Store.Thread(check.Context(t), s.ID)
		check.NoError(t, err)
		check.Equal(t, int64(3), thread.LastSeq)
		check.Equal(t, t0.Add(3*time.Second), *thread.ClientActiveAt, "a message is its sender's activity")
		check.Equal(t, t0.Add(2*time.Second), *thread.MitraActiveAt)
	})

	t.Run("SendAnswersTheSendersMessageOfAClientMsgIDWhateverTheSessionSinceAndOnlyToItsSender", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, t0, 30)
		first := stored(t, h.Store, s, msg(s, pairing.PartyClient, "same", "first", t0.Add(time.Second)))

		again := msg(s, pairing.PartyClient, "same", "second try, other text", t0.Add(2*time.Second))
		res := send(t, h.Store, s, again)
		check.Equal(t, chat.Replayed, res.Outcome)
		check.Equal(t, first, res.Message, "the first message, as stored")

		// The same client_msg_id from the other party is another message.
		other := stored(t, h.Store, s, msg(s, pairing.PartyMitra, "same", "mitra's", t0.Add(3*time.Second)))
		check.Equal(t, int64(2), other.Seq)

		// A third party learns nothing of it.
		res, err := h.Store.Send(check.Context(t), msg(s, pairing.PartyClient, "same", "probe", t0.Add(4*time.Second)), uuid.New())
		check.NoError(t, err)
		check.Equal(t, chat.NotParty, res.Outcome)
		check.Zero(t, res.Message.ID)

		// Once the session ended a replay still answers; a new message does not.
		h.EndSession(t, s.ID, t0.Add(5*time.Second))
		res = send(t, h.Store, s, msg(s, pairing.PartyClient, "same", "after the end", t0.Add(6*time.Second)))
		check.Equal(t, chat.Replayed, res.Outcome)
		check.Equal(t, first, res.Message)
		res = send(t, h.Store, s, msg(s, pairing.PartyClient, "new", "after the end", t0.Add(6*time.Second)))
		check.Equal(t, chat.NotOpen, res.Outcome)
		check.Equal(t, pairing.SessionEnded, res.Session.Status)
		check.Equal(t, []int64{1, 2}, seqs(history(t, h.Store, s, pairing.PartyClient, 0, 10).Messages))
	})

	t.Run("SendRefusesOtherPartiesAndSessionsThatAreNotRunning", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		s := h.StartSession(t, t0, 30)
		other := h.StartSession(t, t0, 30)
		for _, tc := range []struct {
			name     string
			session  uuid.UUID
			party    pairing.Party
			senderID uuid.UUID
		}{
			{"an unknown session", uuid.New(), pairing.PartyClient, s.ClientID},
			{"another client", s.ID, pairing.PartyClient, other.ClientID},
			{"another mitra", s.ID, pairing.PartyMitra, other.MitraID},
			{"the mitra as the client", s.ID, pairing.PartyClient, s.MitraID},
			{"the client as the mitra", s.ID, pairing.PartyMitra, s.ClientID},
		} {
			m := msg(s, tc.party, "x-"+tc.name, "hi", t0.Add(time.Second))
			m.ChatSessionID = tc.session
			res, err := h.Store.Send(ctx, m, tc.senderID)
			check.NoError(t, err, tc.name)
			check.Equal(t, chat.NotParty, res.Outcome, tc.name)
			check.False(t, res.Session.Found, tc.name)
		}
		// At its ends_at the session is over, though nothing ended it yet.
		res := send(t, h.Store, s, msg(s, pairing.PartyClient, "late", "hi", t0.Add(30*time.Minute)))
		check.Equal(t, chat.NotOpen, res.Outcome, "at ends_at")
		check.Equal(t, pairing.SessionActive, res.Session.Status)

		pending := h.PendingSession(t, t0)
		res = send(t, h.Store, pending, msg(pending, pairing.PartyClient, "early", "hi", t0.Add(time.Second)))
		check.Equal(t, chat.NotOpen, res.Outcome, "pending_payment")

		h.EndSession(t, other.ID, t0.Add(time.Second))
		res = send(t, h.Store, other, msg(other, pairing.PartyMitra, "ended", "hi", t0.Add(2*time.Second)))
		check.Equal(t, chat.NotOpen, res.Outcome, "ended")
		for _, x := range []pairing.ChatSession{s, pending, other} {
			thread, err := h.Store.Thread(ctx, x.ID)
			check.NoError(t, err)
			check.Zero(t, thread.LastSeq, "nothing stored")
			check.Nil(t, thread.ClientActiveAt)
			check.Nil(t, thread.MitraActiveAt)
		}
	})

	t.Run("ConcurrentSendsTakeEverySeqOnceAndStoreEachClientMsgIDOnce", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, t0, 30)
		stores := []chat.Store{h.Store}
		if h.Twin != nil {
			stores = append(stores, h.Twin)
		}
		// 40 sends of 24 distinct messages: 16 are sent twice at once (a retry racing its
		// first attempt, from both parties).
		const distinct = 24
		res := make([]chat.SendResult, 40)
		errs := check.Concurrently(len(res), func(i int) error {
			k := i % distinct
			party := pairing.PartyClient
			if k%2 == 1 {
				party = pairing.PartyMitra
			}
			m := msg(s, party, fmt.Sprintf("race-%d", k), fmt.Sprintf("message %d, attempt %d", k, i/distinct), t0.Add(time.Second))
			var err error
			res[i], err = stores[i%len(stores)].Send(check.Context(t), m, idOf(s, party))
			return err
		})
		byClientMsgID := map[string]uuid.UUID{}
		storedCount := 0
		for i, err := range errs {
			check.NoError(t, err, "send %d", i)
			r := res[i]
			check.True(t, r.Outcome == chat.Stored || r.Outcome == chat.Replayed, "send %d: %s", i, r.Outcome)
			if r.Outcome == chat.Stored {
				storedCount++
			}
			key := string(r.Message.Sender) + "/" + r.Message.ClientMsgID
			if id, ok := byClientMsgID[key]; ok {
				check.Equal(t, id, r.Message.ID, "both attempts of %s answer one message", key)
			}
			byClientMsgID[key] = r.Message.ID
		}
		check.Equal(t, distinct, storedCount, "each message stored once")
		page := history(t, h.Store, s, pairing.PartyClient, 0, 100)
		want := make([]int64, distinct)
		for i := range want {
			want[i] = int64(i + 1)
		}
		check.Equal(t, want, seqs(page.Messages), "seq 1..N, no gap, no repeat")
		check.Equal(t, int64(distinct), page.Thread.LastSeq)
	})

	t.Run("HistoryPagesAfterASeqForThePartiesOnly", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, t0, 30)
		for i := range 5 {
			party := []pairing.Party{pairing.PartyClient, pairing.PartyMitra}[i%2]
			stored(t, h.Store, s, msg(s, party, fmt.Sprint("p-", i), fmt.Sprint("text ", i), t0.Add(time.Duration(i)*time.Second)))
		}
		check.Equal(t, []int64{1, 2}, seqs(history(t, h.Store, s, pairing.PartyClient, 0, 2).Messages))
		check.Equal(t, []int64{3, 4}, seqs(history(t, h.Store, s, pairing.PartyMitra, 2, 2).Messages))
		check.Equal(t, []int64{5}, seqs(history(t, h.Store, s, pairing.PartyClient, 4, 2).Messages))
		last := history(t, h.Store, s, pairing.PartyClient, 5, 2)
		check.True(t, last.Session.Found)
		check.Equal(t, []chat.Message{}, last.Messages)
		check.Equal(t, int64(5), last.Thread.LastSeq)

		quiet := h.StartSession(t, t0, 30)
		empty := history(t, h.Store, quiet, pairing.PartyMitra, 0, 10)
		check.True(t, empty.Session.Found)
		check.Equal(t, []chat.Message{}, empty.Messages)
		check.Equal(t, chat.Thread{}, empty.Thread)

		for _, q := range []chat.HistoryQuery{
			{SessionID: s.ID, Reader: pairing.PartyClient, ReaderID: quiet.ClientID, Limit: 10},
			{SessionID: s.ID, Reader: pairing.PartyMitra, ReaderID: s.ClientID, Limit: 10},
			{SessionID: uuid.New(), Reader: pairing.PartyClient, ReaderID: s.ClientID, Limit: 10},
		} {
			res, err := h.Store.History(check.Context(t), q)
			check.NoError(t, err)
			check.False(t, res.Session.Found, "%+v", q)
			check.Len(t, res.Messages, 0)
		}
	})

	t.Run("MarkReadMovesAPartysMarkUpOnlyAndNeverPastTheLastMessage", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		s := h.StartSession(t, t0, 30)
		mark := func(reader pairing.Party, seq int64, endedAfter time.Time) chat.ReadResult {
			t.Helper()
			res, err := h.Store.MarkRead(ctx, chat.ReadQuery{SessionID: s.ID, Reader: reader, ReaderID: idOf(s, reader), Seq: seq,
				EndedAfter: endedAfter})
			check.NoError(t, err)
			check.True(t, res.Session.Found)
			return res
		}
		check.Equal(t, chat.ReadResult{Session: mark(pairing.PartyClient, 3, t0).Session}, mark(pairing.PartyClient, 3, t0),
			"no message yet: nothing to mark")
		for i := range 3 {
			stored(t, h.Store, s, msg(s, pairing.PartyMitra, fmt.Sprint("r-", i), "text", t0.Add(time.Second)))
		}
		for _, tc := range []struct {
			seq, want int64
			moved     bool
		}{{2, 2, true}, {1, 2, false}, {2, 2, false}, {10, 3, true}, {3, 3, false}} {
			res := mark(pairing.PartyClient, tc.seq, t0)
			check.Equal(t, tc.want, res.Seq, "mark %d", tc.seq)
			check.Equal(t, tc.moved, res.Moved, "mark %d", tc.seq)
		}
		check.Equal(t, int64(0), mark(pairing.PartyMitra, 0, t0).Seq, "each party has its own mark")
		page := history(t, h.Store, s, pairing.PartyMitra, 0, 10)
		check.Equal(t, int64(3), page.Thread.ClientReadSeq)
		check.Zero(t, page.Thread.MitraReadSeq)

		res, err := h.Store.MarkRead(ctx, chat.ReadQuery{SessionID: s.ID, Reader: pairing.PartyMitra, ReaderID: s.ClientID, Seq: 3})
		check.NoError(t, err)
		check.False(t, res.Session.Found, "the client as the mitra")
		check.False(t, res.Moved)

		// After the end: only while it ended after EndedAfter.
		h.EndSession(t, s.ID, t0.Add(time.Minute))
		late := mark(pairing.PartyMitra, 2, t0.Add(time.Minute))
		check.False(t, late.Moved, "ended at EndedAfter: too late")
		check.Equal(t, pairing.SessionEnded, late.Session.Status)
		check.Equal(t, t0.Add(time.Minute), *late.Session.EndedAt)
		inTime := mark(pairing.PartyMitra, 2, t0.Add(time.Minute-time.Microsecond))
		check.True(t, inTime.Moved, "ended after EndedAfter")
		check.Equal(t, int64(2), inTime.Seq)

		pending := h.PendingSession(t, t0)
		res, err = h.Store.MarkRead(ctx, chat.ReadQuery{SessionID: pending.ID, Reader: pairing.PartyClient, ReaderID: pending.ClientID, Seq: 1})
		check.NoError(t, err)
		check.True(t, res.Session.Found)
		check.Nil(t, res.Session.StartedAt)
		check.False(t, res.Moved)
	})

	t.Run("ConcurrentReadMarksNeverMoveBack", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, t0, 30)
		for i := range 20 {
			stored(t, h.Store, s, msg(s, pairing.PartyMitra, fmt.Sprint("n-", i), "text", t0.Add(time.Second)))
		}
		errs := check.Concurrently(20, func(i int) error {
			_, err := h.Store.MarkRead(check.Context(t), chat.ReadQuery{SessionID: s.ID, Reader: pairing.PartyClient,
				ReaderID: s.ClientID, Seq: int64(1 + (i*7)%20), EndedAfter: t0})
			return err
		})
		for _, err := range errs {
			check.NoError(t, err)
		}
		check.Equal(t, int64(20), history(t, h.Store, s, pairing.PartyClient, 20, 1).Thread.ClientReadSeq)
	})

	t.Run("ReportActivityKeepsTheLatestOfAPartyWhileTheSessionRuns", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		s := h.StartSession(t, t0, 30)
		report := func(id uuid.UUID, party pairing.Party, at time.Time) chat.ActivityResult {
			t.Helper()
			res, err := h.Store.ReportActivity(ctx, id, party, at)
			check.NoError(t, err)
			return res
		}
		res := report(s.ID, pairing.PartyMitra, t0.Add(10*time.Second))
		check.True(t, res.Recorded)
		check.True(t, res.Session.Found)
		check.Equal(t, s.MitraID, res.Session.MitraID)
		check.True(t, report(s.ID, pairing.PartyMitra, t0.Add(5*time.Second)).Recorded)
		thread, err := h.Store.Thread(ctx, s.ID)
		check.NoError(t, err)
		check.Equal(t, t0.Add(10*time.Second), *thread.MitraActiveAt, "the later one stays")
		check.Nil(t, thread.ClientActiveAt)
		check.Zero(t, thread.LastSeq, "an activity is not a message")

		// A message after it moves the party's activity; its seq starts at 1 all the same.
		m := stored(t, h.Store, s, msg(s, pairing.PartyMitra, "a-1", "hi", t0.Add(20*time.Second)))
		check.Equal(t, int64(1), m.Seq)
		thread, err = h.Store.Thread(ctx, s.ID)
		check.NoError(t, err)
		check.Equal(t, t0.Add(20*time.Second), *thread.MitraActiveAt)

		check.False(t, report(uuid.New(), pairing.PartyClient, t0).Session.Found, "unknown session")
		past := report(s.ID, pairing.PartyClient, t0.Add(30*time.Minute))
		check.True(t, past.Session.Found)
		check.False(t, past.Recorded, "at its ends_at")
		h.EndSession(t, s.ID, t0.Add(time.Minute))
		ended := report(s.ID, pairing.PartyClient, t0.Add(2*time.Minute))
		check.False(t, ended.Recorded, "ended")
		check.Equal(t, pairing.SessionEnded, ended.Session.Status)
		pending := h.PendingSession(t, t0)
		check.False(t, report(pending.ID, pairing.PartyClient, t0.Add(time.Second)).Recorded, "pending_payment")

		_, err = h.Store.Thread(ctx, uuid.New())
		check.ErrorIs(t, err, chat.ErrNotFound)
		thread, err = h.Store.Thread(ctx, pending.ID)
		check.NoError(t, err)
		check.Equal(t, chat.Thread{}, thread, "a session without a thread")
	})

	t.Run("SendRefusesWhatTheSchemaRefuses", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, t0, 30)
		for _, tc := range []struct {
			name string
			m    chat.Message
		}{
			{"text too long", msg(s, pairing.PartyClient, "long", strings.Repeat("é", chat.MaxTextLength+1), t0.Add(time.Second))},
			{"empty text", msg(s, pairing.PartyClient, "empty", "", t0.Add(time.Second))},
			{"client_msg_id too long", msg(s, pairing.PartyClient, strings.Repeat("x", chat.MaxClientMsgIDLength+1), "hi", t0.Add(time.Second))},
			{"empty client_msg_id", msg(s, pairing.PartyClient, "", "hi", t0.Add(time.Second))},
		} {
			_, err := h.Store.Send(check.Context(t), tc.m, s.ClientID)
			var ve *core.ValidationError
			check.ErrorAs(t, err, &ve, tc.name)
		}
		longest := stored(t, h.Store, s, msg(s, pairing.PartyClient, strings.Repeat("y", chat.MaxClientMsgIDLength),
			strings.Repeat("é", chat.MaxTextLength), t0.Add(time.Second)))
		check.Equal(t, int64(1), longest.Seq, "nothing refused took a seq")
		check.True(t, slices.Equal([]chat.Flag{}, longest.Flags))
	})
}
