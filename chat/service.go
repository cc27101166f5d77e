package chat

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// Service carries the messages of chat sessions between their two parties. It owns the
// rule of who may write to whom and until when:
//
//   - only the session's client and its mitra: anybody else is ErrNotFound, as for an
//     unknown session;
//   - a message only while the session is active and before its ends_at (ErrInvalidState
//     otherwise); the history and read receipts while it is active and for
//     Config.HistoryAfterEnd after its end;
//   - at most chat_message_rate_per_minute messages of a sender in a session in any
//     minute (a *RateLimitedError otherwise).
//
// A host whose own chat system carries the messages calls ReportActivity instead of Send,
// so that the rules that read a party's activity (Activity) work the same.
//
// It is safe for concurrent use, also by several instances over one store: a session's
// messages are numbered by the store, and the rate limit holds across instances when the
// Limiter is shared (NewValkeyRateLimiter).
type Service struct {
	store    Store
	settings Settings
	notifier pairing.Notifier
	limiter  RateLimiter
	// local counts on this instance while the shared limiter fails.
	local    *MemoryRateLimiter
	screener Screener
	flagged  FlagHandler
	cfg      Config
	log      *slog.Logger
	clock    clock.Clock

	lastLimiterWarning atomic.Int64 // unix nanoseconds of the last warning about the limiter
}

// NewService returns a Service over store (NewPostgresStore, or NewMemoryStore). cfg may be
// nil. It fails, naming the field, when store is nil or cfg holds a negative duration.
func NewService(store Store, deps Deps, cfg *Config) (*Service, error) {
	if err := core.FirstError(core.Required("store", store == nil), cfg.validate()); err != nil {
		return nil, fmt.Errorf("chat.NewService: %w", err)
	}
	c := cfg.WithDefaults()
	s := &Service{store: store, settings: deps.Settings, notifier: deps.Notifier, limiter: deps.Limiter,
		local: NewMemoryRateLimiter(), screener: deps.Screener, flagged: deps.Flagged, cfg: c, log: c.Logger, clock: c.Clock}
	if s.settings == nil {
		s.settings = DefaultSettings{}
	}
	if s.notifier == nil {
		s.notifier = pairing.DiscardNotifier{}
	}
	if s.limiter == nil {
		s.limiter = s.local
	}
	return s, nil
}

// Send stores a message of one party of a chat session and sends it to the other party
// (EventMessage), in this order: the input (a *ValidationError naming the field); the
// sender's rate (a *RateLimitedError, nothing stored); the Screener, when there is one;
// then one store call that checks the session and the sender and stores the message with
// the next Seq — or answers the sender's message stored before with the same ClientMsgID
// (a replay: the first message, whatever the session's state since, and its event sent
// again). A session of which the sender is not the party is ErrNotFound; one that is not
// active, or whose ends_at has passed, ErrInvalidState. Sending counts as the sender's
// activity. A message stored with flags goes to Deps.Flagged last; its error is returned
// although the message is stored (sending it again replays it and calls Flagged again).
func (s *Service) Send(ctx context.Context, p SendParams) (Message, error) {
	if err := p.validate(); err != nil {
		return Message{}, err
	}
	now := s.now()
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	if err := s.allow(ctx, p, id, now); err != nil {
		return Message{}, err
	}
	m := Message{ID: id, ChatSessionID: p.ChatSessionID, Sender: p.Sender, ClientMsgID: p.ClientMsgID, Text: p.Text,
		Flags: []Flag{}, CreatedAt: now}
	if s.screener != nil {
		out, err := s.screener.Screen(ctx, Screening{ChatSessionID: p.ChatSessionID, Sender: p.Sender, Text: p.Text, Flags: []Flag{}})
		if err != nil {
			return Message{}, fmt.Errorf("screen a message of chat session %s: %w", p.ChatSessionID, err)
		}
		if err := validText(out.Text); err != nil {
			return Message{}, fmt.Errorf("screen a message of chat session %s: the screened text: %w", p.ChatSessionID, err)
		}
		m.Text, m.Flags = out.Text, append([]Flag{}, out.Flags...)
	}
	res, err := s.store.Send(ctx, m, p.SenderID)
	if err != nil {
		return Message{}, fmt.Errorf("send a message to chat session %s: %w", p.ChatSessionID, err)
	}
	switch res.Outcome {
	case Stored, Replayed:
	case NotParty:
		return Message{}, fmt.Errorf("send a message to chat session %s: %w", p.ChatSessionID, ErrNotFound)
	default:
		return Message{}, fmt.Errorf("send a message: chat session %s is %s%s: %w", p.ChatSessionID, res.Session.Status,
			endedNote(res.Session, now), ErrInvalidState)
	}
	s.notify(ctx, res.Session, other(p.Sender), messageEvent(res.Message))
	if s.flagged != nil && len(res.Message.Flags) > 0 {
		f := Flagged{Message: res.Message, ClientID: res.Session.ClientID, MitraID: res.Session.MitraID, Replayed: res.Outcome == Replayed}
		if err := s.flagged.MessageFlagged(ctx, f); err != nil {
			return Message{}, fmt.Errorf("send a message to chat session %s: stored, but its flags were not acted on (send it again): %w",
				p.ChatSessionID, err)
		}
	}
	return res.Message, nil
}

