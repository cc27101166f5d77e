package safety

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// DefaultReportDueAfter is how long after it was filed a report is due: operators answer
// reports within 72 hours.
const DefaultReportDueAfter = 72 * time.Hour

// ReportsConfig configures a Reports. The zero value (or nil) works.
type ReportsConfig struct {
	// Logger receives the resolutions. Defaults to discarding.
	Logger *slog.Logger
	// Clock stamps the reports and their resolutions and tells which are overdue (a
	// curhat.Clock, which a host may implement). Defaults to the wall clock.
	Clock clock.Clock
	// DueAfter: see DefaultReportDueAfter. Defaults to 72 hours.
	DueAfter time.Duration
}

func (c *ReportsConfig) validate() error {
	if c == nil {
		return nil
	}
	return core.NotNegative("ReportsConfig.DueAfter", c.DueAfter)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c *ReportsConfig) WithDefaults() ReportsConfig {
	out := core.Deref(c)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.DueAfter = cmp.Or(out.DueAfter, DefaultReportDueAfter)
	return out
}

// ReportActs are what a resolution does to the reported party, beyond the reports
// themselves: the host does them, with what it holds besides the SDK (tokens, event
// streams). Resolve calls the act before it marks the report resolved, so that a report
// is never marked for an act that did not happen; when the mark fails after the act, the
// operator resolves again and the act runs again. Each act must therefore be idempotent:
// a second call for the same report changes nothing and succeeds.
type ReportActs interface {
	// DeactivateMitra deactivates r's reported mitra (OutcomeMitraDeactivated).
	DeactivateMitra(ctx context.Context, r Report) error
	// SuspendClient suspends r's reported client (OutcomeClientSuspended).
	SuspendClient(ctx context.Context, r Report) error
	// RefundClient gives r's session's client back, in full, what is left of what it paid
	// for the session (OutcomeRefunded).
	RefundClient(ctx context.Context, r Report) error
}

// ReportsDeps are what a Reports works with besides its store. Both are optional: without
// a Notifier warnings are counted but not sent; without Acts the outcomes that need one
// (deactivation, suspension, refund) fail with ErrNoReportActs.
type ReportsDeps struct {
	// Notifier gets the warning events (pairing.Event, Payload WarningEvent), each for the
	// reported party.
	Notifier pairing.Notifier
	Acts     ReportActs
}

// ErrNoReportActs: the outcome needs ReportsDeps.Acts, and the host gave none.
var ErrNoReportActs = errors.New("this outcome needs ReportActs, and none were given")

// Reports files the parties' reports of their chat sessions and lets operators work them
// (SPEC §25, Reports). It owns the rules:
//
//   - only a party of a session reports it (anybody else: ErrNotFound, as for an unknown
//     session); the report is about the session's other party; the message ids it names
//     must be messages of that session (an *UnknownMessagesError, a validation error of
//     message_ids); a reporter has one open report of a session at a time (a
//     *ReportOpenError, ErrReportOpen; once resolved it may report again);
//   - a report is due ReportsConfig.DueAfter after it was filed (72 hours), and the queue
//     lists the open ones oldest due first;
//   - a resolution acts first (ReportActs; a warning is counted in the same step as the
//     mark and sent once it is stored), then marks the report resolved; a report resolved
//     already is ErrInvalidState.
//
// It is safe for concurrent use, also by several instances over one store. Two operators
// resolving one report at the same moment may both act; one of them marks it, the other
// gets ErrInvalidState.
type Reports struct {
	store    ReportStore
	notifier pairing.Notifier
	acts     ReportActs
	cfg      ReportsConfig
	log      *slog.Logger
	clock    clock.Clock
}

