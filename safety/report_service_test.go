package safety_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// reportNotifier records the events a Reports sends.
type reportNotifier struct {
	mu     sync.Mutex
	events []pairing.Event
}

func (n *reportNotifier) Notify(_ context.Context, e pairing.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
}

func (n *reportNotifier) sent() []pairing.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]pairing.Event(nil), n.events...)
}

// reportActs records the acts, and fails the next one when told.
type reportActs struct {
	mu       sync.Mutex
	calls    []string
	failNext error
}

func (a *reportActs) act(name string, r safety.Report) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, name+":"+r.ReportedID.String())
	err := a.failNext
	a.failNext = nil
	return err
}

func (a *reportActs) DeactivateMitra(_ context.Context, r safety.Report) error {
	return a.act("deactivate", r)
}
func (a *reportActs) SuspendClient(_ context.Context, r safety.Report) error {
	return a.act("suspend", r)
}
func (a *reportActs) RefundClient(_ context.Context, r safety.Report) error {
	return a.act("refund", r)
}

func (a *reportActs) done() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// failingResolveStore fails the next ResolveReport when told (a mark lost after the act).
type failingResolveStore struct {
	safety.ReportStore
	failNext atomic.Bool
}

func (s *failingResolveStore) ResolveReport(ctx context.Context, res safety.Resolution) (safety.ResolveResult, error) {
	if s.failNext.CompareAndSwap(true, false) {
		return safety.ResolveResult{}, core.ErrUnavailable
	}
	return s.ReportStore.ResolveReport(ctx, res)
}

type reportBundle struct {
	reports  *safety.Reports
	clock    *clock.Fake
	notifier *reportNotifier
	acts     *reportActs
	facts    reportFacts
}

var reportT0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func newReports(t *testing.T, b reportBackend, wrap func(safety.ReportStore) safety.ReportStore) reportBundle {
	t.Helper()
	store, f := b.open(t)
	if wrap != nil {
		store = wrap(store)
	}
	bundle := reportBundle{clock: clock.NewFake(reportT0), notifier: &reportNotifier{}, acts: &reportActs{}, facts: f}
	var err error
	bundle.reports, err = safety.NewReports(store, safety.ReportsDeps{Notifier: bundle.notifier, Acts: bundle.acts},
		&safety.ReportsConfig{Clock: bundle.clock})
	require.NoError(t, err)
	return bundle
}

// eachReportBackend runs fn once per backend, in parallel subtests.
func eachReportBackend(t *testing.T, fn func(t *testing.T, b reportBackend)) {
	for _, b := range reportBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func TestReports_FileIsDue72HoursLaterAndAboutTheOtherParty(t *testing.T) {
	t.Parallel()
	eachReportBackend(t, func(t *testing.T, b reportBackend) {
		rb := newReports(t, b, nil)
		s := rb.facts.startSession(t, reportT0)
		m := sendMessage(t, rb.facts, s, pairing.PartyMitra, reportT0.Add(time.Second))
		rb.clock.Advance(10 * time.Minute)
		r, err := rb.reports.File(reportCtx(t), safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
			ReporterID: s.ClientID, Reason: safety.ReasonHarassment, MessageIDs: []uuid.UUID{m.ID}, Note: "  "})
		require.NoError(t, err)
		require.Equal(t, reportT0.Add(10*time.Minute), r.CreatedAt)
		require.Equal(t, reportT0.Add(10*time.Minute+72*time.Hour), r.DueAt)
		require.Equal(t, pairing.PartyMitra, r.Reported)
		require.Equal(t, s.MitraID, r.ReportedID)
		require.Equal(t, "", r.Note, "only blanks: no note")
		require.False(t, r.Overdue(rb.reports.Now()))
		rb.clock.Advance(72 * time.Hour)
		require.False(t, r.Overdue(rb.reports.Now()), "due, not past due")
		rb.clock.Advance(time.Microsecond)
		require.True(t, r.Overdue(rb.reports.Now()))

		// The session ended: its parties still report it.
		rb.facts.endSession(t, s.ID, reportT0.Add(20*time.Minute))
		_, err = rb.reports.File(reportCtx(t), safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyMitra,
			ReporterID: s.MitraID, Reason: safety.ReasonOther})
		require.NoError(t, err)
	})
}