// allow applies the sender's rate: at most chat_message_rate_per_minute messages of the
// sender in the session in the last RateWindow. The key is the session and the sender's
// id, so that nobody else's calls count towards a sender's limit. When the shared limiter
// fails, this instance's own count decides (the limit then holds per instance).
func (s *Service) allow(ctx context.Context, p SendParams, id uuid.UUID, now time.Time) error {
	limit := s.settings.ChatMessageRatePerMinute(ctx)
	if limit <= 0 {
		limit = DefaultRatePerMinute
	}
	key := p.ChatSessionID.String() + ":" + p.SenderID.String()
	ok, retry, err := s.limiter.Allow(ctx, key, id, limit, RateWindow, now)
	if err != nil && s.limiter != RateLimiter(s.local) {
		s.warnLimiter(ctx, err)
		ok, retry, err = s.local.Allow(ctx, key, id, limit, RateWindow, now)
	}
	if err != nil {
		return fmt.Errorf("rate limit of chat session %s: %w", p.ChatSessionID, err)
	}
	if !ok {
		return &RateLimitedError{Limit: limit, Window: RateWindow, RetryAfter: retry}
	}
	return nil
}

// limiterWarningEvery spaces the warnings of a failing limiter: every send of an outage
// meets it.
const limiterWarningEvery = 10 * time.Second

func (s *Service) warnLimiter(ctx context.Context, err error) {
	now := time.Now().UnixNano()
	last := s.lastLimiterWarning.Load()
	if now-last < int64(limiterWarningEvery) || !s.lastLimiterWarning.CompareAndSwap(last, now) {
		return
	}
	s.log.WarnContext(ctx, "chat rate limiter failed; counting on this instance only until it answers", "err", err)
}

// History returns a page of a session's messages, oldest first, to one of its parties: at
// most p.Limit (DefaultHistoryLimit when 0) whose Seq is above p.AfterSeq, with the
// parties' read marks. A session of which the reader is not the party is ErrNotFound; one
// that never started, or ended more than Config.HistoryAfterEnd ago, ErrInvalidState.
func (s *Service) History(ctx context.Context, p HistoryParams) (History, error) {
	if err := p.validate(); err != nil {
		return History{}, err
	}
	if p.Limit == 0 {
		p.Limit = DefaultHistoryLimit
	}
	res, err := s.store.History(ctx, HistoryQuery{SessionID: p.ChatSessionID, Reader: p.Reader, ReaderID: p.ReaderID,
		AfterSeq: p.AfterSeq, Limit: p.Limit})
	if err != nil {
		return History{}, fmt.Errorf("history of chat session %s: %w", p.ChatSessionID, err)
	}
	now := s.now()
	if err := s.readable(res.Session, p.ChatSessionID, now); err != nil {
		return History{}, fmt.Errorf("history: %w", err)
	}
	return History{Messages: res.Messages, LastSeq: res.Thread.LastSeq, ClientReadSeq: res.Thread.ClientReadSeq,
		MitraReadSeq: res.Thread.MitraReadSeq}, nil
}

