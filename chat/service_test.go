package chat_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
)

// rate is a Settings whose chat_message_rate_per_minute a test sets.
type rate struct{ n atomic.Int64 }

func newRate(n int) *rate {
	r := &rate{}
	r.n.Store(int64(n))
	return r
}

func (r *rate) ChatMessageRatePerMinute(context.Context) int { return int(r.n.Load()) }

// bundle is a Service over one backend, with its fake clock, notifier and settings.
type bundle struct {
	svc      *chat.Service
	clock    *clock.Fake
	notifier *pairingtest.Notifier
	rate     *rate
	f        facts
}

func newBundle(t *testing.T, store chat.Store, f facts, deps chat.Deps) *bundle {
	t.Helper()
	b := &bundle{clock: clock.NewFake(t0), notifier: &pairingtest.Notifier{}, rate: newRate(60), f: f}
	if deps.Settings == nil {
		deps.Settings = b.rate
	}
	deps.Notifier = b.notifier
	svc, err := chat.NewService(store, deps, &chat.Config{Clock: b.clock})
	require.NoError(t, err)
	b.svc = svc
	return b
}

// eachService runs fn once per backend with a fresh Service.
func eachService(t *testing.T, fn func(t *testing.T, b *bundle)) {
	t.Helper()
	eachBackend(t, func(t *testing.T, store chat.Store, f facts) { fn(t, newBundle(t, store, f, chat.Deps{})) })
}

func sendAs(b *bundle, s pairing.ChatSession, party pairing.Party, clientMsgID, text string) (chat.Message, error) {
	id := s.ClientID
	if party == pairing.PartyMitra {
		id = s.MitraID
	}
	return b.svc.Send(context.Background(), chat.SendParams{ChatSessionID: s.ID, Sender: party, SenderID: id,
		ClientMsgID: clientMsgID, Text: text})
}

func TestSend_RefusesInvalidInputNamingTheField(t *testing.T) {
	t.Parallel()
	b := newBundle(t, chat.NewMemoryStore(), nil, chat.Deps{})
	ok := chat.SendParams{ChatSessionID: uuid.New(), Sender: pairing.PartyClient, SenderID: uuid.New(), ClientMsgID: "m-1", Text: "hi"}
	for _, tc := range []struct {
		name   string
		change func(p *chat.SendParams)
		field  string
	}{
		{"no session", func(p *chat.SendParams) { p.ChatSessionID = uuid.Nil }, "chat_session_id"},
		{"no sender", func(p *chat.SendParams) { p.Sender = "" }, "sender"},
		{"an operator as sender", func(p *chat.SendParams) { p.Sender = "operator" }, "sender"},
		{"no sender id", func(p *chat.SendParams) { p.SenderID = uuid.Nil }, "sender_id"},
		{"no client_msg_id", func(p *chat.SendParams) { p.ClientMsgID = "" }, "client_msg_id"},
		{"client_msg_id too long", func(p *chat.SendParams) { p.ClientMsgID = strings.Repeat("a", 101) }, "client_msg_id"},
		{"client_msg_id with a space", func(p *chat.SendParams) { p.ClientMsgID = "a b" }, "client_msg_id"},
		{"client_msg_id not ASCII", func(p *chat.SendParams) { p.ClientMsgID = "pesan-é" }, "client_msg_id"},
		{"no text", func(p *chat.SendParams) { p.Text = "" }, "text"},
		{"blank text", func(p *chat.SendParams) { p.Text = " \n\t " }, "text"},
		{"text too long", func(p *chat.SendParams) { p.Text = strings.Repeat("ä", 4001) }, "text"},
		{"text with NUL", func(p *chat.SendParams) { p.Text = "a\x00b" }, "text"},
		{"text not UTF-8", func(p *chat.SendParams) { p.Text = "a\xffb" }, "text"},
	} {
		p := ok
		tc.change(&p)
		_, err := b.svc.Send(t.Context(), p)
		var ve *core.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		require.Equal(t, tc.field, ve.Field, tc.name)
	}
	for _, tc := range []struct {
		name  string
		p     chat.HistoryParams
		field string
	}{
		{"negative after_seq", chat.HistoryParams{ChatSessionID: uuid.New(), Reader: pairing.PartyMitra, ReaderID: uuid.New(), AfterSeq: -1}, "after_seq"},
		{"limit too large", chat.HistoryParams{ChatSessionID: uuid.New(), Reader: pairing.PartyMitra, ReaderID: uuid.New(), Limit: 201}, "limit"},
		{"no reader", chat.HistoryParams{ChatSessionID: uuid.New(), ReaderID: uuid.New()}, "reader"},
	} {
		_, err := b.svc.History(t.Context(), tc.p)
		var ve *core.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		require.Equal(t, tc.field, ve.Field, tc.name)
	}
	_, err := b.svc.MarkRead(t.Context(), chat.ReadParams{ChatSessionID: uuid.New(), Reader: pairing.PartyClient, ReaderID: uuid.New(), Seq: -1})
	var ve *core.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "seq", ve.Field)
}

