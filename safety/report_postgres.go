package safety

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/pairing"
)

// PostgresReportStore is the ReportStore over safety_reports and the warnings_count
// columns of mitras and clients (and chat_sessions and chat_messages, read in the same
// statements).
type PostgresReportStore struct {
	db DB
}

var _ ReportStore = (*PostgresReportStore)(nil)

// NewPostgresReportStore returns a ReportStore over db: a *pgxpool.Pool, or a pgx.Tx
// whose commit or rollback decides the store's writes (curhat.DB). The schema comes from
// curhat.Migrate.
func NewPostgresReportStore(db DB) *PostgresReportStore { return &PostgresReportStore{db: db} }

// WithTx returns a copy of p whose every statement runs in tx, the caller's transaction.
func (p *PostgresReportStore) WithTx(tx pgx.Tx) *PostgresReportStore {
	return &PostgresReportStore{db: tx}
}

// reportColumns are the columns of a Report, in scanReport's order.
const reportColumns = `id, chat_session_id, reporter, reporter_id, reported, reported_id, reason, message_ids,
       note, status, due_at, outcome, resolution_note, resolved_by, resolved_at, created_at`

// reportParties are each party's id column in chat_sessions, and its other party's.
var reportParties = map[pairing.Party]struct{ id, other, otherID string }{
	pairing.PartyClient: {"client_id", "mitra", "mitra_id"},
	pairing.PartyMitra:  {"mitra_id", "client", "client_id"},
}

// fileReportSQL is the statement of each reporter, built once.
var fileReportSQL = func() map[pairing.Party]string {
	out := map[pairing.Party]string{}
	for party, c := range reportParties {
		out[party] = strings.NewReplacer("{party}", string(party), "{id}", c.id, "{other}", c.other,
			"{other_id}", c.otherID, "{columns}", reportColumns).Replace(fileReportTemplate)
	}
	return out
}()

// fileReportTemplate checks the session and the reporter, lists the message ids that are
// not messages of the session (in the report's order), and otherwise inserts the report —
// unless the reporter has an open one of the session (the partial unique index answers
// that, also under concurrent reports: ON CONFLICT waits for the other's commit). One
// statement, one round trip. The open report it returns is the one the statement's
// snapshot saw (none when it was filed concurrently: FileReport reads it then). $1 id,
// $2 session, $3 reporter id, $4 reason, $5 message ids, $6 note, $7 due_at,
// $8 created_at.
const fileReportTemplate = `
WITH s AS (
    SELECT s.{other_id} AS reported_id FROM chat_sessions s WHERE s.id = $2 AND s.{id} = $3
),
unknown AS (
    SELECT array_agg(u.id ORDER BY u.ord) AS ids FROM unnest($5::uuid[]) WITH ORDINALITY AS u(id, ord)
     WHERE EXISTS (SELECT FROM s)
       AND NOT EXISTS (SELECT FROM chat_messages m WHERE m.id = u.id AND m.chat_session_id = $2)
),
ins AS (
    INSERT INTO safety_reports (id, chat_session_id, reporter, reporter_id, reported, reported_id, reason, message_ids,
                                note, status, due_at, created_at)
    SELECT $1, $2, '{party}', $3, '{other}', s.reported_id, $4, $5::uuid[], $6, 'open', $7, $8
      FROM s, unknown WHERE unknown.ids IS NULL
    ON CONFLICT (chat_session_id, reporter) WHERE status = 'open' DO NOTHING
    RETURNING {columns}
)
SELECT EXISTS (SELECT FROM s), (SELECT ids FROM unknown), got.*
  FROM (SELECT 1) one
  LEFT JOIN (SELECT * FROM ins UNION ALL
             SELECT {columns} FROM safety_reports
              WHERE chat_session_id = $2 AND reporter = '{party}' AND status = 'open' AND NOT EXISTS (SELECT FROM ins)) got ON true`