// NewReports returns a Reports over store (NewPostgresReportStore, or
// NewMemoryReportStoreIn). cfg may be nil. It fails, naming the field, when store is nil
// or cfg holds a negative duration.
func NewReports(store ReportStore, deps ReportsDeps, cfg *ReportsConfig) (*Reports, error) {
	if err := core.FirstError(core.Required("store", store == nil), cfg.validate()); err != nil {
		return nil, fmt.Errorf("safety.NewReports: %w", err)
	}
	c := cfg.WithDefaults()
	r := &Reports{store: store, notifier: deps.Notifier, acts: deps.Acts, cfg: c, log: c.Logger, clock: c.Clock}
	if r.notifier == nil {
		r.notifier = pairing.DiscardNotifier{}
	}
	return r, nil
}

// Store returns the store the Reports works over.
func (s *Reports) Store() ReportStore { return s.store }

// DueAfter is how long after it was filed a report is due.
func (s *Reports) DueAfter() time.Duration { return s.cfg.DueAfter }

// File stores a report of one party of a chat session about the other, open and due
// DueAfter from now. A session of which the reporter is not the party is ErrNotFound;
// message ids that are not the session's messages an *UnknownMessagesError; a second open
// report of the reporter about the session a *ReportOpenError. A note of only blanks is
// no note.
func (s *Reports) File(ctx context.Context, p FileParams) (Report, error) {
	if err := p.validate(); err != nil {
		return Report{}, err
	}
	now := s.now()
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	note := p.Note
	if strings.TrimSpace(note) == "" {
		note = ""
	}
	res, err := s.store.FileReport(ctx, Report{ID: id, ChatSessionID: p.ChatSessionID, Reporter: p.Reporter,
		ReporterID: p.ReporterID, Reason: p.Reason, MessageIDs: append([]uuid.UUID{}, p.MessageIDs...), Note: note,
		Status: ReportOpen, DueAt: now.Add(s.cfg.DueAfter), CreatedAt: now})
	if err != nil {
		return Report{}, fmt.Errorf("file a report of chat session %s: %w", p.ChatSessionID, err)
	}
	switch res.Outcome {
	case Filed:
		return res.Report, nil
	case UnknownMessages:
		return Report{}, &UnknownMessagesError{IDs: res.UnknownMessageIDs}
	case AlreadyOpen:
		return Report{}, &ReportOpenError{ReportID: res.Report.ID}
	}
	return Report{}, fmt.Errorf("file a report: chat session %s: %w", p.ChatSessionID, core.ErrNotFound)
}

// Get returns a report, or ErrNotFound.
func (s *Reports) Get(ctx context.Context, id uuid.UUID) (Report, error) {
	r, err := s.store.Report(ctx, id)
	if err != nil {
		return Report{}, fmt.Errorf("report %s: %w", id, err)
	}
	return r, nil
}

// List returns one page of the queue (see ReportQuery) and how many reports have that
// status.
func (s *Reports) List(ctx context.Context, q ReportQuery) ([]Report, int, error) {
	q, err := q.normalize()
	if err != nil {
		return nil, 0, err
	}
	items, total, err := s.store.ListReports(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s reports: %w", q.Status, err)
	}
	return items, total, nil
}

