package safetytest

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// ReportStoreHarness is one safety.ReportStore under test, with the chat sessions and
// messages it reads but the pairing and chat sides own. RunReportStoreContract calls the
// harness constructor once per subtest, from parallel subtests.
type ReportStoreHarness struct {
	// Store is the store under test.
	Store safety.ReportStore
	// StartSession starts an active chat session between a new client and a new mitra,
	// started at now.
	StartSession func(t *testing.T, now time.Time) pairing.ChatSession
	// Message stores the next message of party in s, sent at at, and returns it.
	Message func(t *testing.T, s pairing.ChatSession, party pairing.Party, at time.Time) chat.Message
}

// r0 is the base time of the suite.
var r0 = time.Date(2026, 5, 4, 8, 15, 30, 0, time.UTC)

// newReport is an open report of reporter in s, filed at at, due 72 hours later.
func newReport(s pairing.ChatSession, reporter pairing.Party, at time.Time, messages ...uuid.UUID) safety.Report {
	id := s.ClientID
	if reporter == pairing.PartyMitra {
		id = s.MitraID
	}
	return safety.Report{ID: uuid.New(), ChatSessionID: s.ID, Reporter: reporter, ReporterID: id, Reason: safety.ReasonHarassment,
		MessageIDs: append([]uuid.UUID{}, messages...), Note: "dia kasar", Status: safety.ReportOpen,
		DueAt: at.Add(safety.DefaultReportDueAfter), CreatedAt: at}
}

func file(t *testing.T, st safety.ReportStore, r safety.Report) safety.FileResult {
	t.Helper()
	res, err := st.FileReport(check.Context(t), r)
	check.NoError(t, err)
	return res
}

func filed(t *testing.T, st safety.ReportStore, r safety.Report) safety.Report {
	t.Helper()
	res := file(t, st, r)
	check.Equal(t, safety.Filed, res.Outcome, "file report %s", r.ID)
	return res.Report
}

func resolve(t *testing.T, st safety.ReportStore, id uuid.UUID, outcome safety.Outcome, at time.Time) safety.ResolveResult {
	t.Helper()
	res, err := st.ResolveReport(check.Context(t), safety.Resolution{ReportID: id, Outcome: outcome, Note: "checked", OperatorID: uuid.New(), At: at})
	check.NoError(t, err)
	return res
}