func (p *PostgresReportStore) FileReport(ctx context.Context, r Report) (FileResult, error) {
	// What the table's checks refuse, refused before the checks of the session and the
	// messages answer otherwise (as the memory store does).
	if err := checkReport(r); err != nil {
		return FileResult{}, fmt.Errorf("file report: %w", err)
	}
	q := fileReportSQL[r.Reporter]
	for attempt := 0; ; attempt++ {
		var (
			found   bool
			unknown []uuid.UUID
			sr      scannedReport
		)
		err := p.db.QueryRow(ctx, q, r.ID, r.ChatSessionID, r.ReporterID, string(r.Reason), reportNonNilIDs(r.MessageIDs),
			pgutil.Nullable(r.Note), r.DueAt, r.CreatedAt).Scan(append([]any{&found, &unknown}, sr.targets()...)...)
		if err != nil {
			return FileResult{}, pgutil.Translate(err)
		}
		switch {
		case !found:
			return FileResult{Outcome: NotParty}, nil
		case len(unknown) > 0:
			return FileResult{Outcome: UnknownMessages, UnknownMessageIDs: unknown}, nil
		case sr.id == nil:
			// Filed concurrently by the same reporter, and committed after this statement's
			// snapshot was taken: read it again.
			if attempt < 2 {
				continue
			}
			return FileResult{}, fmt.Errorf("file report: the open report of chat session %s by its %s cannot be read: %w",
				r.ChatSessionID, r.Reporter, core.ErrUnavailable)
		}
		got := sr.report()
		if got.ID != r.ID {
			return FileResult{Outcome: AlreadyOpen, Report: got}, nil
		}
		return FileResult{Outcome: Filed, Report: got}, nil
	}
}

func (p *PostgresReportStore) Report(ctx context.Context, id uuid.UUID) (Report, error) {
	var sr scannedReport
	err := p.db.QueryRow(ctx, `SELECT `+reportColumns+` FROM safety_reports WHERE id = $1`, id).Scan(sr.targets()...)
	if err != nil {
		return Report{}, fmt.Errorf("report %s: %w", id, pgutil.Translate(err))
	}
	return sr.report(), nil
}

// The order of each status's queue (the partial indexes serve them).
var reportListOrder = map[ReportStatus]string{
	ReportOpen:     "due_at, id",
	ReportResolved: "resolved_at DESC, id",
}

func (p *PostgresReportStore) ListReports(ctx context.Context, q ReportQuery) ([]Report, int, error) {
	order, ok := reportListOrder[q.Status]
	if !ok {
		return nil, 0, fmt.Errorf("list reports: %w", core.Invalid("status", "must be %q or %q", ReportOpen, ReportResolved))
	}
	rows, err := p.db.Query(ctx, `SELECT `+reportColumns+`, count(*) OVER () FROM safety_reports WHERE status = $1
		ORDER BY `+order+` LIMIT $2 OFFSET $3`, string(q.Status), q.PageSize, (q.Page-1)*q.PageSize)
	if err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	defer rows.Close()
	out := []Report{}
	total := 0
	for rows.Next() {
		var sr scannedReport
		if err := rows.Scan(append(sr.targets(), &total)...); err != nil {
			return nil, 0, pgutil.Translate(err)
		}
		out = append(out, sr.report())
	}
	if err := rows.Err(); err != nil {
		return nil, 0, pgutil.Translate(err)
	}
	if len(out) == 0 && q.Page > 1 {
		// Past the last page: the window counted nothing.
		err := p.db.QueryRow(ctx, `SELECT count(*) FROM safety_reports WHERE status = $1`, string(q.Status)).Scan(&total)
		return out, total, pgutil.Translate(err)
	}
	return out, total, nil
}

