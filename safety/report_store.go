package safety

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// ReportStore is the durable side of the reports: the safety_reports table and each
// party's warnings count (warnings_count of mitras and clients in Postgres). It reads
// chat_sessions and chat_messages, which the pairing and chat sides own, in the same
// statement as each write, so that a report is checked and stored in one round trip.
// NewPostgresReportStore is the Postgres implementation; NewMemoryReportStoreIn an
// in-memory one over the memory client's database that behaves the same. Every call is
// atomic, so several instances may share one store. safetytest.RunReportStoreContract pins
// the rules below.
//
// The retention sweep and the erasure of a client read and change the reports through it
// too (OpenReportMessageIDs, OpenReportSessionIDs, RedactReportsOf).
type ReportStore interface {
	// FileReport stores r (every field set but Reported and ReportedID, Status open) in
	// one atomic step, if r's session exists, r.ReporterID is its party r.Reporter, every
	// id of r.MessageIDs is a message of the session, and the reporter has no open report
	// of the session: Reported and ReportedID become the session's other party. Otherwise
	// nothing is written, and the result says why (checked in this order: NotParty,
	// UnknownMessages with the ids, AlreadyOpen with the open report) — also when two
	// reports of one reporter race: one is filed, the other is AlreadyOpen.
	FileReport(ctx context.Context, r Report) (FileResult, error)
	// Report returns the report, or ErrNotFound.
	Report(ctx context.Context, id uuid.UUID) (Report, error)
	// ListReports returns one page of the reports of q.Status (normalized: Page ≥ 1,
	// PageSize ≥ 1) in the queue's order — open: due_at, then id; resolved: resolved_at
	// newest first, then id — and how many have that status.
	ListReports(ctx context.Context, q ReportQuery) ([]Report, int, error)
	// ResolveReport marks the report resolved as res says, if it is open, and — when
	// res.Outcome is OutcomeWarned — adds one to the reported party's warnings count, in
	// the same atomic step (Resolved: this call did it). A report resolved already is
	// returned as it is, unchanged (Resolved false); an unknown one is ErrNotFound.
	ResolveReport(ctx context.Context, res Resolution) (ResolveResult, error)
	// Transcript returns the chat session's parties and at most q.Limit of its messages
	// whose Seq is above q.AfterSeq, oldest first, whatever the session's state; an unknown
	// session is ErrNotFound.
	Transcript(ctx context.Context, q TranscriptQuery) (Transcript, error)
	// WarningsCounts returns the warnings count of each id of party (0 for an id without
	// warnings, or unknown).
	WarningsCounts(ctx context.Context, party pairing.Party, ids []uuid.UUID) (map[uuid.UUID]int, error)
	// OpenReportMessageIDs returns every message id an open report names (each once, in
	// no order): the messages the retention sweep keeps.
	OpenReportMessageIDs(ctx context.Context) ([]uuid.UUID, error)
	// OpenReportSessionIDs returns every chat session with an open report (each once, in
	// no order).
	OpenReportSessionIDs(ctx context.Context) ([]uuid.UUID, error)
	// RedactReportsOf replaces with RedactedNote the notes (the reporter's and the
	// resolution's, where set) of every report that party id filed or is the reported
	// party of — the erasure of a party's personal data keeps the reports, their reasons
	// and outcomes — and returns how many reports it changed (0 on a second call).
	RedactReportsOf(ctx context.Context, party pairing.Party, id uuid.UUID) (int, error)
}

// FileOutcome says what FileReport did.
type FileOutcome int

const (
	// Filed: the report is stored.
	Filed FileOutcome = iota + 1
	// NotParty: no such session, or the reporter is not its party; nothing changed.
	NotParty
	// UnknownMessages: some message ids are not messages of the session
	// (FileResult.UnknownMessageIDs); nothing changed.
	UnknownMessages
	// AlreadyOpen: the reporter has an open report of the session (FileResult.Report);
	// nothing changed.
	AlreadyOpen
)

func (o FileOutcome) String() string {
	switch o {
	case Filed:
		return "filed"
	case NotParty:
		return "not_party"
	case UnknownMessages:
		return "unknown_messages"
	case AlreadyOpen:
		return "already_open"
	}
	return "unknown"
}

// FileResult is the outcome of FileReport: the report filed (Filed) or the open one
// (AlreadyOpen), or the ids that are not the session's messages (UnknownMessages, in the
// report's order).
type FileResult struct {
	Outcome           FileOutcome
	Report            Report
	UnknownMessageIDs []uuid.UUID
}

// Resolution is the store's write of a resolution.
type Resolution struct {
	ReportID   uuid.UUID
	Outcome    Outcome
	Note       string
	OperatorID uuid.UUID
	At         time.Time
}

// ResolveResult is the outcome of ResolveReport: the report after the call, and whether
// this call resolved it.
type ResolveResult struct {
	Report   Report
	Resolved bool
}

// Transcript is a page of a chat session's messages as an operator reads them.
type Transcript struct {
	ChatSessionID uuid.UUID
	ClientID      uuid.UUID
	MitraID       uuid.UUID
	Status        pairing.SessionStatus
	// Messages are oldest first, never nil.
	Messages []chat.Message
}

// checkReport refuses what the checks of safety_reports refuse: both stores call it first,
// so that a bad row is refused alike before anything else is checked.
func checkReport(r Report) error {
	switch {
	case r.Reporter != pairing.PartyClient && r.Reporter != pairing.PartyMitra:
		return reportCheckViolation("safety_reports_reporter_check")
	case !r.Reason.Valid():
		return reportCheckViolation("safety_reports_reason_check")
	case len(r.MessageIDs) > MaxReportMessages:
		return reportCheckViolation("safety_reports_message_ids_check")
	case r.Note != "" && (utf8.RuneCountInString(r.Note) > MaxReportNoteLength || !utf8.ValidString(r.Note) || strings.IndexByte(r.Note, 0) >= 0):
		return reportCheckViolation("safety_reports_note_check")
	}
	return nil
}

// reportCheckViolation is the error of a row a check of safety_reports refuses.
func reportCheckViolation(constraint string) error {
	return &core.ValidationError{Field: constraint, Reason: "violates a database check"}
}