// Resolve resolves an open report with p.Outcome, in this order: the input (a
// *ValidationError naming the field; an outcome that does not fit the report — a
// deactivation of a reported client, a suspension of a reported mitra — on "outcome");
// the report (ErrNotFound; resolved already: ErrInvalidState); the act (ReportActs; its
// error is returned and nothing is marked); then the mark, with the reported party's
// warnings count for OutcomeWarned, in one store step; then, for OutcomeWarned, the
// warning event to the reported party with p.Note. It returns the report resolved.
func (s *Reports) Resolve(ctx context.Context, p ResolveParams) (Report, error) {
	if err := p.validate(); err != nil {
		return Report{}, err
	}
	r, err := s.store.Report(ctx, p.ReportID)
	if err != nil {
		return Report{}, fmt.Errorf("resolve report %s: %w", p.ReportID, err)
	}
	if r.Status != ReportOpen {
		return Report{}, fmt.Errorf("resolve report %s: it was resolved %s already: %w", r.ID, r.Outcome, core.ErrInvalidState)
	}
	if err := p.Outcome.fits(r); err != nil {
		return Report{}, err
	}
	if err := s.act(ctx, r, p.Outcome); err != nil {
		return Report{}, fmt.Errorf("resolve report %s (%s): %w", r.ID, p.Outcome, err)
	}
	res, err := s.store.ResolveReport(ctx, Resolution{ReportID: r.ID, Outcome: p.Outcome, Note: p.Note,
		OperatorID: p.OperatorID, At: s.now()})
	if err != nil {
		return Report{}, fmt.Errorf("resolve report %s (%s, acted): %w", r.ID, p.Outcome, err)
	}
	if !res.Resolved {
		return Report{}, fmt.Errorf("resolve report %s: resolved %s by another operator meanwhile: %w", r.ID,
			res.Report.Outcome, core.ErrInvalidState)
	}
	r = res.Report
	if r.Outcome == OutcomeWarned {
		e := pairing.Event{Payload: WarningEvent{ReportID: r.ID, Note: r.ResolutionNote}}
		if r.Reported == pairing.PartyMitra {
			e.MitraID = &r.ReportedID
		} else {
			e.ClientID = &r.ReportedID
		}
		s.notifier.Notify(ctx, e)
	}
	s.log.InfoContext(ctx, "report resolved", "report_id", r.ID, "outcome", r.Outcome, "reported", r.Reported,
		"reported_id", r.ReportedID, "operator_id", p.OperatorID)
	return r, nil
}

// act does what outcome does to r's reported party (nothing for no_action; a warning is
// counted with the mark).
func (s *Reports) act(ctx context.Context, r Report, outcome Outcome) error {
	if outcome == OutcomeNoAction || outcome == OutcomeWarned {
		return nil
	}
	if s.acts == nil {
		return ErrNoReportActs
	}
	switch outcome {
	case OutcomeMitraDeactivated:
		return s.acts.DeactivateMitra(ctx, r)
	case OutcomeClientSuspended:
		return s.acts.SuspendClient(ctx, r)
	default:
		return s.acts.RefundClient(ctx, r)
	}
}

// Transcript returns a page of a chat session's messages, oldest first, for an operator
// reading a reported session: whatever its state and whoever its parties (the host audits
// the read). An unknown session is ErrNotFound.
func (s *Reports) Transcript(ctx context.Context, q TranscriptQuery) (Transcript, error) {
	q, err := q.normalize()
	if err != nil {
		return Transcript{}, err
	}
	t, err := s.store.Transcript(ctx, q)
	if err != nil {
		return Transcript{}, fmt.Errorf("messages of chat session %s: %w", q.ChatSessionID, err)
	}
	return t, nil
}

// WarningsCounts returns how many warnings each of ids (of party) received (0: none).
func (s *Reports) WarningsCounts(ctx context.Context, party pairing.Party, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	if party != pairing.PartyClient && party != pairing.PartyMitra {
		return nil, core.Invalid("party", "must be %q or %q, not %q", pairing.PartyClient, pairing.PartyMitra, party)
	}
	counts, err := s.store.WarningsCounts(ctx, party, ids)
	if err != nil {
		return nil, fmt.Errorf("warnings of %d %ss: %w", len(ids), party, err)
	}
	return counts, nil
}

// WarningsCount returns how many warnings one party received.
func (s *Reports) WarningsCount(ctx context.Context, party pairing.Party, id uuid.UUID) (int, error) {
	counts, err := s.WarningsCounts(ctx, party, []uuid.UUID{id})
	if err != nil {
		return 0, err
	}
	return counts[id], nil
}

// now is the clock's time at Postgres precision, so that both stores compare alike.
func (s *Reports) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// Now is the time the Reports tells overdue reports by (Report.Overdue).
func (s *Reports) Now() time.Time { return s.now() }