// reportResolveSQL marks the report resolved if it is open and, for a warning, adds one to the
// reported party's warnings count — one statement, so both or neither. $1 id, $2 outcome,
// $3 note, $4 operator, $5 at.
const reportResolveSQL = `
WITH r AS (
    UPDATE safety_reports SET status = 'resolved', outcome = $2, resolution_note = $3, resolved_by = $4, resolved_at = $5
     WHERE id = $1 AND status = 'open'
    RETURNING ` + reportColumns + `
),
warned_mitra AS (
    UPDATE mitras m SET warnings_count = m.warnings_count + 1
      FROM r WHERE r.outcome = 'warned' AND r.reported = 'mitra' AND m.id = r.reported_id
    RETURNING 1
),
warned_client AS (
    UPDATE clients c SET warnings_count = c.warnings_count + 1
      FROM r WHERE r.outcome = 'warned' AND r.reported = 'client' AND c.id = r.reported_id
    RETURNING 1
)
SELECT ` + reportColumns + ` FROM r`

func (p *PostgresReportStore) ResolveReport(ctx context.Context, res Resolution) (ResolveResult, error) {
	var sr scannedReport
	err := p.db.QueryRow(ctx, reportResolveSQL, res.ReportID, string(res.Outcome), res.Note, res.OperatorID, res.At).Scan(sr.targets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		// Not open: resolved already, or no such report.
		r, err := p.Report(ctx, res.ReportID)
		if err != nil {
			return ResolveResult{}, fmt.Errorf("resolve: %w", err)
		}
		return ResolveResult{Report: r}, nil
	}
	if err != nil {
		return ResolveResult{}, fmt.Errorf("resolve report %s: %w", res.ReportID, pgutil.Translate(err))
	}
	return ResolveResult{Report: sr.report(), Resolved: true}, nil
}

// reportTranscriptSQL reads the session and a page of its messages: one row per message, or
// one row without a message. $1 session, $2 after_seq, $3 limit.
const reportTranscriptSQL = `
SELECT s.client_id, s.mitra_id, s.status, m.id, m.seq, m.sender, m.client_msg_id, m.text, m.flags, m.created_at
  FROM chat_sessions s
  LEFT JOIN LATERAL (
      SELECT id, seq, sender, client_msg_id, text, flags, created_at FROM chat_messages
       WHERE chat_session_id = s.id AND seq > $2 ORDER BY seq LIMIT $3
  ) m ON true
 WHERE s.id = $1
 ORDER BY m.seq`

func (p *PostgresReportStore) Transcript(ctx context.Context, q TranscriptQuery) (Transcript, error) {
	rows, err := p.db.Query(ctx, reportTranscriptSQL, q.ChatSessionID, q.AfterSeq, q.Limit)
	if err != nil {
		return Transcript{}, pgutil.Translate(err)
	}
	defer rows.Close()
	out := Transcript{ChatSessionID: q.ChatSessionID, Messages: []chat.Message{}}
	found := false
	for rows.Next() {
		var (
			id                        *uuid.UUID
			seq                       *int64
			sender, clientMsgID, text *string
			flags                     []string
			createdAt                 *time.Time
		)
		if err := rows.Scan(&out.ClientID, &out.MitraID, &out.Status, &id, &seq, &sender, &clientMsgID, &text, &flags,
			&createdAt); err != nil {
			return Transcript{}, pgutil.Translate(err)
		}
		found = true
		if id == nil {
			continue
		}
		m := chat.Message{ID: *id, ChatSessionID: q.ChatSessionID, Seq: *seq, Sender: pairing.Party(*sender),
			ClientMsgID: *clientMsgID, Text: *text, Flags: make([]chat.Flag, len(flags)), CreatedAt: createdAt.UTC()}
		for i, f := range flags {
			m.Flags[i] = chat.Flag(f)
		}
		out.Messages = append(out.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return Transcript{}, pgutil.Translate(err)
	}
	if !found {
		return Transcript{}, fmt.Errorf("chat session %s: %w", q.ChatSessionID, core.ErrNotFound)
	}
	return out, nil
}

// reportWarningsSQL reads the warnings counts of each party's table.
var reportWarningsSQL = map[pairing.Party]string{
	pairing.PartyClient: `SELECT id, warnings_count FROM clients WHERE id = ANY($1)`,
	pairing.PartyMitra:  `SELECT id, warnings_count FROM mitras WHERE id = ANY($1)`,
}

func (p *PostgresReportStore) WarningsCounts(ctx context.Context, party pairing.Party, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	q, ok := reportWarningsSQL[party]
	if !ok {
		return nil, core.Invalid("party", "must be %q or %q, not %q", pairing.PartyClient, pairing.PartyMitra, party)
	}
	out := make(map[uuid.UUID]int, len(ids))
	for _, id := range ids {
		out[id] = 0
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := p.db.Query(ctx, q, ids)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, pgutil.Translate(err)
		}
		out[id] = n
	}
	return out, pgutil.Translate(rows.Err())
}