func TestSend_DeliversToTheOtherPartyInOrderAndAReplayAnswersTheFirstMessage(t *testing.T) {
	t.Parallel()
	eachService(t, func(t *testing.T, b *bundle) {
		s := b.f.startSession(t, t0, 30)
		b.clock.Advance(time.Second)
		longest := strings.Repeat("ä", chat.MaxTextLength)
		first, err := sendAs(b, s, pairing.PartyClient, "c-1", longest)
		require.NoError(t, err)
		require.Equal(t, int64(1), first.Seq)
		require.Equal(t, longest, first.Text, "4000 characters fit, whatever their bytes")
		require.Equal(t, []chat.Flag{}, first.Flags)
		require.Equal(t, t0.Add(time.Second), first.CreatedAt)
		reply, err := sendAs(b, s, pairing.PartyMitra, "m-1", "halo")
		require.NoError(t, err)
		require.Equal(t, int64(2), reply.Seq)

		toMitra := b.notifier.Find(chat.EventMessage, s.MitraID)
		require.Len(t, toMitra, 1)
		require.Nil(t, toMitra[0].ClientID, "the sender does not get its own message")
		require.Equal(t, chat.MessageEvent{ChatSessionID: s.ID, ID: first.ID, Seq: 1, Sender: pairing.PartyClient, Text: longest,
			Flags: []chat.Flag{}, CreatedAt: first.CreatedAt}, toMitra[0].Payload)
		toClient := b.notifier.Find(chat.EventMessage, s.ClientID)
		require.Len(t, toClient, 1)
		require.Equal(t, reply.ID, toClient[0].Payload.(chat.MessageEvent).ID)

		again, err := sendAs(b, s, pairing.PartyClient, "c-1", "a retry")
		require.NoError(t, err)
		require.Equal(t, first, again, "the first message")
		require.Len(t, b.notifier.Find(chat.EventMessage, s.MitraID), 2, "its event again: at least once")

		h, err := b.svc.History(t.Context(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyMitra, ReaderID: s.MitraID})
		require.NoError(t, err)
		require.Len(t, h.Messages, 2, "stored once")
		require.Equal(t, int64(2), h.LastSeq)

		act, err := b.svc.Activity(t.Context(), s.ID)
		require.NoError(t, err)
		require.Equal(t, t0.Add(time.Second), *act.ClientAt, "sending is activity")
		require.Equal(t, t0.Add(time.Second), *act.At(pairing.PartyMitra))
	})
}

