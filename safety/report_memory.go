package safety

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/pairing"
)

// MemoryReportStore is an in-memory ReportStore over a memdb database: its tables
// safety_reports and safety_warnings (the warnings counts, which Postgres keeps on the
// mitras and clients rows) and, read in the same transaction, chat_sessions and
// chat_messages — the pairing and chat stores' tables over the database
// curhat.NewMemoryClient shares. Every method is one transaction, so it checks and files
// reports as the Postgres store does.
type MemoryReportStore struct {
	db       *memdb.DB
	reports  memdb.Table[uuid.UUID, Report]
	warnings memdb.Table[warningKey, int]
	sessions memdb.Table[uuid.UUID, pairing.ChatSession]
	messages memdb.Table[uuid.UUID, chat.Message]
}

// warningKey is a party's row of safety_warnings.
type warningKey struct {
	party pairing.Party
	id    uuid.UUID
}

var _ ReportStore = (*MemoryReportStore)(nil)

// NewMemoryReportStore returns an empty store over a database of its own (with
// chat_sessions and chat_messages tables of its own, which a test fills through the
// pairing and chat memory stores built over the same database: NewMemoryReportStoreIn).
func NewMemoryReportStore() *MemoryReportStore { return NewMemoryReportStoreIn(memdb.New()) }

// NewMemoryReportStoreIn returns a MemoryReportStore over db, whose tables it shares with
// the stores of the other domains built over it (the pairing store's chat_sessions, the
// chat store's chat_messages), and with any other MemoryReportStore over db.
func NewMemoryReportStoreIn(db *memdb.DB) *MemoryReportStore {
	return &MemoryReportStore{
		db: db,
		reports: memdb.NewTable[uuid.UUID, Report](db, "safety_reports", func(r Report) memdb.Row {
			return memdb.Row{"chat_session_id": r.ChatSessionID, "status": string(r.Status),
				"message_ids": append([]uuid.UUID{}, r.MessageIDs...), "reporter": string(r.Reporter),
				"reporter_id": r.ReporterID, "reported": string(r.Reported), "reported_id": r.ReportedID}
		}),
		warnings: memdb.NewTable[warningKey, int](db, "safety_warnings", nil),
		// The pairing and chat stores register them with their columns when they are built
		// over db too.
		sessions: memdb.NewTable[uuid.UUID, pairing.ChatSession](db, "chat_sessions", nil),
		messages: memdb.NewTable[uuid.UUID, chat.Message](db, "chat_messages", nil),
	}
}

// Len returns how many reports the store holds.
func (s *MemoryReportStore) Len() int {
	defer s.db.Begin().End()
	return len(s.reports)
}

// reportPartyID is the id of party in c.
func reportPartyID(c pairing.ChatSession, party pairing.Party) uuid.UUID {
	if party == pairing.PartyMitra {
		return c.MitraID
	}
	return c.ClientID
}

