package safety

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/pairing"
)

// MaxFiledReports bounds ReportsFiledBy: a party's export lists at most this many of its
// reports, the oldest first.
const MaxFiledReports = 1000

// FiledReports is what a party's export of its own data reads of the reports: those it
// filed. Both report stores of the SDK have it.
type FiledReports interface {
	// ReportsFiledBy returns the reports party id filed, oldest first (created_at, then
	// id), at most MaxFiledReports.
	ReportsFiledBy(ctx context.Context, party pairing.Party, id uuid.UUID) ([]Report, error)
}

var (
	_ FiledReports = (*PostgresReportStore)(nil)
	_ FiledReports = (*MemoryReportStore)(nil)
)

// ReportsFiledBy reads the ids through safety_reports_reporter_idx, then each report by
// its primary key (a party files few).
func (p *PostgresReportStore) ReportsFiledBy(ctx context.Context, party pairing.Party, id uuid.UUID) ([]Report, error) {
	rows, err := p.db.Query(ctx, `SELECT id FROM safety_reports WHERE reporter_id = $1 AND reporter = $2
		ORDER BY created_at, id LIMIT $3`, id, string(party), MaxFiledReports)
	if err != nil {
		return nil, fmt.Errorf("reports filed by %s %s: %w", party, id, pgutil.Translate(err))
	}
	var ids []uuid.UUID
	for rows.Next() {
		var rid uuid.UUID
		if err := rows.Scan(&rid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reports filed by %s %s: %w", party, id, pgutil.Translate(err))
		}
		ids = append(ids, rid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reports filed by %s %s: %w", party, id, pgutil.Translate(err))
	}
	out := make([]Report, 0, len(ids))
	for _, rid := range ids {
		r, err := p.Report(ctx, rid)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *MemoryReportStore) ReportsFiledBy(_ context.Context, party pairing.Party, id uuid.UUID) ([]Report, error) {
	defer s.db.Begin().End()
	out := []Report{}
	for _, r := range s.reports {
		if r.Reporter == party && r.ReporterID == id {
			out = append(out, cloneReport(r))
		}
	}
	slices.SortFunc(out, func(a, b Report) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), slices.Compare(a.ID[:], b.ID[:]))
	})
	if len(out) > MaxFiledReports {
		out = out[:MaxFiledReports]
	}
	return out, nil
}