func TestReports_FileRefusesBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	rb := newReports(t, reportBackends[0], nil)
	s := rb.facts.startSession(t, reportT0)
	valid := safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient, ReporterID: s.ClientID, Reason: safety.ReasonSpam}
	id := uuid.New()
	for _, tc := range []struct {
		name   string
		mutate func(*safety.FileParams)
		field  string
	}{
		{"no session", func(p *safety.FileParams) { p.ChatSessionID = uuid.Nil }, "chat_session_id"},
		{"no reporter", func(p *safety.FileParams) { p.Reporter = "operator" }, "reporter"},
		{"no reporter id", func(p *safety.FileParams) { p.ReporterID = uuid.Nil }, "reporter_id"},
		{"no reason", func(p *safety.FileParams) { p.Reason = "" }, "reason"},
		{"an unknown reason", func(p *safety.FileParams) { p.Reason = "rude" }, "reason"},
		{"too many messages", func(p *safety.FileParams) {
			for range safety.MaxReportMessages + 1 {
				p.MessageIDs = append(p.MessageIDs, uuid.New())
			}
		}, "message_ids"},
		{"a message twice", func(p *safety.FileParams) { p.MessageIDs = []uuid.UUID{id, id} }, "message_ids"},
		{"the nil message", func(p *safety.FileParams) { p.MessageIDs = []uuid.UUID{uuid.Nil} }, "message_ids"},
		{"a message of nobody", func(p *safety.FileParams) { p.MessageIDs = []uuid.UUID{id} }, "message_ids"},
		{"a long note", func(p *safety.FileParams) { p.Note = strings.Repeat("é", safety.MaxReportNoteLength+1) }, "note"},
		{"a NUL in the note", func(p *safety.FileParams) { p.Note = "a\x00b" }, "note"},
		{"a note not UTF-8", func(p *safety.FileParams) { p.Note = "\xff" }, "note"},
	} {
		p := valid
		tc.mutate(&p)
		_, err := rb.reports.File(reportCtx(t), p)
		var ve *core.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		require.Equal(t, tc.field, ve.Field, tc.name)
	}
	var unknown *safety.UnknownMessagesError
	_, err := rb.reports.File(reportCtx(t), func() safety.FileParams { p := valid; p.MessageIDs = []uuid.UUID{id}; return p }())
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, []uuid.UUID{id}, unknown.IDs)
	require.Contains(t, err.Error(), id.String())

	p := valid
	p.Note = strings.Repeat("é", safety.MaxReportNoteLength)
	_, err = rb.reports.File(reportCtx(t), p)
	require.NoError(t, err, "the longest note")
}

func TestReports_AThirdPartyGetsNotFoundAndASecondOpenReportIsRefused(t *testing.T) {
	t.Parallel()
	eachReportBackend(t, func(t *testing.T, b reportBackend) {
		rb := newReports(t, b, nil)
		s := rb.facts.startSession(t, reportT0)
		stranger := rb.facts.startSession(t, reportT0)
		_, err := rb.reports.File(reportCtx(t), safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
			ReporterID: stranger.ClientID, Reason: safety.ReasonSpam})
		require.ErrorIs(t, err, core.ErrNotFound)
		first, err := rb.reports.File(reportCtx(t), safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
			ReporterID: s.ClientID, Reason: safety.ReasonSpam})
		require.NoError(t, err)
		_, err = rb.reports.File(reportCtx(t), safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
			ReporterID: s.ClientID, Reason: safety.ReasonOther})
		var open *safety.ReportOpenError
		require.ErrorAs(t, err, &open)
		require.ErrorIs(t, err, safety.ErrReportOpen)
		require.ErrorIs(t, err, core.ErrConflict)
		require.Equal(t, first.ID, open.ReportID)
	})
}

