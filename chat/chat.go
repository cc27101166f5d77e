package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// Errors returned by the Service and the stores. The shared ones are the curhat sentinels,
// so errors.Is works with either name. The HTTP layer maps each to one error code.
var (
	// ErrNotFound: no such chat session, or the caller is not its client or its mitra (a
	// third party never learns that a session exists).
	ErrNotFound = core.ErrNotFound
	// ErrInvalidState: the chat session does not allow it now: a message is sent only while
	// the session is active (and before its ends_at); the history is read, and read
	// receipts are sent, while it is active and for Config.HistoryAfterEnd after its end.
	ErrInvalidState = core.ErrInvalidState
	// ErrUnavailable: the store cannot be reached; retry later.
	ErrUnavailable = core.ErrUnavailable
	// ErrRateLimited: the sender sent chat_message_rate_per_minute messages in the last
	// minute; the error is a *RateLimitedError that says when the next one fits.
	ErrRateLimited = errors.New("too many messages")
)

// RateLimitedError refuses a message past the sender's rate (errors.Is(err,
// ErrRateLimited)).
type RateLimitedError struct {
	// Limit is the number of messages allowed in any Window.
	Limit  int
	Window time.Duration
	// RetryAfter is when, from now, the next message fits.
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%v: at most %d a %s; the next fits in %s", ErrRateLimited, e.Limit, e.Window, e.RetryAfter)
}

func (e *RateLimitedError) Unwrap() error { return ErrRateLimited }

// Bounds of a message.
const (
	// MaxTextLength is the longest text, in characters (Unicode code points).
	MaxTextLength = 4000
	// MaxClientMsgIDLength is the longest client_msg_id, in bytes (printable ASCII).
	MaxClientMsgIDLength = 100
)

// Bounds of a history page (HistoryParams.Limit).
const (
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 200
)

// Flag marks a message as a Screener found it (for example "crisis" or "contact" once the
// safety screening exists). Messages carry none until a Screener sets some.
type Flag string

// Message is one chat_messages row: a message of a chat session's client or mitra.
type Message struct {
	ID            uuid.UUID
	ChatSessionID uuid.UUID
	// Seq numbers the session's messages 1, 2, 3, … in the order they were stored, without
	// gaps, both parties' messages in one sequence.
	Seq    int64
	Sender pairing.Party
	// ClientMsgID is the sender's own id of the message: a second send with the same one
	// (by the same sender, in the same session) answers this message.
	ClientMsgID string
	// Text is what was delivered: the text as sent, or as a Screener masked it.
	Text string
	// Flags is never nil (empty when the message has none).
	Flags     []Flag
	CreatedAt time.Time
}

// SendParams is one message to send.
type SendParams struct {
	ChatSessionID uuid.UUID
	// Sender is the party sending (pairing.PartyClient or pairing.PartyMitra) and SenderID
	// its id: a session of which SenderID is not that party is ErrNotFound.
	Sender   pairing.Party
	SenderID uuid.UUID
	// ClientMsgID is required: 1..MaxClientMsgIDLength bytes of printable ASCII, unique per
	// message of the sender in the session (a UUID or a ULID made by the app fits).
	ClientMsgID string
	// Text is required: 1..MaxTextLength characters of UTF-8, not only blanks.
	Text string
}

func (p SendParams) validate() error {
	if err := validParty("sender", p.ChatSessionID, p.Sender, p.SenderID); err != nil {
		return err
	}
	if err := validClientMsgID(p.ClientMsgID); err != nil {
		return err
	}
	return validText(p.Text)
}

// HistoryParams asks for a page of a session's messages.
type HistoryParams struct {
	ChatSessionID uuid.UUID
	// Reader is the party reading and ReaderID its id.
	Reader   pairing.Party
	ReaderID uuid.UUID
	// AfterSeq: the messages whose Seq is greater (0: from the first).
	AfterSeq int64
	// Limit: at most this many, 1..MaxHistoryLimit (0: DefaultHistoryLimit).
	Limit int
}