func TestSend_OnlyThePartiesOfARunningSession(t *testing.T) {
	t.Parallel()
	eachService(t, func(t *testing.T, b *bundle) {
		s := b.f.startSession(t, t0, 30)
		other := b.f.startSession(t, t0, 30)
		for _, tc := range []struct {
			name  string
			party pairing.Party
			id    uuid.UUID
		}{
			{"another client", pairing.PartyClient, other.ClientID},
			{"another mitra", pairing.PartyMitra, other.MitraID},
			{"the session's mitra claiming to be its client", pairing.PartyClient, s.MitraID},
		} {
			_, err := b.svc.Send(t.Context(), chat.SendParams{ChatSessionID: s.ID, Sender: tc.party, SenderID: tc.id,
				ClientMsgID: "x", Text: "hi"})
			require.ErrorIs(t, err, chat.ErrNotFound, tc.name)
		}
		_, err := sendAs(b, pairing.ChatSession{ID: uuid.New(), ClientID: s.ClientID}, pairing.PartyClient, "x", "hi")
		require.ErrorIs(t, err, chat.ErrNotFound, "an unknown session")

		pending := b.f.pendingSession(t, t0)
		_, err = sendAs(b, pending, pairing.PartyClient, "x", "hi")
		require.ErrorIs(t, err, chat.ErrInvalidState, "waiting for its payment")
		b.f.endSession(t, other.ID, t0.Add(time.Minute))
		_, err = sendAs(b, other, pairing.PartyMitra, "x", "hi")
		require.ErrorIs(t, err, chat.ErrInvalidState, "ended")
		b.clock.Set(t0.Add(30 * time.Minute))
		_, err = sendAs(b, s, pairing.PartyMitra, "x", "hi")
		require.ErrorIs(t, err, chat.ErrInvalidState, "its ends_at passed, though nothing ended it yet")
		require.Empty(t, b.notifier.Events())
	})
}

func TestSend_RateLimitsEachSenderOfASessionOverAnyMinute(t *testing.T) {
	t.Parallel()
	eachService(t, func(t *testing.T, b *bundle) {
		b.rate.n.Store(3)
		s := b.f.startSession(t, t0, 30)
		other := b.f.startSession(t, t0, 30)
		// A third party's calls count against its own key, not the client's.
		for range 5 {
			_, err := b.svc.Send(t.Context(), chat.SendParams{ChatSessionID: s.ID, Sender: pairing.PartyClient, SenderID: other.ClientID,
				ClientMsgID: uuid.NewString(), Text: "spam"})
			require.Error(t, err)
		}
		for i := range 3 {
			b.clock.Advance(10 * time.Second)
			_, err := sendAs(b, s, pairing.PartyClient, uuid.NewString(), "hi")
			require.NoError(t, err, "message %d", i+1)
		}
		b.clock.Advance(10 * time.Second) // 40 s: the first was at 10 s
		_, err := sendAs(b, s, pairing.PartyClient, uuid.NewString(), "one too many")
		var rl *chat.RateLimitedError
		require.ErrorAs(t, err, &rl)
		require.ErrorIs(t, err, chat.ErrRateLimited)
		require.Equal(t, 3, rl.Limit)
		require.Equal(t, time.Minute, rl.Window)
		require.Equal(t, 30*time.Second, rl.RetryAfter)

		_, err = sendAs(b, s, pairing.PartyMitra, uuid.NewString(), "the mitra has its own count")
		require.NoError(t, err)
		_, err = sendAs(b, other, pairing.PartyClient, uuid.NewString(), "another session, its own count")
		require.NoError(t, err)

		b.clock.Advance(rl.RetryAfter)
		_, err = sendAs(b, s, pairing.PartyClient, uuid.NewString(), "fits again")
		require.NoError(t, err)
		b.rate.n.Store(1)
		_, err = sendAs(b, s, pairing.PartyClient, uuid.NewString(), "a lowered rate holds at once")
		require.ErrorIs(t, err, chat.ErrRateLimited)
	})
}

// failingLimiter always fails, as a Valkey that does not answer.
type failingLimiter struct{ calls atomic.Int64 }

func (f *failingLimiter) Allow(context.Context, string, uuid.UUID, int, time.Duration, time.Time) (bool, time.Duration, error) {
	f.calls.Add(1)
	return false, 0, errors.New("valkey: connection refused")
}