// MarkRead records that the reader read every message of the session up to p.Seq (or up
// to the last message, when p.Seq is beyond it) and, when that moved the reader's mark,
// tells the other party (EventMessageRead). A mark never moves back: a lower p.Seq changes
// nothing and returns the mark as it is. The same rules as History: ErrNotFound,
// ErrInvalidState.
func (s *Service) MarkRead(ctx context.Context, p ReadParams) (ReadMark, error) {
	if err := p.validate(); err != nil {
		return ReadMark{}, err
	}
	now := s.now()
	res, err := s.store.MarkRead(ctx, ReadQuery{SessionID: p.ChatSessionID, Reader: p.Reader, ReaderID: p.ReaderID,
		Seq: p.Seq, EndedAfter: now.Add(-s.cfg.HistoryAfterEnd)})
	if err != nil {
		return ReadMark{}, fmt.Errorf("mark chat session %s read: %w", p.ChatSessionID, err)
	}
	if !res.Moved {
		if err := s.readable(res.Session, p.ChatSessionID, now); err != nil {
			return ReadMark{}, fmt.Errorf("mark read: %w", err)
		}
	}
	mark := ReadMark{ChatSessionID: p.ChatSessionID, Reader: p.Reader, Seq: res.Seq}
	if res.Moved {
		s.notify(ctx, res.Session, other(p.Reader), MessageReadEvent{ChatSessionID: p.ChatSessionID, Reader: p.Reader, Seq: res.Seq})
	}
	return mark, nil
}

// ReportActivity records a sign of life of one party of an active chat session, for a host
// whose own chat system carries the messages: the rules that ask whether a party was
// active since the session started (Activity) count it as they count a message. The host
// vouches for the party (no id is checked). An unknown session is ErrNotFound; one that
// is not active, or whose ends_at has passed, ErrInvalidState. One store write a call:
// report at most every few seconds a party.
func (s *Service) ReportActivity(ctx context.Context, sessionID uuid.UUID, party pairing.Party) error {
	if sessionID == uuid.Nil {
		return core.Invalid("chat_session_id", "is required")
	}
	if err := validPartyName("party", party); err != nil {
		return err
	}
	now := s.now()
	res, err := s.store.ReportActivity(ctx, sessionID, party, now)
	if err != nil {
		return fmt.Errorf("report activity in chat session %s: %w", sessionID, err)
	}
	switch {
	case !res.Session.Found:
		return fmt.Errorf("report activity: chat session %s: %w", sessionID, ErrNotFound)
	case !res.Recorded:
		return fmt.Errorf("report activity: chat session %s is %s%s: %w", sessionID, res.Session.Status,
			endedNote(res.Session, now), ErrInvalidState)
	}
	return nil
}

// Activity returns when each party of a session last sent a message or was reported
// active (nil: never since it started), whatever the session's state; ErrNotFound for an
// unknown session.
func (s *Service) Activity(ctx context.Context, sessionID uuid.UUID) (Activity, error) {
	t, err := s.store.Thread(ctx, sessionID)
	if err != nil {
		return Activity{}, fmt.Errorf("activity of chat session %s: %w", sessionID, err)
	}
	return Activity{ClientAt: t.ClientActiveAt, MitraAt: t.MitraActiveAt, LastSeq: t.LastSeq}, nil
}

// readable applies the reading rule to what a store call saw: ErrNotFound when the session
// is not the caller's; ErrInvalidState unless it started and is active or ended within
// HistoryAfterEnd of now.
func (s *Service) readable(sess Session, id uuid.UUID, now time.Time) error {
	switch {
	case !sess.Found:
		return fmt.Errorf("chat session %s: %w", id, ErrNotFound)
	case sess.StartedAt == nil:
		return fmt.Errorf("chat session %s never started (%s): %w", id, sess.Status, ErrInvalidState)
	case sess.Status == pairing.SessionActive:
		return nil
	case sess.EndedAt != nil && sess.EndedAt.After(now.Add(-s.cfg.HistoryAfterEnd)):
		return nil
	}
	return fmt.Errorf("chat session %s ended more than %s ago: %w", id, s.cfg.HistoryAfterEnd, ErrInvalidState)
}

// notify sends payload to one party of the session (best effort, as every event).
func (s *Service) notify(ctx context.Context, sess Session, to pairing.Party, payload pairing.EventPayload) {
	e := pairing.Event{Payload: payload}
	if to == pairing.PartyClient {
		e.ClientID = &sess.ClientID
	} else {
		e.MitraID = &sess.MitraID
	}
	s.notifier.Notify(ctx, e)
}

func endedNote(sess Session, now time.Time) string {
	if sess.Status == pairing.SessionActive && sess.EndsAt != nil && !sess.EndsAt.After(now) {
		return " past its ends_at"
	}
	return ""
}

// now is the clock's time at Postgres precision, so that both stores compare alike.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }
