package availability

import "context"

func (s *MemoryStore) UpdateProfile(_ context.Context, p ProfileUpdate) (Mitra, error) {
	defer s.db.Begin().End()
	m, ok := s.mitras[p.ID]
	if !ok {
		return Mitra{}, ErrNotFound
	}
	if !m.ProfileUpdatedAt.Equal(p.ExpectedProfileUpdatedAt) {
		return Mitra{}, &StaleProfileError{Current: clone(m)}
	}
	if p.DisplayName != nil {
		m.DisplayName = *p.DisplayName
	}
	if p.ChangeMax {
		m.MaxConcurrentSessions = nil
		if p.MaxConcurrentSessions != nil {
			n := *p.MaxConcurrentSessions
			m.MaxConcurrentSessions = &n
		}
	}
	if p.Labels != nil {
		m.Labels = p.Labels.clone()
	}
	m.UpdatedAt = s.stamp()
	m.ProfileUpdatedAt = m.UpdatedAt
	return clone(m), nil
}