func (p *PostgresReportStore) OpenReportMessageIDs(ctx context.Context) ([]uuid.UUID, error) {
	return p.ids(ctx, `SELECT DISTINCT m FROM safety_reports, unnest(message_ids) AS m WHERE status = 'open'`)
}

func (p *PostgresReportStore) OpenReportSessionIDs(ctx context.Context) ([]uuid.UUID, error) {
	return p.ids(ctx, `SELECT DISTINCT chat_session_id FROM safety_reports WHERE status = 'open'`)
}

func (p *PostgresReportStore) ids(ctx context.Context, q string) ([]uuid.UUID, error) {
	rows, err := p.db.Query(ctx, q)
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, pgutil.Translate(err)
	}
	if out == nil {
		out = []uuid.UUID{}
	}
	return out, nil
}

// reportRedactSQL redacts the notes of a party's reports, either side, that still hold one. $1
// party, $2 id, $3 the redacted text.
const reportRedactSQL = `
UPDATE safety_reports
   SET note = CASE WHEN note IS NULL THEN NULL ELSE $3 END,
       resolution_note = CASE WHEN resolution_note IS NULL THEN NULL ELSE $3 END
 WHERE ((reporter = $1 AND reporter_id = $2) OR (reported = $1 AND reported_id = $2))
   AND (note <> $3 OR resolution_note <> $3)`

func (p *PostgresReportStore) RedactReportsOf(ctx context.Context, party pairing.Party, id uuid.UUID) (int, error) {
	tag, err := p.db.Exec(ctx, reportRedactSQL, string(party), id, RedactedNote)
	if err != nil {
		return 0, fmt.Errorf("redact the reports of %s %s: %w", party, id, pgutil.Translate(err))
	}
	return int(tag.RowsAffected()), nil
}

// scannedReport is a report's columns, each NULL when a LEFT JOIN found none.
type scannedReport struct {
	id, chatSessionID, reporterID, reportedID, resolvedBy *uuid.UUID
	reporter, reported, reason, status                    *string
	note, outcome, resolutionNote                         *string
	messageIDs                                            []uuid.UUID
	dueAt, resolvedAt, createdAt                          *time.Time
}

func (s *scannedReport) targets() []any {
	return []any{&s.id, &s.chatSessionID, &s.reporter, &s.reporterID, &s.reported, &s.reportedID, &s.reason,
		&s.messageIDs, &s.note, &s.status, &s.dueAt, &s.outcome, &s.resolutionNote, &s.resolvedBy, &s.resolvedAt,
		&s.createdAt}
}

func (s *scannedReport) report() Report {
	r := Report{ID: *s.id, ChatSessionID: *s.chatSessionID, Reporter: pairing.Party(*s.reporter), ReporterID: *s.reporterID,
		Reported: pairing.Party(*s.reported), ReportedID: *s.reportedID, Reason: ReportReason(*s.reason),
		MessageIDs: reportNonNilIDs(s.messageIDs), Note: pgutil.Deref(s.note), Status: ReportStatus(*s.status),
		DueAt: s.dueAt.UTC(), Outcome: Outcome(pgutil.Deref(s.outcome)), ResolutionNote: pgutil.Deref(s.resolutionNote),
		ResolvedBy: s.resolvedBy, ResolvedAt: pgutil.UTCPtr(s.resolvedAt), CreatedAt: s.createdAt.UTC()}
	return r
}

func reportNonNilIDs(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}