func TestSend_CountsOnTheInstanceWhenTheSharedLimiterFails(t *testing.T) {
	t.Parallel()
	store := chat.NewMemoryStore()
	f := newAloneFacts(store)
	broken := &failingLimiter{}
	b := newBundle(t, store, f, chat.Deps{Limiter: broken})
	b.rate.n.Store(2)
	s := f.startSession(t, t0, 30)
	for range 2 {
		_, err := sendAs(b, s, pairing.PartyClient, uuid.NewString(), "hi")
		require.NoError(t, err)
	}
	_, err := sendAs(b, s, pairing.PartyClient, uuid.NewString(), "hi")
	require.ErrorIs(t, err, chat.ErrRateLimited)
	require.EqualValues(t, 3, broken.calls.Load(), "the shared limiter is asked first, every time")
}

// maskDigits is a Screener that hides every digit and flags the message when it did.
type maskDigits struct{ fail bool }

func (m maskDigits) Screen(_ context.Context, s chat.Screening) (chat.Screening, error) {
	if m.fail {
		return s, errors.New("screening is down")
	}
	masked := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, s.Text)
	if masked != s.Text {
		s.Text, s.Flags = masked, append(s.Flags, "contact")
	}
	return s, nil
}

func TestSend_AScreenerMasksAndFlagsBeforeTheStoreAndTheOtherParty(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store chat.Store, f facts) {
		b := newBundle(t, store, f, chat.Deps{Screener: maskDigits{}})
		s := f.startSession(t, t0, 30)
		m, err := sendAs(b, s, pairing.PartyMitra, "m-1", "call me 0812")
		require.NoError(t, err)
		require.Equal(t, "call me ####", m.Text)
		require.Equal(t, []chat.Flag{"contact"}, m.Flags)
		ev := b.notifier.Find(chat.EventMessage, s.ClientID)
		require.Len(t, ev, 1)
		require.Equal(t, "call me ####", ev[0].Payload.(chat.MessageEvent).Text)
		require.Equal(t, []chat.Flag{"contact"}, ev[0].Payload.(chat.MessageEvent).Flags)
		h, err := b.svc.History(t.Context(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyClient, ReaderID: s.ClientID})
		require.NoError(t, err)
		require.Equal(t, []chat.Message{m}, h.Messages, "stored as screened")

		down := newBundle(t, store, f, chat.Deps{Screener: maskDigits{fail: true}})
		_, err = sendAs(down, s, pairing.PartyMitra, "m-2", "hi")
		require.Error(t, err, "a Screener that fails refuses the message")
		h, err = b.svc.History(t.Context(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyClient, ReaderID: s.ClientID})
		require.NoError(t, err)
		require.Len(t, h.Messages, 1, "nothing stored")
	})
}

