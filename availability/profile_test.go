package availability_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/check"
)

func TestUpdateProfile_RefusesFieldsOutsideTheirRulesNamingTheField(t *testing.T) {
	t.Parallel()
	b := setup(t, kindMemory, setupOptions{})
	m, err := b.mirror.CreateMitra(ctxT(t), availability.CreateMitraParams{DisplayName: "Ayu"})
	require.NoError(t, err)
	edit := func(f func(p *availability.ProfileUpdate)) availability.ProfileUpdate {
		p := availability.ProfileUpdate{ID: m.ID, ExpectedProfileUpdatedAt: m.ProfileUpdatedAt, DisplayName: new("Ayu")}
		f(&p)
		return p
	}
	labels := func(l availability.Labels) func(p *availability.ProfileUpdate) {
		return func(p *availability.ProfileUpdate) { p.Labels = &l }
	}
	for _, tc := range []struct {
		name  string
		p     availability.ProfileUpdate
		field string
	}{
		{"blank name", edit(func(p *availability.ProfileUpdate) { p.DisplayName = new("  ") }), "display_name"},
		{"long name", edit(func(p *availability.ProfileUpdate) { p.DisplayName = new(strings.Repeat("a", 201)) }), "display_name"},
		{"zero max", edit(func(p *availability.ProfileUpdate) { p.ChangeMax, p.MaxConcurrentSessions = true, new(0) }), "max_concurrent_sessions"},
		{"huge max", edit(func(p *availability.ProfileUpdate) { p.ChangeMax, p.MaxConcurrentSessions = true, new(101) }), "max_concurrent_sessions"},
		{"max without ChangeMax", edit(func(p *availability.ProfileUpdate) { p.MaxConcurrentSessions = new(2) }), "max_concurrent_sessions"},
		{"not a language", edit(labels(availability.Labels{Languages: []string{"xx"}})), "labels.languages"},
		{"a three-letter code", edit(labels(availability.Labels{Languages: []string{"ind"}})), "labels.languages"},
		{"a language twice", edit(labels(availability.Labels{Languages: []string{"id", "ID"}})), "labels.languages"},
		{"too many languages", edit(labels(availability.Labels{Languages: strings.Fields("aa ab af ak am an ar as av ay az")})), "labels.languages"},
		{"an empty topic", edit(labels(availability.Labels{Topics: []string{" "}})), "labels.topics"},
		{"a long topic", edit(labels(availability.Labels{Topics: []string{strings.Repeat("t", 51)}})), "labels.topics"},
		{"a topic twice", edit(labels(availability.Labels{Topics: []string{"Work", "work"}})), "labels.topics"},
		{"too many topics", edit(labels(availability.Labels{Topics: strings.Fields("a b c d e f g h i j k l m n o p q r s t u")})), "labels.topics"},
		{"another gender", edit(labels(availability.Labels{Gender: "robot"})), "labels.gender"},
	} {
		_, err := b.mirror.UpdateProfile(ctxT(t), tc.p)
		check.Invalid(t, err, tc.field, tc.name)
	}
	_, err = b.mirror.UpdateProfile(ctxT(t), availability.ProfileUpdate{ID: m.ID, DisplayName: new("Ayu")})
	check.Invalid(t, err, "expected_profile_updated_at", "no token")
	_, err = b.mirror.UpdateProfile(ctxT(t), availability.ProfileUpdate{ExpectedProfileUpdatedAt: m.ProfileUpdatedAt})
	check.Invalid(t, err, "id", "no id")

	got, err := b.mirror.GetMitra(ctxT(t), m.ID)
	require.NoError(t, err)
	require.Equal(t, m, got, "nothing refused was written")

	// Codes are lower-cased and topics trimmed before they are checked and stored.
	edited, err := b.mirror.UpdateProfile(ctxT(t), edit(labels(availability.Labels{Languages: []string{" ID", "en"},
		Topics: []string{" work "}, Gender: availability.GenderOther})))
	require.NoError(t, err)
	require.Equal(t, availability.Labels{Languages: []string{"id", "en"}, Topics: []string{"work"}, Gender: "other"}, edited.Labels)
}

// A change of the maximum reaches the Valkey mirror at once: the mitra is available (or
// not) there as Postgres says, with no drift, and the beacon counts it.
func TestUpdateProfile_MirrorsAChangeOfTheMaximum(t *testing.T) {
	t.Parallel()
	forKinds(t, func(t *testing.T, kind string) {
		b := seeded(t, kind, setupOptions{})
		id := b.onlineMitra(t)
		b.facts.setOpen(t, id, 1)
		_, err := b.mirror.RecomputeCapacity(ctxT(t), id)
		require.NoError(t, err)
		available := func() bool {
			ids, err := b.mirror.FindAvailable(ctxT(t), availability.FindOptions{})
			require.NoError(t, err)
			return len(ids) == 1 && ids[0] == id
		}
		require.False(t, available(), "one session fills the default maximum of 1")

		m, err := b.mirror.GetMitra(ctxT(t), id)
		require.NoError(t, err)
		m, err = b.mirror.UpdateProfile(ctxT(t), availability.ProfileUpdate{ID: id, ExpectedProfileUpdatedAt: m.ProfileUpdatedAt,
			ChangeMax: true, MaxConcurrentSessions: new(2)})
		require.NoError(t, err)
		require.True(t, available(), "a second slot")
		b.requireNoDrift(t)

		_, err = b.mirror.UpdateProfile(ctxT(t), availability.ProfileUpdate{ID: id, ExpectedProfileUpdatedAt: m.ProfileUpdatedAt,
			ChangeMax: true})
		require.NoError(t, err)
		require.False(t, available(), "back to the default maximum")
		b.requireNoDrift(t)

		_, err = b.mirror.UpdateProfile(ctxT(t), availability.ProfileUpdate{ID: uuid.New(), ExpectedProfileUpdatedAt: m.ProfileUpdatedAt,
			ChangeMax: true})
		require.ErrorIs(t, err, availability.ErrNotFound)
	})
}
