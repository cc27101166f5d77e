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

func TestSuspendedClient_StartsNoChatUntilReinstated(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		c, err := e.p.SetClientActive(ctx, client, false)
		require.NoError(t, err)
		require.False(t, c.IsActive)

		_, _, err = e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.ErrorIs(t, err, pairing.ErrClientSuspended)
		_, err = e.p.StartTargeted(ctx, client, m, 10)
		require.ErrorIs(t, err, pairing.ErrClientSuspended)
		require.Zero(t, e.payments.Created(), "nothing charged")
		require.Empty(t, e.offers(t, m), "nobody offered")

		_, err = e.p.SetClientActive(ctx, client, true)
		require.NoError(t, err)
		pr, _, err := e.p.StartBlast(ctx, pairing.StartParams{ClientID: client, Minutes: 10})
		require.NoError(t, err, "reinstated")
		require.Equal(t, pairing.StatusAwaitingPayment, pr.Status)

		_, err = e.p.SetClientActive(ctx, uuid.New(), false)
		require.ErrorIs(t, err, pairing.ErrNotFound)
	})
}

func TestSuspendedClient_CannotFallBackToABlast(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		client, m := e.returning(t)
		e.avail.SetOnline(m, false)
		pr, err := e.p.StartTargeted(ctx, client, m, 10)
		require.NoError(t, err)
		require.Equal(t, pairing.StatusTargetedUnavailable, pr.Status)

		_, err = e.p.SetClientActive(ctx, client, false)
		require.NoError(t, err)
		_, _, err = e.p.FallbackToBlast(ctx, client, pr.ID)
		require.ErrorIs(t, err, pairing.ErrClientSuspended)
		require.Zero(t, e.payments.Created(), "nothing charged")
		require.Equal(t, pairing.StatusTargetedUnavailable, e.pairing(t, pr.ID).Status, "unchanged")

		_, err = e.p.SetClientActive(ctx, client, true)
		require.NoError(t, err)
		fb, _, err := e.p.FallbackToBlast(ctx, client, pr.ID)
		require.NoError(t, err)
		require.Equal(t, pairing.TypeBlast, fb.Type)
	})
}

func TestListClients_ValidatesTheQueryAndPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0])
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		q     pairing.ClientQuery
		field string
	}{
		{"a long query", pairing.ClientQuery{Query: strings.Repeat("é", pairing.MaxClientQueryLength+1)}, "q"},
		{"NUL", pairing.ClientQuery{Query: "De\x00wi"}, "q"},
		{"a negative page", pairing.ClientQuery{Page: -1}, "page"},
		{"a big page", pairing.ClientQuery{PageSize: 101}, "page_size"},
	} {
		_, _, err := e.p.ListClients(ctx, tc.q)
		var verr *core.ValidationError
		require.ErrorAs(t, err, &verr, tc.name)
		require.Equal(t, tc.field, verr.Field, tc.name)
	}
	c, err := e.p.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
	require.NoError(t, err)
	got, total, err := e.p.ListClients(ctx, pairing.ClientQuery{Query: "  dew  "})
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, []pairing.Client{c}, got, "the query trimmed, the page defaulted")
}

func TestListWaitingPairings_RefusesAStatusNobodyWaitsIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0])
	for _, st := range []pairing.Status{pairing.StatusMatched, pairing.StatusFailed, "nonsense"} {
		_, _, err := e.p.ListWaitingPairings(context.Background(), pairing.WaitingQuery{Statuses: []pairing.Status{st}})
		var verr *core.ValidationError
		require.ErrorAs(t, err, &verr, st)
		require.Equal(t, "status", verr.Field)
	}
}

// A paid blast nobody has accepted yet is listed with its offers; once accepted it is a
// running chat, the one ending soonest first.
func TestLiveLists_FollowABlastFromWaitingToRunning(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		m1 := e.onlineMitra(t)
		e.onlineMitra(t)
		pr, _ := e.paidBlast(t, 10)
		waiting, total, err := e.p.ListWaitingPairings(ctx, pairing.WaitingQuery{})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, pr.ID, waiting[0].ID)
		require.Equal(t, pairing.StatusSearching, waiting[0].Waiting)
		require.Equal(t, 2, waiting[0].Offers, "offered to both mitras")
		require.Equal(t, "client", waiting[0].ClientName)

		e.clock.Advance(5 * time.Second)
		s, err := e.p.Accept(ctx, m1, pr.ID)
		require.NoError(t, err)
		_, total, err = e.p.ListWaitingPairings(ctx, pairing.WaitingQuery{})
		require.NoError(t, err)
		require.Zero(t, total, "matched: nobody waits")
		running, total, err := e.p.ListActiveSessions(ctx, pairing.ActiveSessionQuery{})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, s.ID, running[0].ID)
		require.Equal(t, t0.Add(5*time.Second+10*time.Minute), *running[0].EndsAt)
		require.Equal(t, "client", running[0].ClientName)
	})
}
