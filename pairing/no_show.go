package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/payment"
)

// No-show (SPEC §25). With mitra_first_reply_seconds above 0, an active chat session whose
// mitra showed no activity within that long of its start ends mitra_no_show: the client is
// refunded all it paid for the session (as an operator's end with refund full: the chat's
// payment or the carry-over it continues, and its paid extensions), both parties get
// session_ended, and the mitra counts a missed offer (the away rule of missed offers,
// Policies.MissedOffersBeforeAway, which takes it offline at its count).
//
// Activity is what the chat records of the mitra: a message it sent, or an activity a host
// with its own chat reported (chat.Service.ReportActivity) — chat_threads.mitra_active_at.
// Any activity before the end saves the session, also one that came after the deadline
// but before the sweep did: the mitra is talking to the client by then, and ending the chat
// would break it. The end is guarded on the silence in the transaction that ends the
// session, so a message committed before it wins; a message whose statement began before
// the end committed may still be stored in the ended session, as with every end.
//
// SweepNoShows applies the rule; the Client runs it every NO_SHOW_SWEEP_SECONDS (15 s by
// default). A session ends between the wait and the wait plus one interval (and one pass)
// after its start. A sweep rather than a timer per session: the setting is read at every
// pass, so turning it on or changing it applies to the sessions running at once, and
// nothing must be re-armed after a restart or moved to another instance.
//
// The accept that started the session reset the mitra's count of missed offers, so the
// no-show is the first miss of a new run: with mitra_missed_offers_before_away 1 it takes
// the mitra offline at once; with n, after n-1 more misses in a row. A wait longer than a
// session lets it expire first (the mitra then earns it): keep the setting below the
// shortest price tier.

// NoShowSettings is what the Pairer asks its Settings, when they have it, of the no-show
// rule; *curhat.RuntimeConfig has it. Settings without it leave the rule off.
type NoShowSettings interface {
	// MitraFirstReplyTimeout is how long after a session's start its mitra must have shown
	// activity (mitra_first_reply_seconds); 0 turns the rule off.
	MitraFirstReplyTimeout(ctx context.Context) time.Duration
}

// NoShowStore is the Store's part of the no-show rule: it reads what the chat records of a
// mitra's activity (chat_threads, the chat store's table, as the chat store reads
// chat_sessions). It is part of Store.
type NoShowStore interface {
	// SilentSessions returns at most limit active chat sessions that started at or before
	// startedBy and whose mitra has no activity recorded (no chat_threads row, or its
	// mitra_active_at NULL), earliest start first.
	SilentSessions(ctx context.Context, startedBy time.Time, limit int) ([]ChatSession, error)
	// EndSilentSession is EndChatSessionRefunding guarded also on the mitra's silence: a
	// session whose mitra has activity recorded when the end is written is ErrInvalidState,
	// and nothing is written.
	EndSilentSession(ctx context.Context, t SessionTransition, refund *payment.RefundOrder) (ChatSession, []payment.Refund, error)
}

// NoShowCause is the cause under which the refund of a no-show is recorded: one session is
// refunded this way once.
func NoShowCause(sessionID uuid.UUID) string { return "no_show:" + sessionID.String() }

// noShowRefundReason is the reason the refund of a no-show records.
const noShowRefundReason = "the mitra did not reply"

// firstReplyTimeout is mitra_first_reply_seconds (0: the rule is off).
func (p *Pairer) firstReplyTimeout(ctx context.Context) time.Duration {
	if s, ok := p.settings.(NoShowSettings); ok {
		return max(s.MitraFirstReplyTimeout(ctx), 0)
	}
	return 0
}

// SweepNoShows ends mitra_no_show the active sessions whose mitra showed no activity
// within mitra_first_reply_seconds of their start (see above), at most Config.SweepBatch a
// pass, and returns how many it ended. With the setting at 0 it reads nothing. Safe on
// several instances at once: each end is guarded (the session still active, its ends_at
// as read, its mitra still silent), done once.
func (p *Pairer) SweepNoShows(ctx context.Context) (int, error) {
	wait := p.firstReplyTimeout(ctx)
	if wait <= 0 {
		return 0, nil
	}
	silent, err := p.store.SilentSessions(ctx, p.now().Add(-wait), p.cfg.SweepBatch)
	if err != nil {
		return 0, fmt.Errorf("sweep no-shows: %w", err)
	}
	n := 0
	var errs []error
	for _, s := range silent {
		err := p.endNoShow(ctx, s)
		switch {
		case isState(err):
			// Ended meanwhile, or the mitra showed up.
		case err != nil:
			errs = append(errs, fmt.Errorf("chat session %s: %w", s.ID, err))
		default:
			n++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("sweep no-shows: %w", err)
	}
	return n, nil
}

// endNoShow ends s mitra_no_show with its full refund, counts the mitra's miss (which may
// take it offline before the freed slot is offered), and tells both parties.
func (p *Pairer) endNoShow(ctx context.Context, s ChatSession) error {
	ended, refunds, err := p.endRefunding(ctx, s, refundingEnd{
		Reason: EndMitraNoShow, Refund: EndRefundFull, Cause: NoShowCause(s.ID), Why: noShowRefundReason, MitraSilent: true,
	})
	if err != nil {
		return err
	}
	p.log.InfoContext(ctx, "chat session ended: the mitra did not reply", "chat_session_id", ended.ID,
		"mitra_id", ended.MitraID, "refunds", len(refunds))
	if len(refunds) > 0 {
		p.sendEndRefunds(ctx, ended.ID, NoShowCause(ended.ID))
	}
	p.offersMissed(ctx, []uuid.UUID{ended.MitraID})
	p.sessionClosed(ctx, ended)
	return nil
}
