package chat

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Retention and erasure (SPEC §25). Messages older than chat_message_retention_days are
// deleted by a sweep (SweepRetention; CHAT_RETENTION_SWEEP_SECONDS, hourly by default), a
// batch at a time, and a client's erasure deletes the messages of its chat sessions
// (DeleteClientMessages: both parties' — the mitra's replies speak of what the client
// told). Neither deletes what an open report holds: every message an open report names
// (safety_reports.message_ids) and every message of a session with an open report, so
// that the operators who read the reported session see it whole. Held messages go once no
// open report holds them, with the retention sweep, at their age. A session's thread (its
// message counter and read marks) stays: a seq is never given twice. Money records are not
// the chat's: nothing else is touched.

// Defaults of the retention.
const (
	// DefaultRetentionDays is the default of the chat_message_retention_days setting.
	DefaultRetentionDays = 90
	// RetentionBatch is how many messages one delete statement removes: short
	// transactions, whatever the backlog.
	RetentionBatch = 1000
	// RetentionMaxBatches bounds the batches of one SweepRetention run (100,000 messages);
	// the next run takes the rest.
	RetentionMaxBatches = 100
)

// RetentionSettings is what the Service asks its Settings, when they have it, of the
// retention; *curhat.RuntimeConfig has it. Settings without it keep messages
// DefaultRetentionDays.
type RetentionSettings interface {
	// ChatMessageRetention is how long messages are kept (chat_message_retention_days).
	ChatMessageRetention(ctx context.Context) time.Duration
}

// RetentionStore is the Store's side of the retention and of a client's erasure. It reads
// safety_reports (the safety reports' table; in memory through the columns its store
// registers) in the statement that deletes, so that a message an open report holds is
// never deleted. It is part of Store.
type RetentionStore interface {
	// DeleteMessagesBefore deletes at most limit messages created before before, oldest
	// first, none of those open reports hold (see above), and returns how many it deleted.
	// Concurrent calls delete each message once.
	DeleteMessagesBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// DeleteClientMessages deletes at most limit messages of the chat sessions of the
	// client clientID — whichever party sent them — none of those open reports hold, and
	// returns how many it deleted.
	DeleteClientMessages(ctx context.Context, clientID uuid.UUID, limit int) (int, error)
}

// retention is how long messages are kept.
func (s *Service) retention(ctx context.Context) time.Duration {
	if r, ok := s.settings.(RetentionSettings); ok {
		if d := r.ChatMessageRetention(ctx); d > 0 {
			return d
		}
	}
	return DefaultRetentionDays * 24 * time.Hour
}

// SweepRetention deletes the messages older than chat_message_retention_days but those
// open reports hold, RetentionBatch at a time and at most RetentionMaxBatches batches a
// run, and returns how many it deleted. Safe on several instances at once.
func (s *Service) SweepRetention(ctx context.Context) (int, error) {
	before := s.now().Add(-s.retention(ctx))
	total := 0
	for range RetentionMaxBatches {
		n, err := s.store.DeleteMessagesBefore(ctx, before, RetentionBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("sweep chat retention: %w", err)
		}
		if n < RetentionBatch || ctx.Err() != nil {
			break
		}
	}
	return total, nil
}

// DeleteClientMessages deletes every message of the client's chat sessions, both parties',
// but those open reports hold (a client's erasure), RetentionBatch at a time, and returns
// how many it deleted. Calling it again deletes what is left (nothing, unless a report
// held some).
func (s *Service) DeleteClientMessages(ctx context.Context, clientID uuid.UUID) (int, error) {
	if clientID == uuid.Nil {
		return 0, core.Invalid("client_id", "is required")
	}
	total := 0
	for {
		n, err := s.store.DeleteClientMessages(ctx, clientID, RetentionBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("delete the messages of client %s: %w", clientID, err)
		}
		if n < RetentionBatch {
			return total, nil
		}
	}
}

// Archive returns a page of a session's messages to one of its parties, as History does,
// but whatever the session's state or age: what a party's export of its own data reads. A
// session of which the reader is not the party is ErrNotFound.
func (s *Service) Archive(ctx context.Context, p HistoryParams) (History, error) {
	if err := p.validate(); err != nil {
		return History{}, err
	}
	if p.Limit == 0 {
		p.Limit = DefaultHistoryLimit
	}
	res, err := s.store.History(ctx, HistoryQuery{SessionID: p.ChatSessionID, Reader: p.Reader, ReaderID: p.ReaderID,
		AfterSeq: p.AfterSeq, Limit: p.Limit})
	if err != nil {
		return History{}, fmt.Errorf("archive of chat session %s: %w", p.ChatSessionID, err)
	}
	if !res.Session.Found {
		return History{}, fmt.Errorf("archive of chat session %s: %w", p.ChatSessionID, ErrNotFound)
	}
	return History{Messages: res.Messages, LastSeq: res.Thread.LastSeq, ClientReadSeq: res.Thread.ClientReadSeq,
		MitraReadSeq: res.Thread.MitraReadSeq}, nil
}
