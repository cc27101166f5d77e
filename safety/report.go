package safety

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// Reports (SPEC §25): either party of a chat session reports the other, with a reason, the
// messages it is about and a note; operators work the open reports oldest due first (each
// due ReportsConfig.DueAfter after it was filed, 72 hours by default), read the session's
// messages, and resolve each report with an outcome that acts on the reported party.

// ReportReason is why a party reports the other.
type ReportReason string

const (
	ReasonHarassment    ReportReason = "harassment"
	ReasonInappropriate ReportReason = "inappropriate"
	ReasonSpam          ReportReason = "spam"
	ReasonSafety        ReportReason = "safety"
	ReasonOther         ReportReason = "other"
)

// ReportReasons are the reasons, in the order the API lists them.
var ReportReasons = []ReportReason{ReasonHarassment, ReasonInappropriate, ReasonSpam, ReasonSafety, ReasonOther}

// Valid reports whether r is one of ReportReasons.
func (r ReportReason) Valid() bool { return slices.Contains(ReportReasons, r) }

// ReportStatus is where a report is in the operators' queue.
type ReportStatus string

const (
	// ReportOpen: waiting for an operator (in the queue, oldest due first).
	ReportOpen ReportStatus = "open"
	// ReportResolved: an operator resolved it with an Outcome; final.
	ReportResolved ReportStatus = "resolved"
)

// Valid reports whether s is ReportOpen or ReportResolved.
func (s ReportStatus) Valid() bool { return s == ReportOpen || s == ReportResolved }

// Outcome is how an operator resolved a report, and what the resolution did.
type Outcome string

const (
	// OutcomeNoAction: nothing is done.
	OutcomeNoAction Outcome = "no_action"
	// OutcomeWarned: the reported party gets a warning event with the resolution's note,
	// and its warnings count grows by one.
	OutcomeWarned Outcome = "warned"
	// OutcomeMitraDeactivated: the reported mitra is deactivated (only a report against a
	// mitra).
	OutcomeMitraDeactivated Outcome = "mitra_deactivated"
	// OutcomeClientSuspended: the reported client is suspended (only a report against a
	// client).
	OutcomeClientSuspended Outcome = "client_suspended"
	// OutcomeRefunded: the session's client gets back in full what is left of what it paid
	// for the session (a report by either party).
	OutcomeRefunded Outcome = "refunded"
)

// Outcomes are the outcomes, in the order the API lists them.
var Outcomes = []Outcome{OutcomeNoAction, OutcomeWarned, OutcomeMitraDeactivated, OutcomeClientSuspended, OutcomeRefunded}

// Valid reports whether o is one of Outcomes.
func (o Outcome) Valid() bool { return slices.Contains(Outcomes, o) }

// fits reports whether o may resolve r: a deactivation needs a reported mitra, a
// suspension a reported client (a *ValidationError on "outcome" otherwise).
func (o Outcome) fits(r Report) error {
	switch {
	case o == OutcomeMitraDeactivated && r.Reported != pairing.PartyMitra:
		return core.Invalid("outcome", "mitra_deactivated needs a report against a mitra; report %s is against its client", r.ID)
	case o == OutcomeClientSuspended && r.Reported != pairing.PartyClient:
		return core.Invalid("outcome", "client_suspended needs a report against a client; report %s is against its mitra", r.ID)
	}
	return nil
}

// Bounds of a report.
const (
	// MaxReportNoteLength bounds a reporter's note and an operator's resolution note, in
	// characters (Unicode code points).
	MaxReportNoteLength = 2000
	// MaxReportMessages bounds the message ids of one report.
	MaxReportMessages = 100
	// RedactedNote replaces the notes of an erased party's reports (RedactReportsOf).
	RedactedNote = "[redacted]"
)

// Bounds of a page of the queue (ReportQuery).
const (
	DefaultReportPageSize = 20
	MaxReportPageSize     = 100
)