func TestHistoryAndReceipts_ThePartiesWhileActiveAndForADayAfterTheEnd(t *testing.T) {
	t.Parallel()
	eachService(t, func(t *testing.T, b *bundle) {
		s := b.f.startSession(t, t0, 30)
		for i := range 3 {
			_, err := sendAs(b, s, pairing.PartyClient, uuid.NewString(), "message "+string(rune('a'+i)))
			require.NoError(t, err)
		}
		read := func(seq int64) (chat.ReadMark, error) {
			return b.svc.MarkRead(t.Context(), chat.ReadParams{ChatSessionID: s.ID, Reader: pairing.PartyMitra, ReaderID: s.MitraID, Seq: seq})
		}
		mark, err := read(2)
		require.NoError(t, err)
		require.Equal(t, chat.ReadMark{ChatSessionID: s.ID, Reader: pairing.PartyMitra, Seq: 2}, mark)
		evs := b.notifier.Find(chat.EventMessageRead, s.ClientID)
		require.Len(t, evs, 1, "the client hears its messages were read")
		require.Equal(t, chat.MessageReadEvent{ChatSessionID: s.ID, Reader: pairing.PartyMitra, Seq: 2}, evs[0].Payload)
		require.Nil(t, evs[0].MitraID)
		mark, err = read(1)
		require.NoError(t, err)
		require.Equal(t, int64(2), mark.Seq, "never back")
		require.Len(t, b.notifier.Find(chat.EventMessageRead, s.ClientID), 1, "no event when nothing moved")

		page, err := b.svc.History(t.Context(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyClient, ReaderID: s.ClientID,
			AfterSeq: 1, Limit: 1})
		require.NoError(t, err)
		require.Len(t, page.Messages, 1)
		require.Equal(t, int64(2), page.Messages[0].Seq)
		require.Equal(t, int64(3), page.LastSeq)
		require.Equal(t, int64(2), page.MitraReadSeq)
		require.Zero(t, page.ClientReadSeq)

		_, err = b.svc.History(t.Context(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyClient, ReaderID: uuid.New()})
		require.ErrorIs(t, err, chat.ErrNotFound, "a third party")
		_, err = b.svc.MarkRead(t.Context(), chat.ReadParams{ChatSessionID: s.ID, Reader: pairing.PartyMitra, ReaderID: uuid.New(), Seq: 1})
		require.ErrorIs(t, err, chat.ErrNotFound, "a third party")

		end := t0.Add(10 * time.Minute)
		b.f.endSession(t, s.ID, end)
		b.clock.Set(end.Add(24*time.Hour - time.Microsecond))
		page, err = b.svc.History(t.Context(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyMitra, ReaderID: s.MitraID})
		require.NoError(t, err, "within a day of the end")
		require.Len(t, page.Messages, 3)
		mark, err = read(3)
		require.NoError(t, err, "receipts too")
		require.Equal(t, int64(3), mark.Seq)

		b.clock.Set(end.Add(24 * time.Hour))
		_, err = b.svc.History(t.Context(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyMitra, ReaderID: s.MitraID})
		require.ErrorIs(t, err, chat.ErrInvalidState, "a day after the end")
		_, err = read(3)
		require.ErrorIs(t, err, chat.ErrInvalidState)

		pending := b.f.pendingSession(t, t0)
		_, err = b.svc.History(t.Context(), chat.HistoryParams{ChatSessionID: pending.ID, Reader: pairing.PartyClient, ReaderID: pending.ClientID})
		require.ErrorIs(t, err, chat.ErrInvalidState, "never started")
	})
}

func TestReportActivity_CountsAsTheParty(t *testing.T) {
	t.Parallel()
	eachService(t, func(t *testing.T, b *bundle) {
		s := b.f.startSession(t, t0, 30)
		act, err := b.svc.Activity(t.Context(), s.ID)
		require.NoError(t, err)
		require.Nil(t, act.MitraAt, "nothing yet")
		b.clock.Advance(42 * time.Second)
		require.NoError(t, b.svc.ReportActivity(t.Context(), s.ID, pairing.PartyMitra))
		act, err = b.svc.Activity(t.Context(), s.ID)
		require.NoError(t, err)
		require.Equal(t, t0.Add(42*time.Second), *act.MitraAt)
		require.Nil(t, act.ClientAt)
		require.Zero(t, act.LastSeq)

		require.ErrorIs(t, b.svc.ReportActivity(t.Context(), uuid.New(), pairing.PartyMitra), chat.ErrNotFound)
		var ve *core.ValidationError
		require.ErrorAs(t, b.svc.ReportActivity(t.Context(), s.ID, "operator"), &ve)
		b.f.endSession(t, s.ID, t0.Add(time.Minute))
		require.ErrorIs(t, b.svc.ReportActivity(t.Context(), s.ID, pairing.PartyClient), chat.ErrInvalidState)
		_, err = b.svc.Activity(t.Context(), uuid.New())
		require.ErrorIs(t, err, chat.ErrNotFound)
	})
}
