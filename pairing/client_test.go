package pairing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

func TestRegisterClient_IsIdempotentForTheSameNameAndConflictsForAnother(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		id := uuid.New()
		c, err := e.p.RegisterClient(ctx, pairing.RegisterClientParams{ID: id, DisplayName: "  Dewi "})
		require.NoError(t, err)
		require.Equal(t, pairing.Client{ID: id, DisplayName: "Dewi", IsActive: true, CreatedAt: t0}, c, "the host's id, the name trimmed")

		e.clock.Advance(time.Minute)
		again, err := e.p.RegisterClient(ctx, pairing.RegisterClientParams{ID: id, DisplayName: "Dewi"})
		require.NoError(t, err)
		require.Equal(t, c, again, "a retried registration answers the client as first registered")
		_, err = e.p.RegisterClient(ctx, pairing.RegisterClientParams{ID: id, DisplayName: "Ayu"})
		require.ErrorIs(t, err, pairing.ErrConflict)

		generated, err := e.p.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Ayu"})
		require.NoError(t, err)
		require.NotEqual(t, uuid.Nil, generated.ID, "no id: the SDK makes one")
		read, err := e.p.GetClient(ctx, generated.ID)
		require.NoError(t, err)
		require.Equal(t, generated, read)
		_, err = e.p.GetClient(ctx, uuid.New())
		require.ErrorIs(t, err, pairing.ErrNotFound)
	})
}

func TestRegisterClient_RefusesANameThatIsEmptyTooLongOrNotText(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0])
	for _, tc := range []struct{ name, displayName string }{
		{"empty", ""},
		{"spaces only", "   "},
		{"too long", strings.Repeat("é", pairing.MaxClientNameLength+1)},
		{"NUL", "De\x00wi"},
		{"not UTF-8", "De\xffwi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.p.RegisterClient(context.Background(), pairing.RegisterClientParams{DisplayName: tc.displayName})
			var verr *core.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Equal(t, "display_name", verr.Field)
		})
	}
	_, err := e.p.RegisterClient(context.Background(), pairing.RegisterClientParams{DisplayName: strings.Repeat("é", pairing.MaxClientNameLength)})
	require.NoError(t, err, "the longest name, in characters")
}

func TestStartBlast_ForAClientNeverRegisteredIsNotFound(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		unknown := uuid.New()
		_, _, err := e.p.StartBlast(context.Background(), pairing.StartParams{ClientID: unknown, Minutes: 30})
		require.ErrorIs(t, err, pairing.ErrNotFound)
		require.ErrorContains(t, err, "client "+unknown.String())
		require.Zero(t, e.payments.Created(), "nothing charged")
	})
}