// Report is one safety_reports row: one party of a chat session reporting the other.
type Report struct {
	ID            uuid.UUID
	ChatSessionID uuid.UUID
	// Reporter is the party that filed the report and ReporterID its id; Reported is the
	// other party of the session and ReportedID its id, set from the session when the
	// report was filed.
	Reporter   pairing.Party
	ReporterID uuid.UUID
	Reported   pairing.Party
	ReportedID uuid.UUID
	Reason     ReportReason
	// MessageIDs are the session's messages the report is about, in the reporter's order
	// (never nil; empty when none). The retention sweep keeps them while the report is open.
	MessageIDs []uuid.UUID
	// Note is the reporter's own words ("" when none).
	Note   string
	Status ReportStatus
	// DueAt is when an operator should have resolved it: CreatedAt + ReportsConfig.DueAfter.
	DueAt time.Time
	// Outcome, ResolutionNote, ResolvedBy and ResolvedAt are set by the resolution (zero
	// while open). ResolvedBy is the operator's id (uuid.Nil for a host's own bootstrap
	// operator).
	Outcome        Outcome
	ResolutionNote string
	ResolvedBy     *uuid.UUID
	ResolvedAt     *time.Time
	CreatedAt      time.Time
}

// Overdue reports whether r is open past its DueAt at now.
func (r Report) Overdue(now time.Time) bool { return r.Status == ReportOpen && now.After(r.DueAt) }

// FileParams is a report filed by one party of a chat session.
type FileParams struct {
	ChatSessionID uuid.UUID
	// Reporter is the party filing (pairing.PartyClient or pairing.PartyMitra) and
	// ReporterID its id: a session of which ReporterID is not that party is ErrNotFound.
	Reporter   pairing.Party
	ReporterID uuid.UUID
	Reason     ReportReason
	// MessageIDs are optional: at most MaxReportMessages ids of messages of this session,
	// each once.
	MessageIDs []uuid.UUID
	// Note is optional: at most MaxReportNoteLength characters of UTF-8 ("" or only blanks:
	// none).
	Note string
}

func (p FileParams) validate() error {
	switch {
	case p.ChatSessionID == uuid.Nil:
		return core.Invalid("chat_session_id", "is required")
	case p.Reporter != pairing.PartyClient && p.Reporter != pairing.PartyMitra:
		return core.Invalid("reporter", "must be %q or %q, not %q", pairing.PartyClient, pairing.PartyMitra, p.Reporter)
	case p.ReporterID == uuid.Nil:
		return core.Invalid("reporter_id", "is required")
	case !p.Reason.Valid():
		return core.Invalid("reason", "must be one of %s, not %q", reportJoin(ReportReasons), p.Reason)
	case len(p.MessageIDs) > MaxReportMessages:
		return core.Invalid("message_ids", "must name at most %d messages, not %d", MaxReportMessages, len(p.MessageIDs))
	}
	seen := make(map[uuid.UUID]bool, len(p.MessageIDs))
	for _, id := range p.MessageIDs {
		if id == uuid.Nil || seen[id] {
			return core.Invalid("message_ids", "must name each message once, without the nil UUID")
		}
		seen[id] = true
	}
	return validReportNote("note", p.Note, false)
}

// ResolveParams is an operator's resolution of a report.
type ResolveParams struct {
	ReportID uuid.UUID
	Outcome  Outcome
	// Note is required: 1..MaxReportNoteLength characters, not only blanks. A warning
	// (OutcomeWarned) sends it to the reported party.
	Note string
	// OperatorID is the operator resolving (uuid.Nil: a host's bootstrap operator).
	OperatorID uuid.UUID
}

func (p ResolveParams) validate() error {
	switch {
	case p.ReportID == uuid.Nil:
		return core.Invalid("report_id", "is required")
	case !p.Outcome.Valid():
		return core.Invalid("outcome", "must be one of %s, not %q", reportJoin(Outcomes), p.Outcome)
	}
	return validReportNote("note", p.Note, true)
}

// ReportQuery selects a page of the queue.
type ReportQuery struct {
	// Status is required: ReportOpen lists the open reports oldest due first (due_at, then
	// id); ReportResolved the resolved ones newest resolution first.
	Status ReportStatus
	// Page starts at 1 (0: 1); PageSize is 1..MaxReportPageSize (0: DefaultReportPageSize).
	Page, PageSize int
}