func ids(rs []safety.Report) []uuid.UUID {
	out := make([]uuid.UUID, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// RunReportStoreContract runs the conformance suite of safety.ReportStore: the rules its
// documentation states, as the Postgres store and safety.NewMemoryReportStoreIn keep them.
func RunReportStoreContract(t *testing.T, newHarness func(t *testing.T) ReportStoreHarness) {
	t.Run("FileRecordsTheOtherPartyAsReportedByEitherParty", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		m1 := h.Message(t, s, pairing.PartyMitra, r0.Add(time.Second))
		m2 := h.Message(t, s, pairing.PartyMitra, r0.Add(2*time.Second))
		// In the reporter's order, not the session's.
		byClient := newReport(s, pairing.PartyClient, r0.Add(time.Minute), m2.ID, m1.ID)
		got := filed(t, h.Store, byClient)
		check.Equal(t, pairing.PartyMitra, got.Reported)
		check.Equal(t, s.MitraID, got.ReportedID)
		check.Equal(t, []uuid.UUID{m2.ID, m1.ID}, got.MessageIDs)
		check.Equal(t, safety.ReportOpen, got.Status)
		check.Equal(t, byClient.DueAt, got.DueAt)
		check.Equal(t, byClient.CreatedAt, got.CreatedAt)
		check.Equal(t, "dia kasar", got.Note)
		check.Zero(t, got.Outcome)
		check.Nil(t, got.ResolvedAt)
		read, err := h.Store.Report(check.Context(t), byClient.ID)
		check.NoError(t, err)
		check.Equal(t, got, read, "read back as filed")

		byMitra := newReport(s, pairing.PartyMitra, r0.Add(2*time.Minute))
		byMitra.Note, byMitra.Reason = "", safety.ReasonSpam
		got = filed(t, h.Store, byMitra)
		check.Equal(t, pairing.PartyClient, got.Reported)
		check.Equal(t, s.ClientID, got.ReportedID)
		check.Equal(t, []uuid.UUID{}, got.MessageIDs, "no messages: empty, not nil")
		check.Equal(t, "", got.Note)
		check.Equal(t, safety.ReasonSpam, got.Reason)

		_, err = h.Store.Report(check.Context(t), uuid.New())
		check.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("OnlyAPartyOfTheSessionFilesIt", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		other := h.StartSession(t, r0)
		for name, r := range map[string]safety.Report{
			"the other session's client": func() safety.Report {
				r := newReport(s, pairing.PartyClient, r0)
				r.ReporterID = other.ClientID
				return r
			}(),
			"the mitra's id as the client": func() safety.Report { r := newReport(s, pairing.PartyClient, r0); r.ReporterID = s.MitraID; return r }(),
			"the client's id as the mitra": func() safety.Report { r := newReport(s, pairing.PartyMitra, r0); r.ReporterID = s.ClientID; return r }(),
			"an unknown session": func() safety.Report {
				r := newReport(s, pairing.PartyClient, r0)
				r.ChatSessionID = uuid.New()
				return r
			}(),
		} {
			check.Equal(t, safety.NotParty, file(t, h.Store, r).Outcome, name)
			_, err := h.Store.Report(check.Context(t), r.ID)
			check.ErrorIs(t, err, core.ErrNotFound, "%s: nothing stored", name)
		}
	})

	t.Run("MessageIDsMustBeMessagesOfTheSession", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		other := h.StartSession(t, r0)
		mine := h.Message(t, s, pairing.PartyMitra, r0.Add(time.Second))
		theirs := h.Message(t, other, pairing.PartyMitra, r0.Add(time.Second))
		unknown := uuid.New()
		r := newReport(s, pairing.PartyClient, r0, unknown, mine.ID, theirs.ID)
		res := file(t, h.Store, r)
		check.Equal(t, safety.UnknownMessages, res.Outcome)
		check.Equal(t, []uuid.UUID{unknown, theirs.ID}, res.UnknownMessageIDs, "in the report's order")
		_, err := h.Store.Report(check.Context(t), r.ID)
		check.ErrorIs(t, err, core.ErrNotFound, "nothing stored")
		// A party that is not the session's learns nothing about its messages.
		r = newReport(s, pairing.PartyClient, r0, unknown)
		r.ReporterID = other.ClientID
		check.Equal(t, safety.NotParty, file(t, h.Store, r).Outcome)
		filed(t, h.Store, newReport(s, pairing.PartyClient, r0, mine.ID))
	})

	t.Run("OneOpenReportPerReporterAndSession", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		first := filed(t, h.Store, newReport(s, pairing.PartyClient, r0))
		second := newReport(s, pairing.PartyClient, r0.Add(time.Minute))
		res := file(t, h.Store, second)
		check.Equal(t, safety.AlreadyOpen, res.Outcome)
		check.Equal(t, first.ID, res.Report.ID, "the open report")
		_, err := h.Store.Report(check.Context(t), second.ID)
		check.ErrorIs(t, err, core.ErrNotFound, "nothing stored")
		// The other party may report the same session, and the reporter another one.
		filed(t, h.Store, newReport(s, pairing.PartyMitra, r0.Add(time.Minute)))
		filed(t, h.Store, newReport(h.StartSession(t, r0), pairing.PartyClient, r0))
		// Once the first is resolved, the reporter may report the session again.
		check.True(t, resolve(t, h.Store, first.ID, safety.OutcomeNoAction, r0.Add(time.Hour)).Resolved)
		filed(t, h.Store, second)
	})

	t.Run("ConcurrentReportsOfOneReporterFileOne", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		const n = 8
		results := make([]safety.FileResult, n)
		errs := check.Concurrently(n, func(i int) error {
			var err error
			results[i], err = h.Store.FileReport(check.Context(t), newReport(s, pairing.PartyClient, r0))
			return err
		})
		var filedIDs []uuid.UUID
		for i, err := range errs {
			check.NoError(t, err)
			if results[i].Outcome == safety.Filed {
				filedIDs = append(filedIDs, results[i].Report.ID)
			}
		}
		check.Len(t, filedIDs, 1, "exactly one filed")
		for _, res := range results {
			if res.Outcome != safety.Filed {
				check.Equal(t, safety.AlreadyOpen, res.Outcome)
				check.Equal(t, filedIDs[0], res.Report.ID)
			}
		}
	})

	t.Run("TheQueueListsOpenReportsOldestDueFirstAndResolvedNewestFirst", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		var open []safety.Report
		for i, at := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour, time.Hour} {
			r := newReport(h.StartSession(t, r0), pairing.PartyClient, r0.Add(at))
			if i == 3 {
				r.DueAt = open[1].DueAt // the same due_at: by id
			}
			open = append(open, filed(t, h.Store, r))
		}
		want := slices.Clone(open)
		slices.SortFunc(want, func(a, b safety.Report) int {
			if c := a.DueAt.Compare(b.DueAt); c != 0 {
				return c
			}
			return bytes.Compare(a.ID[:], b.ID[:])
		})
		list, total, err := h.Store.ListReports(check.Context(t), safety.ReportQuery{Status: safety.ReportOpen, Page: 1, PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, 4, total)
		check.Equal(t, ids(want), ids(list))
		page2, total, err := h.Store.ListReports(check.Context(t), safety.ReportQuery{Status: safety.ReportOpen, Page: 2, PageSize: 3})
		check.NoError(t, err)
		check.Equal(t, 4, total)
		check.Equal(t, ids(want[3:]), ids(page2))
		past, total, err := h.Store.ListReports(check.Context(t), safety.ReportQuery{Status: safety.ReportOpen, Page: 9, PageSize: 3})
		check.NoError(t, err)
		check.Equal(t, 4, total, "past the last page: the total still")
		check.Len(t, past, 0)

		// Resolve two: they leave the open queue and list newest resolution first.
		resolve(t, h.Store, want[0].ID, safety.OutcomeNoAction, r0.Add(5*time.Hour))
		resolve(t, h.Store, want[2].ID, safety.OutcomeNoAction, r0.Add(6*time.Hour))
		list, total, err = h.Store.ListReports(check.Context(t), safety.ReportQuery{Status: safety.ReportOpen, Page: 1, PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.Equal(t, []uuid.UUID{want[1].ID, want[3].ID}, ids(list))
		list, total, err = h.Store.ListReports(check.Context(t), safety.ReportQuery{Status: safety.ReportResolved, Page: 1, PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, 2, total)
		check.Equal(t, []uuid.UUID{want[2].ID, want[0].ID}, ids(list))
	})

	t.Run("ResolveMarksAnOpenReportOnceAndCountsAWarningOnTheReportedParty", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		byClient := filed(t, h.Store, newReport(s, pairing.PartyClient, r0))
		byMitra := filed(t, h.Store, newReport(s, pairing.PartyMitra, r0))
		op := uuid.New()
		at := r0.Add(time.Hour)
		res, err := h.Store.ResolveReport(check.Context(t), safety.Resolution{ReportID: byClient.ID, Outcome: safety.OutcomeWarned,
			Note: "jaga bahasamu", OperatorID: op, At: at})
		check.NoError(t, err)
		check.True(t, res.Resolved)
		check.Equal(t, safety.ReportResolved, res.Report.Status)
		check.Equal(t, safety.OutcomeWarned, res.Report.Outcome)
		check.Equal(t, "jaga bahasamu", res.Report.ResolutionNote)
		check.Equal(t, op, *res.Report.ResolvedBy)
		check.Equal(t, at, *res.Report.ResolvedAt)
		read, err := h.Store.Report(check.Context(t), byClient.ID)
		check.NoError(t, err)
		check.Equal(t, res.Report, read)

		counts := func(party pairing.Party, id uuid.UUID) int {
			t.Helper()
			got, err := h.Store.WarningsCounts(check.Context(t), party, []uuid.UUID{id})
			check.NoError(t, err)
			return got[id]
		}
		check.Equal(t, 1, counts(pairing.PartyMitra, s.MitraID), "the reported mitra is warned")
		check.Equal(t, 0, counts(pairing.PartyClient, s.ClientID))

		// A second resolution changes nothing, and counts nothing.
		again, err := h.Store.ResolveReport(check.Context(t), safety.Resolution{ReportID: byClient.ID, Outcome: safety.OutcomeWarned,
			Note: "again", OperatorID: uuid.New(), At: at.Add(time.Minute)})
		check.NoError(t, err)
		check.False(t, again.Resolved)
		check.Equal(t, read, again.Report, "as it was")
		check.Equal(t, 1, counts(pairing.PartyMitra, s.MitraID))

		// Another outcome counts no warning; a warning of the client counts on the client.
		check.True(t, resolve(t, h.Store, byMitra.ID, safety.OutcomeNoAction, at).Resolved)
		check.Equal(t, 0, counts(pairing.PartyClient, s.ClientID))
		s2 := h.StartSession(t, r0)
		r := filed(t, h.Store, newReport(s2, pairing.PartyMitra, r0))
		check.True(t, resolve(t, h.Store, r.ID, safety.OutcomeWarned, at).Resolved)
		check.Equal(t, 1, counts(pairing.PartyClient, s2.ClientID))
		all, err := h.Store.WarningsCounts(check.Context(t), pairing.PartyMitra, []uuid.UUID{s.MitraID, s2.MitraID, uuid.New()})
		check.NoError(t, err)
		check.Len(t, all, 3, "every id asked, 0 for none")
		check.Equal(t, 1, all[s.MitraID])
		check.Equal(t, 0, all[s2.MitraID])

		_, err = h.Store.ResolveReport(check.Context(t), safety.Resolution{ReportID: uuid.New(), Outcome: safety.OutcomeNoAction,
			Note: "x", At: at})
		check.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ConcurrentResolutionsMarkOnceAndCountOnce", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		r := filed(t, h.Store, newReport(s, pairing.PartyClient, r0))
		const n = 8
		resolved := make([]bool, n)
		errs := check.Concurrently(n, func(i int) error {
			res, err := h.Store.ResolveReport(check.Context(t), safety.Resolution{ReportID: r.ID, Outcome: safety.OutcomeWarned,
				Note: "x", OperatorID: uuid.New(), At: r0.Add(time.Hour)})
			resolved[i] = res.Resolved
			return err
		})
		winners := 0
		for i, err := range errs {
			check.NoError(t, err)
			if resolved[i] {
				winners++
			}
		}
		check.Equal(t, 1, winners)
		got, err := h.Store.WarningsCounts(check.Context(t), pairing.PartyMitra, []uuid.UUID{s.MitraID})
		check.NoError(t, err)
		check.Equal(t, 1, got[s.MitraID])
	})

	t.Run("OpenReportsNameTheMessagesAndSessionsRetentionKeeps", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s1, s2, s3 := h.StartSession(t, r0), h.StartSession(t, r0), h.StartSession(t, r0)
		a := h.Message(t, s1, pairing.PartyMitra, r0.Add(time.Second))
		b := h.Message(t, s1, pairing.PartyClient, r0.Add(2*time.Second))
		c := h.Message(t, s2, pairing.PartyMitra, r0.Add(time.Second))
		h.Message(t, s3, pairing.PartyMitra, r0.Add(time.Second))
		filed(t, h.Store, newReport(s1, pairing.PartyClient, r0, a.ID))
		filed(t, h.Store, newReport(s1, pairing.PartyMitra, r0, a.ID, b.ID)) // a named twice: once in the answer
		done := filed(t, h.Store, newReport(s2, pairing.PartyClient, r0, c.ID))
		resolve(t, h.Store, done.ID, safety.OutcomeNoAction, r0.Add(time.Hour))

		msgs, err := h.Store.OpenReportMessageIDs(check.Context(t))
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{a.ID, b.ID}, msgs, "the resolved report's message is not kept")
		sessions, err := h.Store.OpenReportSessionIDs(check.Context(t))
		check.NoError(t, err)
		check.ElementsMatch(t, []uuid.UUID{s1.ID}, sessions)
	})

	t.Run("RedactReportsOfAPartyBothSidesOnce", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		bySession := filed(t, h.Store, newReport(s, pairing.PartyClient, r0))
		against := filed(t, h.Store, newReport(s, pairing.PartyMitra, r0))
		resolve(t, h.Store, against.ID, safety.OutcomeWarned, r0.Add(time.Hour))
		noNote := newReport(h.StartSession(t, r0), pairing.PartyClient, r0)
		noNote.Note = ""
		noNote = filed(t, h.Store, noNote)
		untouched := filed(t, h.Store, newReport(h.StartSession(t, r0), pairing.PartyClient, r0))

		n, err := h.Store.RedactReportsOf(check.Context(t), pairing.PartyClient, s.ClientID)
		check.NoError(t, err)
		check.Equal(t, 2, n, "the report it filed and the one against it")
		for _, id := range []uuid.UUID{bySession.ID, against.ID} {
			r, err := h.Store.Report(check.Context(t), id)
			check.NoError(t, err)
			check.Equal(t, safety.RedactedNote, r.Note)
			if r.Status == safety.ReportResolved {
				check.Equal(t, safety.RedactedNote, r.ResolutionNote)
				check.Equal(t, safety.OutcomeWarned, r.Outcome, "the outcome stays")
			} else {
				check.Equal(t, "", r.ResolutionNote)
			}
		}
		n, err = h.Store.RedactReportsOf(check.Context(t), pairing.PartyClient, s.ClientID)
		check.NoError(t, err)
		check.Equal(t, 0, n, "a second time changes nothing")
		n, err = h.Store.RedactReportsOf(check.Context(t), pairing.PartyClient, noNote.ReporterID)
		check.NoError(t, err)
		check.Equal(t, 0, n, "a report without notes has nothing to redact")
		r, err := h.Store.Report(check.Context(t), noNote.ID)
		check.NoError(t, err)
		check.Equal(t, "", r.Note)
		r, err = h.Store.Report(check.Context(t), untouched.ID)
		check.NoError(t, err)
		check.Equal(t, "dia kasar", r.Note, "another party's report is untouched")
	})

	t.Run("TranscriptPagesASessionsMessagesWhateverItsState", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		empty, err := h.Store.Transcript(check.Context(t), safety.TranscriptQuery{ChatSessionID: s.ID, Limit: 10})
		check.NoError(t, err)
		check.Equal(t, s.ClientID, empty.ClientID)
		check.Equal(t, s.MitraID, empty.MitraID)
		check.Equal(t, pairing.SessionActive, empty.Status)
		check.Equal(t, []chat.Message{}, empty.Messages)
		var sent []chat.Message
		for i := range 5 {
			party := pairing.PartyClient
			if i%2 == 1 {
				party = pairing.PartyMitra
			}
			sent = append(sent, h.Message(t, s, party, r0.Add(time.Duration(i+1)*time.Second)))
		}
		h.Message(t, h.StartSession(t, r0), pairing.PartyClient, r0.Add(time.Second)) // another session's
		page, err := h.Store.Transcript(check.Context(t), safety.TranscriptQuery{ChatSessionID: s.ID, AfterSeq: 1, Limit: 3})
		check.NoError(t, err)
		check.Equal(t, sent[1:4], page.Messages)
		rest, err := h.Store.Transcript(check.Context(t), safety.TranscriptQuery{ChatSessionID: s.ID, AfterSeq: 4, Limit: 3})
		check.NoError(t, err)
		check.Equal(t, sent[4:], rest.Messages)
		_, err = h.Store.Transcript(check.Context(t), safety.TranscriptQuery{ChatSessionID: uuid.New(), Limit: 3})
		check.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("RefusesWhatTheSchemaRefuses", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, r0)
		for name, mutate := range map[string]func(*safety.Report){
			"a reason":      func(r *safety.Report) { r.Reason = "rude" },
			"a long note":   func(r *safety.Report) { r.Note = strings.Repeat("x", safety.MaxReportNoteLength+1) },
			"many messages": func(r *safety.Report) { r.MessageIDs = make([]uuid.UUID, safety.MaxReportMessages+1) },
		} {
			r := newReport(s, pairing.PartyClient, r0)
			mutate(&r)
			_, err := h.Store.FileReport(check.Context(t), r)
			var ve *core.ValidationError
			check.ErrorAs(t, err, &ve, name)
		}
		r := filed(t, h.Store, newReport(s, pairing.PartyClient, r0))
		_, err := h.Store.ResolveReport(check.Context(t), safety.Resolution{ReportID: r.ID, Outcome: "banned", Note: "x", At: r0})
		var ve *core.ValidationError
		check.ErrorAs(t, err, &ve, "an outcome")
		_, err = h.Store.ResolveReport(check.Context(t), safety.Resolution{ReportID: r.ID, Outcome: safety.OutcomeNoAction, At: r0})
		check.ErrorAs(t, err, &ve, "no note")
		got, err := h.Store.Report(check.Context(t), r.ID)
		check.NoError(t, err)
		check.Equal(t, safety.ReportOpen, got.Status, "still open")
	})
}
