package availability_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
)

// labelEdit sets a mitra's labels through m.
func labelEdit(t *testing.T, m *availability.Mirror, id uuid.UUID, l availability.Labels) {
	t.Helper()
	cur, err := m.GetMitra(ctxT(t), id)
	require.NoError(t, err)
	_, err = m.UpdateProfile(ctxT(t), availability.ProfileUpdate{ID: id, ExpectedProfileUpdatedAt: cur.ProfileUpdatedAt, Labels: &l})
	require.NoError(t, err)
}

func TestFilterByLabels_KeepsTheMitrasWhoseLabelsFitInTheirOrder(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{kindMemory, kindValkey} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := setup(t, kind, setupOptions{})
			ayu, budi, citra := b.newMitra(t), b.newMitra(t), b.newMitra(t)
			labelEdit(t, b.mirror, ayu, availability.Labels{Languages: []string{"id", "en"}, Topics: []string{"Work"}, Gender: "female"})
			labelEdit(t, b.mirror, budi, availability.Labels{Languages: []string{"id"}, Gender: "male"})
			ids := []uuid.UUID{ayu, budi, citra}
			female := func(l availability.Labels) bool { return l.Gender == "female" }
			speaksID := func(l availability.Labels) bool { return slices.Contains(l.Languages, "id") }

			got, err := b.mirror.FilterByLabels(ctxT(t), ids, 0, female)
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{ayu}, got)
			got, err = b.mirror.FilterByLabels(ctxT(t), ids, 0, speaksID)
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{ayu, budi}, got, "in the order of ids")
			got, err = b.mirror.FilterByLabels(ctxT(t), ids, 1, speaksID)
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{ayu}, got, "the first limit of them")
			got, err = b.mirror.FilterByLabels(ctxT(t), ids, 0, func(l availability.Labels) bool { return len(l.Topics) == 0 })
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{budi, citra}, got, "a mitra without labels is seen with empty ones")

			// An edit through this mirror is seen at once, a cleared label too.
			labelEdit(t, b.mirror, ayu, availability.Labels{})
			got, err = b.mirror.FilterByLabels(ctxT(t), ids, 0, female)
			require.NoError(t, err)
			require.Empty(t, got)
		})
	}
}

// Another instance's edit reaches this mirror's copy at its next refresh, without a read
// of every mitra.
func TestFilterByLabels_SeesAnotherInstancesEditWithinTheRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t, kindValkey, setupOptions{})
	other := b.postgresOnly() // the second instance: its own copy of the labels
	id := b.newMitra(t)
	match := func() []uuid.UUID {
		got, err := b.mirror.FilterByLabels(ctxT(t), []uuid.UUID{id}, 0, func(l availability.Labels) bool {
			return slices.Contains(l.Languages, "jv")
		})
		require.NoError(t, err)
		return got
	}
	require.Empty(t, match())

	labelEdit(t, other, id, availability.Labels{Languages: []string{"jv"}})
	require.Empty(t, match(), "this copy is fresh for DefaultLabelRefresh")
	b.clock.Advance(availability.DefaultLabelRefresh)
	require.Equal(t, []uuid.UUID{id}, match(), "refreshed from the profiles edited since")

	labelEdit(t, other, id, availability.Labels{Languages: []string{"su"}})
	b.clock.Advance(availability.DefaultLabelRefresh + time.Millisecond)
	require.Empty(t, match())
}

// Mitras sharing their labels are asked about once: the filter's question is put once per
// distinct label set, not once per mitra.
func TestFilterByLabels_AsksOncePerDistinctLabelSet(t *testing.T) {
	t.Parallel()
	b := setup(t, kindMemory, setupOptions{})
	var ids []uuid.UUID
	for i := range 6 {
		id := b.newMitra(t)
		ids = append(ids, id)
		lang := []string{"id", "jv"}[i%2]
		labelEdit(t, b.mirror, id, availability.Labels{Languages: []string{lang}, Topics: []string{"work"}})
	}
	ids = append(ids, b.newMitra(t)) // no labels
	asked := 0
	got, err := b.mirror.FilterByLabels(ctxT(t), ids, 0, func(l availability.Labels) bool {
		asked++
		return slices.Contains(l.Languages, "jv")
	})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{ids[1], ids[3], ids[5]}, got)
	require.Equal(t, 3, asked, "two label sets and the empty one")
}
