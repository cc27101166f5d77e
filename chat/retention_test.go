package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/pairing"
)

// retention is a Settings with chat_message_retention_days.
type retention struct {
	*rate
	keep time.Duration
}

func (r retention) ChatMessageRetention(context.Context) time.Duration { return r.keep }

func TestSweepRetention_DeletesWhatIsOlderThanTheSettingAndArchiveStillPagesTheRest(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, store chat.Store, f facts) {
		b := newBundle(t, store, f, chat.Deps{Settings: retention{newRate(60), 48 * time.Hour}})
		s := f.startSession(t, t0, 24*60)
		_, err := sendAs(b, s, pairing.PartyClient, "old", "two days ago")
		require.NoError(t, err)
		b.clock.Advance(time.Hour)
		kept, err := sendAs(b, s, pairing.PartyMitra, "newer", "an hour later")
		require.NoError(t, err)

		b.clock.Advance(47 * time.Hour)
		n, err := b.svc.SweepRetention(context.Background())
		require.NoError(t, err)
		require.Zero(t, n, "exactly 48 hours old: kept")
		b.clock.Advance(time.Microsecond)
		n, err = b.svc.SweepRetention(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n)

		// The session is long over for History's 24 hours; its party's archive reads it.
		f.endSession(t, s.ID, t0.Add(2*time.Hour))
		_, err = b.svc.History(context.Background(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyClient, ReaderID: s.ClientID})
		require.ErrorIs(t, err, chat.ErrInvalidState)
		h, err := b.svc.Archive(context.Background(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyClient, ReaderID: s.ClientID})
		require.NoError(t, err)
		require.Equal(t, []chat.Message{kept}, h.Messages)
		require.Equal(t, int64(2), h.LastSeq)
		_, err = b.svc.Archive(context.Background(), chat.HistoryParams{ChatSessionID: s.ID, Reader: pairing.PartyClient, ReaderID: s.MitraID})
		require.ErrorIs(t, err, chat.ErrNotFound, "only its parties")

		n, err = b.svc.DeleteClientMessages(context.Background(), s.ClientID)
		require.NoError(t, err)
		require.Equal(t, 1, n, "the erasure takes the mitra's message too")
	})
}

func TestSweepRetention_KeepsNinetyDaysWithoutTheSetting(t *testing.T) {
	t.Parallel()
	store, _, f := openMemory()
	b := newBundle(t, store, f, chat.Deps{})
	s := f.startSession(t, t0, 30)
	_, err := sendAs(b, s, pairing.PartyClient, "m", "hi")
	require.NoError(t, err)
	b.clock.Advance(89 * 24 * time.Hour)
	n, err := b.svc.SweepRetention(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	b.clock.Advance(24*time.Hour + time.Second)
	n, err = b.svc.SweepRetention(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