func (s *MemoryReportStore) FileReport(_ context.Context, r Report) (FileResult, error) {
	if err := checkReport(r); err != nil {
		return FileResult{}, fmt.Errorf("file report: %w", err)
	}
	defer s.db.Begin().End()
	c, ok := s.sessions[r.ChatSessionID]
	if !ok || reportPartyID(c, r.Reporter) != r.ReporterID {
		return FileResult{Outcome: NotParty}, nil
	}
	var unknown []uuid.UUID
	for _, id := range r.MessageIDs {
		if m, ok := s.messages[id]; !ok || m.ChatSessionID != r.ChatSessionID {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return FileResult{Outcome: UnknownMessages, UnknownMessageIDs: unknown}, nil
	}
	for _, o := range s.reports {
		if o.ChatSessionID == r.ChatSessionID && o.Reporter == r.Reporter && o.Status == ReportOpen {
			return FileResult{Outcome: AlreadyOpen, Report: cloneReport(o)}, nil
		}
	}
	if _, dup := s.reports[r.ID]; dup {
		return FileResult{}, fmt.Errorf("file report: %w: safety_reports_pkey", core.ErrConflict)
	}
	r = cloneReport(r)
	r.Reported = reportedParty(r.Reporter)
	r.ReportedID = reportPartyID(c, r.Reported)
	r.Status, r.Outcome, r.ResolutionNote, r.ResolvedBy, r.ResolvedAt = ReportOpen, "", "", nil, nil
	r.DueAt, r.CreatedAt = reportTime(r.DueAt), reportTime(r.CreatedAt)
	s.reports[r.ID] = r
	return FileResult{Outcome: Filed, Report: cloneReport(r)}, nil
}

func (s *MemoryReportStore) Report(_ context.Context, id uuid.UUID) (Report, error) {
	defer s.db.Begin().End()
	r, ok := s.reports[id]
	if !ok {
		return Report{}, fmt.Errorf("report %s: %w", id, core.ErrNotFound)
	}
	return cloneReport(r), nil
}

func (s *MemoryReportStore) ListReports(_ context.Context, q ReportQuery) ([]Report, int, error) {
	defer s.db.Begin().End()
	var match []Report
	for _, r := range s.reports {
		if r.Status == q.Status {
			match = append(match, r)
		}
	}
	slices.SortFunc(match, func(a, b Report) int {
		if q.Status == ReportOpen {
			return cmp.Or(a.DueAt.Compare(b.DueAt), bytes.Compare(a.ID[:], b.ID[:]))
		}
		return cmp.Or(b.ResolvedAt.Compare(*a.ResolvedAt), bytes.Compare(a.ID[:], b.ID[:]))
	})
	page := memdb.Page(match, q.Page, q.PageSize, DefaultReportPageSize)
	for i := range page {
		page[i] = cloneReport(page[i])
	}
	return page, len(match), nil
}

func (s *MemoryReportStore) ResolveReport(_ context.Context, res Resolution) (ResolveResult, error) {
	if !res.Outcome.Valid() {
		return ResolveResult{}, reportCheckViolation("safety_reports_outcome_check")
	}
	if n := utf8.RuneCountInString(res.Note); n < 1 || n > MaxReportNoteLength || !utf8.ValidString(res.Note) || strings.IndexByte(res.Note, 0) >= 0 {
		return ResolveResult{}, reportCheckViolation("safety_reports_resolution_note_check")
	}
	defer s.db.Begin().End()
	r, ok := s.reports[res.ReportID]
	if !ok {
		return ResolveResult{}, fmt.Errorf("resolve report %s: %w", res.ReportID, core.ErrNotFound)
	}
	if r.Status != ReportOpen {
		return ResolveResult{Report: cloneReport(r)}, nil
	}
	at := reportTime(res.At)
	r.Status, r.Outcome, r.ResolutionNote, r.ResolvedBy, r.ResolvedAt = ReportResolved, res.Outcome, res.Note, new(res.OperatorID), &at
	s.reports[r.ID] = r
	if res.Outcome == OutcomeWarned {
		s.warnings[warningKey{r.Reported, r.ReportedID}]++
	}
	return ResolveResult{Report: cloneReport(r), Resolved: true}, nil
}

func (s *MemoryReportStore) Transcript(_ context.Context, q TranscriptQuery) (Transcript, error) {
	defer s.db.Begin().End()
	c, ok := s.sessions[q.ChatSessionID]
	if !ok {
		return Transcript{}, fmt.Errorf("chat session %s: %w", q.ChatSessionID, core.ErrNotFound)
	}
	out := Transcript{ChatSessionID: c.ID, ClientID: c.ClientID, MitraID: c.MitraID, Status: c.Status, Messages: []chat.Message{}}
	for _, m := range s.messages {
		if m.ChatSessionID == q.ChatSessionID && m.Seq > q.AfterSeq {
			out.Messages = append(out.Messages, reportCloneMessage(m))
		}
	}
	slices.SortFunc(out.Messages, func(a, b chat.Message) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(out.Messages) > q.Limit {
		out.Messages = out.Messages[:q.Limit]
	}
	return out, nil
}

func (s *MemoryReportStore) WarningsCounts(_ context.Context, party pairing.Party, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	defer s.db.Begin().End()
	out := make(map[uuid.UUID]int, len(ids))
	for _, id := range ids {
		out[id] = s.warnings[warningKey{party, id}]
	}
	return out, nil
}

func (s *MemoryReportStore) OpenReportMessageIDs(context.Context) ([]uuid.UUID, error) {
	defer s.db.Begin().End()
	seen := map[uuid.UUID]bool{}
	out := []uuid.UUID{}
	for _, r := range s.reports {
		if r.Status != ReportOpen {
			continue
		}
		for _, id := range r.MessageIDs {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out, nil
}

func (s *MemoryReportStore) OpenReportSessionIDs(context.Context) ([]uuid.UUID, error) {
	defer s.db.Begin().End()
	seen := map[uuid.UUID]bool{}
	out := []uuid.UUID{}
	for _, r := range s.reports {
		if r.Status == ReportOpen && !seen[r.ChatSessionID] {
			seen[r.ChatSessionID] = true
			out = append(out, r.ChatSessionID)
		}
	}
	return out, nil
}

func (s *MemoryReportStore) RedactReportsOf(_ context.Context, party pairing.Party, id uuid.UUID) (int, error) {
	defer s.db.Begin().End()
	n := 0
	for key, r := range s.reports {
		if (r.Reporter != party || r.ReporterID != id) && (r.Reported != party || r.ReportedID != id) {
			continue
		}
		changed := false
		for _, note := range []*string{&r.Note, &r.ResolutionNote} {
			if *note != "" && *note != RedactedNote {
				*note, changed = RedactedNote, true
			}
		}
		if changed {
			s.reports[key] = r
			n++
		}
	}
	return n, nil
}

func cloneReport(r Report) Report {
	r.MessageIDs = append([]uuid.UUID{}, r.MessageIDs...)
	if r.ResolvedBy != nil {
		r.ResolvedBy = new(*r.ResolvedBy)
	}
	if r.ResolvedAt != nil {
		r.ResolvedAt = new(*r.ResolvedAt)
	}
	return r
}

func reportCloneMessage(m chat.Message) chat.Message {
	m.Flags = append([]chat.Flag{}, m.Flags...)
	return m
}

// reportTime is a time as Postgres stores it: UTC, microseconds.
func reportTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
