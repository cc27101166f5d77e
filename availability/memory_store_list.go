package availability

import (
	"cmp"
	"context"
	"slices"
	"strings"
)

// ListMitras filters, sorts and pages in memory, as the Postgres store does in SQL.
func (s *MemoryStore) ListMitras(ctx context.Context, q MitraListQuery) ([]ListedMitra, int, error) {
	query := strings.ToLower(q.Query)
	var match []ListedMitra
	rows, counts := s.snapshot(nil)
	for _, m := range rows {
		if query != "" && !strings.Contains(strings.ToLower(m.DisplayName), query) && m.ID.String() != query {
			continue
		}
		if q.IsActive != nil && m.IsActive != *q.IsActive {
			continue
		}
		if q.Online != nil && (m.IsOnline && m.IsActive) != *q.Online {
			continue
		}
		open, err := s.countOpen(ctx, counts, m.ID)
		if err != nil {
			return nil, 0, err
		}
		st := MitraState{MaxConcurrentSessions: m.MaxConcurrentSessions, OpenSessions: open}
		if q.AtCapacity != nil && st.AtCapacity(q.DefaultMax) != *q.AtCapacity {
			continue
		}
		match = append(match, ListedMitra{Mitra: m, OpenSessions: open})
	}
	slices.SortFunc(match, func(a, b ListedMitra) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID.String(), a.ID.String())
	})
	total := len(match)
	start := min(q.Offset, total)
	end := min(start+q.Limit, total)
	return slices.Clip(append([]ListedMitra{}, match[start:end]...)), total, nil
}
