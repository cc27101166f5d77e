package availability

import (
	"context"
	"time"
)

// LabelsChangedSince reads the labels of the mitras whose profile changed at or after
// since, or of every labelled mitra for the zero time.
func (s *MemoryStore) LabelsChangedSince(_ context.Context, since time.Time) ([]MitraLabels, time.Time, error) {
	defer s.db.Begin().End()
	var out []MitraLabels
	now := since
	for _, m := range s.mitras {
		if m.ProfileUpdatedAt.After(now) {
			now = m.ProfileUpdatedAt
		}
		if since.IsZero() && m.Labels.empty() || !since.IsZero() && m.ProfileUpdatedAt.Before(since) {
			continue
		}
		out = append(out, MitraLabels{ID: m.ID, Labels: m.Labels.clone()})
	}
	return out, now, nil
}