func TestReports_ResolveActsThenMarksAndWarnsTheReportedParty(t *testing.T) {
	t.Parallel()
	eachReportBackend(t, func(t *testing.T, b reportBackend) {
		rb := newReports(t, b, nil)
		ctx := reportCtx(t)
		s := rb.facts.startSession(t, reportT0)
		byClient, err := rb.reports.File(ctx, safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
			ReporterID: s.ClientID, Reason: safety.ReasonHarassment})
		require.NoError(t, err)
		byMitra, err := rb.reports.File(ctx, safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyMitra,
			ReporterID: s.MitraID, Reason: safety.ReasonSpam})
		require.NoError(t, err)

		// An outcome that does not fit the reported party: refused, nothing done.
		for _, tc := range []struct {
			r       safety.Report
			outcome safety.Outcome
		}{{byClient, safety.OutcomeClientSuspended}, {byMitra, safety.OutcomeMitraDeactivated}} {
			_, err := rb.reports.Resolve(ctx, safety.ResolveParams{ReportID: tc.r.ID, Outcome: tc.outcome, Note: "x"})
			var ve *core.ValidationError
			require.ErrorAs(t, err, &ve, tc.outcome)
			require.Equal(t, "outcome", ve.Field)
		}
		require.Empty(t, rb.acts.done())

		op := uuid.New()
		rb.clock.Advance(time.Hour)
		warned, err := rb.reports.Resolve(ctx, safety.ResolveParams{ReportID: byClient.ID, Outcome: safety.OutcomeWarned,
			Note: "Jaga bahasamu.", OperatorID: op})
		require.NoError(t, err)
		require.Equal(t, safety.ReportResolved, warned.Status)
		require.Equal(t, op, *warned.ResolvedBy)
		require.Equal(t, reportT0.Add(time.Hour), *warned.ResolvedAt)
		require.Empty(t, rb.acts.done(), "a warning needs no act of the host")
		events := rb.notifier.sent()
		require.Len(t, events, 1)
		require.Equal(t, s.MitraID, *events[0].MitraID, "to the reported mitra")
		require.Nil(t, events[0].ClientID)
		require.Equal(t, safety.WarningEvent{ReportID: byClient.ID, Note: "Jaga bahasamu."}, events[0].Payload)
		n, err := rb.reports.WarningsCount(ctx, pairing.PartyMitra, s.MitraID)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		_, err = rb.reports.Resolve(ctx, safety.ResolveParams{ReportID: byClient.ID, Outcome: safety.OutcomeNoAction, Note: "x"})
		require.ErrorIs(t, err, core.ErrInvalidState, "resolved twice")
		_, err = rb.reports.Resolve(ctx, safety.ResolveParams{ReportID: uuid.New(), Outcome: safety.OutcomeNoAction, Note: "x"})
		require.ErrorIs(t, err, core.ErrNotFound)

		suspended, err := rb.reports.Resolve(ctx, safety.ResolveParams{ReportID: byMitra.ID, Outcome: safety.OutcomeClientSuspended,
			Note: "Akun ditangguhkan."})
		require.NoError(t, err)
		require.Equal(t, safety.OutcomeClientSuspended, suspended.Outcome)
		require.Equal(t, []string{"suspend:" + s.ClientID.String()}, rb.acts.done())
		require.Len(t, rb.notifier.sent(), 1, "no event but the warning's")
	})
}

func TestReports_AnActThatFailsMarksNothingAndAMarkLostAfterTheActIsRetried(t *testing.T) {
	t.Parallel()
	eachReportBackend(t, func(t *testing.T, b reportBackend) {
		var wrapped *failingResolveStore
		rb := newReports(t, b, func(s safety.ReportStore) safety.ReportStore {
			wrapped = &failingResolveStore{ReportStore: s}
			return wrapped
		})
		ctx := reportCtx(t)
		s := rb.facts.startSession(t, reportT0)
		r, err := rb.reports.File(ctx, safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
			ReporterID: s.ClientID, Reason: safety.ReasonSafety})
		require.NoError(t, err)

		rb.acts.failNext = errors.New("gateway down")
		_, err = rb.reports.Resolve(ctx, safety.ResolveParams{ReportID: r.ID, Outcome: safety.OutcomeRefunded, Note: "refund"})
		require.ErrorContains(t, err, "gateway down")
		got, err := rb.reports.Get(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, safety.ReportOpen, got.Status, "an act that failed marks nothing")

		wrapped.failNext.Store(true) // the next mark fails, after the act
		_, err = rb.reports.Resolve(ctx, safety.ResolveParams{ReportID: r.ID, Outcome: safety.OutcomeRefunded, Note: "refund"})
		require.ErrorIs(t, err, core.ErrUnavailable)
		got, err = rb.reports.Get(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, safety.ReportOpen, got.Status)

		done, err := rb.reports.Resolve(ctx, safety.ResolveParams{ReportID: r.ID, Outcome: safety.OutcomeRefunded, Note: "refund"})
		require.NoError(t, err, "the retry acts again (the act is idempotent) and marks")
		require.Equal(t, safety.OutcomeRefunded, done.Outcome)
		refund := "refund:" + s.MitraID.String()
		require.Equal(t, []string{refund, refund, refund}, rb.acts.done())
	})
}