func (p HistoryParams) validate() error {
	if err := validParty("reader", p.ChatSessionID, p.Reader, p.ReaderID); err != nil {
		return err
	}
	switch {
	case p.AfterSeq < 0:
		return core.Invalid("after_seq", "must not be negative, not %d", p.AfterSeq)
	case p.Limit < 0 || p.Limit > MaxHistoryLimit:
		return core.Invalid("limit", "must be between 1 and %d, not %d", MaxHistoryLimit, p.Limit)
	}
	return nil
}

// History is a page of a session's messages, oldest first, and where each party read up
// to.
type History struct {
	Messages []Message
	// LastSeq is the Seq of the session's last message (0: none yet).
	LastSeq int64
	// ClientReadSeq and MitraReadSeq are the parties' read marks: every message whose Seq
	// is at most the mark was read by that party.
	ClientReadSeq, MitraReadSeq int64
}

// ReadParams is a read receipt: the reader read every message up to Seq.
type ReadParams struct {
	ChatSessionID uuid.UUID
	Reader        pairing.Party
	ReaderID      uuid.UUID
	// Seq is at least 0. A mark never moves back, and never past the last message.
	Seq int64
}

func (p ReadParams) validate() error {
	if err := validParty("reader", p.ChatSessionID, p.Reader, p.ReaderID); err != nil {
		return err
	}
	if p.Seq < 0 {
		return core.Invalid("seq", "must not be negative, not %d", p.Seq)
	}
	return nil
}

// ReadMark is a party's read mark after a read receipt.
type ReadMark struct {
	ChatSessionID uuid.UUID
	Reader        pairing.Party
	// Seq: every message up to it was read by Reader.
	Seq int64
}

// Activity is when each party of a session last showed a sign of life: a message sent, or
// an activity reported by a host whose own chat carries the messages (ReportActivity).
// Nil: none since the session started.
type Activity struct {
	ClientAt, MitraAt *time.Time
	// LastSeq is the Seq of the session's last message (0: none).
	LastSeq int64
}

// At returns the last activity of party (nil: none).
func (a Activity) At(party pairing.Party) *time.Time {
	if party == pairing.PartyMitra {
		return a.MitraAt
	}
	return a.ClientAt
}

func validParty(field string, sessionID uuid.UUID, party pairing.Party, id uuid.UUID) error {
	switch {
	case sessionID == uuid.Nil:
		return core.Invalid("chat_session_id", "is required")
	case party != pairing.PartyClient && party != pairing.PartyMitra:
		return core.Invalid(field, "must be %q or %q, not %q", pairing.PartyClient, pairing.PartyMitra, party)
	case id == uuid.Nil:
		return core.Invalid(field+"_id", "is required")
	}
	return nil
}

func validPartyName(field string, party pairing.Party) error {
	if party != pairing.PartyClient && party != pairing.PartyMitra {
		return core.Invalid(field, "must be %q or %q, not %q", pairing.PartyClient, pairing.PartyMitra, party)
	}
	return nil
}

// validClientMsgID: an app's id of a message, compared byte for byte.
func validClientMsgID(s string) error {
	if s == "" || len(s) > MaxClientMsgIDLength {
		return core.Invalid("client_msg_id", "must be 1 to %d characters, not %d", MaxClientMsgIDLength, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return core.Invalid("client_msg_id", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// validText: what Postgres stores in a text column (no NUL, valid UTF-8), 1..MaxTextLength
// characters, not only blanks.
func validText(s string) error {
	switch {
	case !utf8.ValidString(s):
		return core.Invalid("text", "must be UTF-8 text")
	case strings.IndexByte(s, 0) >= 0:
		return core.Invalid("text", "must not contain NUL characters")
	case strings.TrimSpace(s) == "":
		return core.Invalid("text", "must not be empty or only blanks")
	}
	if n := utf8.RuneCountInString(s); n > MaxTextLength {
		return core.Invalid("text", "must be at most %d characters, not %d", MaxTextLength, n)
	}
	return nil
}

// other is the party a message of party goes to.
func other(party pairing.Party) pairing.Party {
	if party == pairing.PartyClient {
		return pairing.PartyMitra
	}
	return pairing.PartyClient
}