func (q ReportQuery) normalize() (ReportQuery, error) {
	if !q.Status.Valid() {
		return q, core.Invalid("status", "must be %q or %q, not %q", ReportOpen, ReportResolved, q.Status)
	}
	switch {
	case q.Page < 0:
		return q, core.Invalid("page", "must be at least 1, not %d", q.Page)
	case q.PageSize < 0 || q.PageSize > MaxReportPageSize:
		return q, core.Invalid("page_size", "must be between 1 and %d, not %d", MaxReportPageSize, q.PageSize)
	}
	q.Page, q.PageSize = max(q.Page, 1), cmp.Or(q.PageSize, DefaultReportPageSize)
	return q, nil
}

// TranscriptQuery asks for a page of a chat session's messages, as an operator reads them.
type TranscriptQuery struct {
	ChatSessionID uuid.UUID
	// AfterSeq: the messages whose Seq is greater (0: from the first).
	AfterSeq int64
	// Limit: at most this many, 1..MaxTranscriptLimit (0: DefaultTranscriptLimit).
	Limit int
}

// Bounds of a transcript page.
const (
	DefaultTranscriptLimit = 100
	MaxTranscriptLimit     = 500
)

func (q TranscriptQuery) normalize() (TranscriptQuery, error) {
	switch {
	case q.ChatSessionID == uuid.Nil:
		return q, core.Invalid("chat_session_id", "is required")
	case q.AfterSeq < 0:
		return q, core.Invalid("after_seq", "must not be negative, not %d", q.AfterSeq)
	case q.Limit < 0 || q.Limit > MaxTranscriptLimit:
		return q, core.Invalid("limit", "must be between 1 and %d, not %d", MaxTranscriptLimit, q.Limit)
	}
	q.Limit = cmp.Or(q.Limit, DefaultTranscriptLimit)
	return q, nil
}

// Errors of the reports. The shared ones are the curhat sentinels, so errors.Is works with
// either name; the HTTP layer maps each to one error code.
var (
	// ErrReportOpen: the reporter has an open report of this session already (one open
	// report per reporter and session). The error is a *ReportOpenError naming it.
	ErrReportOpen = fmt.Errorf("an open report of this chat session by this party exists: %w", core.ErrConflict)
)

// ReportOpenError refuses a second open report of one reporter about one session
// (errors.Is(err, ErrReportOpen)).
type ReportOpenError struct {
	// ReportID is the open report.
	ReportID uuid.UUID
}

func (e *ReportOpenError) Error() string {
	return fmt.Sprintf("%v: report %s is open", ErrReportOpen, e.ReportID)
}

func (e *ReportOpenError) Unwrap() error { return ErrReportOpen }

// UnknownMessagesError lists the ids of a report that are not messages of its session (no
// such message, or one of another session). It is a validation error of message_ids:
// errors.As finds a *core.ValidationError in it.
type UnknownMessagesError struct {
	IDs []uuid.UUID
}

func (e *UnknownMessagesError) Error() string { return e.Unwrap().Error() }

func (e *UnknownMessagesError) Unwrap() error {
	return &core.ValidationError{Field: "message_ids", Reason: "not messages of this chat session: " + strings.Join(reportIDStrings(e.IDs), ", ")}
}

// validReportNote: what Postgres stores in a text column (valid UTF-8, no NUL), at most
// MaxReportNoteLength characters; required: not empty or only blanks.
func validReportNote(field, s string, required bool) error {
	switch {
	case !utf8.ValidString(s):
		return core.Invalid(field, "must be UTF-8 text")
	case strings.IndexByte(s, 0) >= 0:
		return core.Invalid(field, "must not contain NUL characters")
	case required && strings.TrimSpace(s) == "":
		return core.Invalid(field, "is required: 1..%d characters, not only blanks", MaxReportNoteLength)
	}
	if n := utf8.RuneCountInString(s); n > MaxReportNoteLength {
		return core.Invalid(field, "must be at most %d characters, not %d", MaxReportNoteLength, n)
	}
	return nil
}

// reportedParty is the party a report of party is about.
func reportedParty(party pairing.Party) pairing.Party {
	if party == pairing.PartyClient {
		return pairing.PartyMitra
	}
	return pairing.PartyClient
}

// reportJoin lists values for an error message.
func reportJoin[T ~string](values []T) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return strings.Join(out, ", ")
}

func reportIDStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