func TestReports_OutcomesThatNeedActsFailWithoutThem(t *testing.T) {
	t.Parallel()
	store, f := reportBackends[0].open(t)
	reports, err := safety.NewReports(store, safety.ReportsDeps{}, nil)
	require.NoError(t, err)
	s := f.startSession(t, reportT0)
	r, err := reports.File(reportCtx(t), safety.FileParams{ChatSessionID: s.ID, Reporter: pairing.PartyClient,
		ReporterID: s.ClientID, Reason: safety.ReasonSafety})
	require.NoError(t, err)
	_, err = reports.Resolve(reportCtx(t), safety.ResolveParams{ReportID: r.ID, Outcome: safety.OutcomeMitraDeactivated, Note: "x"})
	require.ErrorIs(t, err, safety.ErrNoReportActs)
	_, err = reports.Resolve(reportCtx(t), safety.ResolveParams{ReportID: r.ID, Outcome: safety.OutcomeWarned, Note: "x"})
	require.NoError(t, err, "a warning without a notifier is counted")
}

func TestReports_ResolveAndListRefuseBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	rb := newReports(t, reportBackends[0], nil)
	for _, tc := range []struct {
		p     safety.ResolveParams
		field string
	}{
		{safety.ResolveParams{Outcome: safety.OutcomeNoAction, Note: "x"}, "report_id"},
		{safety.ResolveParams{ReportID: uuid.New(), Outcome: "banned", Note: "x"}, "outcome"},
		{safety.ResolveParams{ReportID: uuid.New(), Outcome: safety.OutcomeNoAction}, "note"},
		{safety.ResolveParams{ReportID: uuid.New(), Outcome: safety.OutcomeNoAction, Note: " \n"}, "note"},
		{safety.ResolveParams{ReportID: uuid.New(), Outcome: safety.OutcomeNoAction, Note: strings.Repeat("x", 2001)}, "note"},
	} {
		_, err := rb.reports.Resolve(reportCtx(t), tc.p)
		var ve *core.ValidationError
		require.ErrorAs(t, err, &ve, "%+v", tc.p)
		require.Equal(t, tc.field, ve.Field)
	}
	for _, tc := range []struct {
		q     safety.ReportQuery
		field string
	}{
		{safety.ReportQuery{}, "status"},
		{safety.ReportQuery{Status: "closed"}, "status"},
		{safety.ReportQuery{Status: safety.ReportOpen, Page: -1}, "page"},
		{safety.ReportQuery{Status: safety.ReportOpen, PageSize: 101}, "page_size"},
	} {
		_, _, err := rb.reports.List(reportCtx(t), tc.q)
		var ve *core.ValidationError
		require.ErrorAs(t, err, &ve, "%+v", tc.q)
		require.Equal(t, tc.field, ve.Field)
	}
	_, err := rb.reports.Transcript(reportCtx(t), safety.TranscriptQuery{ChatSessionID: uuid.New(), Limit: 501})
	var ve *core.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "limit", ve.Field)
	_, err = safety.NewReports(nil, safety.ReportsDeps{}, nil)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "store", ve.Field)
	_, err = safety.NewReports(safety.NewMemoryReportStore(), safety.ReportsDeps{}, &safety.ReportsConfig{DueAfter: -time.Second})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "ReportsConfig.DueAfter", ve.Field)
}
