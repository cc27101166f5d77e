package availabilitytest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/check"
)

// runProfileContract is the part of RunStoreContract that pins operators' profile edits:
// locked on profile_updated_at, which presence never moves.
func runProfileContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("PresenceNeverMovesProfileUpdatedAt", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := createMitra(t, h.Store, "a")
		check.False(t, m.ProfileUpdatedAt.IsZero(), "a new mitra has a profile token")
		check.Equal(t, availability.Labels{}, m.Labels, "and no labels")
		token := m.ProfileUpdatedAt

		_, err := h.Store.SetOnline(ctx, m.ID, t0)
		check.NoError(t, err)
		_, err = h.Store.Heartbeat(ctx, m.ID, t0.Add(time.Second))
		check.NoError(t, err)
		_, err = h.Store.MirrorHeartbeats(ctx, []availability.HeartbeatAt{{MitraID: m.ID, At: t0.Add(2 * time.Second)}})
		check.NoError(t, err)
		_, err = h.Store.LowerHeartbeat(ctx, m.ID, t0.Add(time.Second))
		check.NoError(t, err)
		_, _, err = h.Store.SetAway(ctx, m.ID, availability.AwayMissedOffers)
		check.NoError(t, err)
		_, err = h.Store.SetOnline(ctx, m.ID, t0.Add(3*time.Second))
		check.NoError(t, err)
		_, err = h.Store.OfflineStale(ctx, []uuid.UUID{m.ID}, t0.Add(time.Hour))
		check.NoError(t, err)
		h.SetOpenSessions(t, m.ID, 1)
		check.NoError(t, h.Store.LockStates(ctx, []uuid.UUID{m.ID}, time.Time{}, func([]availability.MitraState) error { return nil }))
		_, err = h.Store.SetOffline(ctx, m.ID)
		check.NoError(t, err)

		got, err := h.Store.GetMitra(ctx, m.ID)
		check.NoError(t, err)
		check.True(t, got.UpdatedAt.After(m.UpdatedAt), "presence moved updated_at")
		check.Equal(t, token, got.ProfileUpdatedAt, "but not profile_updated_at")

		_, err = h.Store.UpdateProfile(ctx, availability.ProfileUpdate{ID: m.ID, ExpectedProfileUpdatedAt: token,
			DisplayName: new("b")})
		check.NoError(t, err, "an edit made before all that presence is not stale")
	})

	t.Run("UpdateProfileWritesWhatItSetsAndIsLockedOnProfileUpdatedAt", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		m := createMitra(t, h.Store, "Ayu")
		labels := availability.Labels{Languages: []string{"id", "jv"}, Topics: []string{"work", "family"}, Gender: availability.GenderFemale}
		edited, err := h.Store.UpdateProfile(ctx, availability.ProfileUpdate{ID: m.ID, ExpectedProfileUpdatedAt: m.ProfileUpdatedAt,
			DisplayName: new("Ayu Lestari"), ChangeMax: true, MaxConcurrentSessions: new(3), Labels: &labels})
		check.NoError(t, err)
		check.Equal(t, "Ayu Lestari", edited.DisplayName)
		check.Equal(t, 3, *edited.MaxConcurrentSessions)
		check.Equal(t, labels, edited.Labels)
		check.True(t, edited.ProfileUpdatedAt.After(m.ProfileUpdatedAt), "the token moves forward")
		check.True(t, edited.UpdatedAt.After(m.UpdatedAt))
		read, err := h.Store.GetMitra(ctx, m.ID)
		check.NoError(t, err)
		check.Equal(t, edited, read)

		// The token the first edit was made from is stale now: nothing is written, and the
		// error carries the mitra as it is.
		_, err = h.Store.UpdateProfile(ctx, availability.ProfileUpdate{ID: m.ID, ExpectedProfileUpdatedAt: m.ProfileUpdatedAt,
			DisplayName: new("Late")})
		check.ErrorIs(t, err, availability.ErrStaleWrite)
		var stale *availability.StaleProfileError
		check.ErrorAs(t, err, &stale)
		check.Equal(t, edited, stale.Current)
		read, err = h.Store.GetMitra(ctx, m.ID)
		check.NoError(t, err)
		check.Equal(t, edited, read, "unchanged")

		// Only what is set changes; a nil maximum with ChangeMax clears it; labels replace
		// the old ones as a whole.
		cleared, err := h.Store.UpdateProfile(ctx, availability.ProfileUpdate{ID: m.ID, ExpectedProfileUpdatedAt: edited.ProfileUpdatedAt,
			ChangeMax: true, Labels: &availability.Labels{Topics: []string{"grief"}}})
		check.NoError(t, err)
		check.Equal(t, "Ayu Lestari", cleared.DisplayName, "the name stays")
		check.Nil(t, cleared.MaxConcurrentSessions, "the runtime default applies")
		check.Equal(t, availability.Labels{Topics: []string{"grief"}}, cleared.Labels)
		check.Nil(t, stateOf(t, h.Store, m.ID).MaxConcurrentSessions, "the state the mirror reads follows")
		kept, err := h.Store.UpdateProfile(ctx, availability.ProfileUpdate{ID: m.ID, ExpectedProfileUpdatedAt: cleared.ProfileUpdatedAt,
			DisplayName: new("Ayu")})
		check.NoError(t, err)
		check.Equal(t, cleared.Labels, kept.Labels, "labels not given stay")
		check.Nil(t, kept.MaxConcurrentSessions)

		_, err = h.Store.UpdateProfile(ctx, availability.ProfileUpdate{ID: uuid.New(), ExpectedProfileUpdatedAt: t0, DisplayName: new("x")})
		check.ErrorIs(t, err, availability.ErrNotFound)
	})
}
