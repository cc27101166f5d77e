package chattest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// runRetentionContract is the part of RunStoreContract that pins chat.RetentionStore: the
// retention's deletes and a client's erasure, and what open reports hold.
func runRetentionContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("DeleteMessagesBeforeTakesTheOldestABatchAtATimeAndNeverGivesASeqTwice", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		s := h.StartSession(t, t0, 30)
		other := h.StartSession(t, t0, 30)
		var sent []chat.Message
		for i := range 4 {
			party := []pairing.Party{pairing.PartyClient, pairing.PartyMitra}[i%2]
			sent = append(sent, stored(t, h.Store, s, msg(s, party, "m-"+string(rune('a'+i)), "hi", t0.Add(time.Duration(i+1)*time.Second))))
		}
		late := stored(t, h.Store, other, msg(other, pairing.PartyClient, "late", "later", t0.Add(10*time.Second)))

		n, err := h.Store.DeleteMessagesBefore(ctx, t0.Add(3*time.Second+time.Millisecond), 1)
		check.NoError(t, err)
		check.Equal(t, 1, n, "a batch of one")
		check.Equal(t, []int64{2, 3, 4}, seqs(history(t, h.Store, s, pairing.PartyClient, 0, 10).Messages), "the oldest first")
		n, err = h.Store.DeleteMessagesBefore(ctx, t0.Add(3*time.Second+time.Millisecond), 10)
		check.NoError(t, err)
		check.Equal(t, 2, n, "those before the cutoff only (at 2 s and 3 s)")
		page := history(t, h.Store, s, pairing.PartyMitra, 0, 10)
		check.Equal(t, []int64{4}, seqs(page.Messages))
		check.Equal(t, sent[3], page.Messages[0])
		check.Equal(t, int64(4), page.Thread.LastSeq, "the thread stays")
		check.Equal(t, []int64{1}, seqs(history(t, h.Store, other, pairing.PartyClient, 0, 10).Messages), "other sessions' newer messages stay")
		check.Equal(t, late, history(t, h.Store, other, pairing.PartyClient, 0, 10).Messages[0])

		// A deleted message's client_msg_id is forgotten: sent again, it is a new message
		// with the next seq.
		again := stored(t, h.Store, s, msg(s, pairing.PartyClient, "m-a", "hi again", t0.Add(11*time.Second)))
		check.Equal(t, int64(5), again.Seq)
		n, err = h.Store.DeleteMessagesBefore(ctx, t0.Add(3*time.Second), 10)
		check.NoError(t, err)
		check.Zero(t, n, "nothing left before the cutoff")
	})

	t.Run("DeleteClientMessagesTakesBothPartiesMessagesOfTheClientsSessionsOnly", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := check.Context(t)
		s := h.StartSession(t, t0, 30)
		other := h.StartSession(t, t0, 30)
		for i, party := range []pairing.Party{pairing.PartyClient, pairing.PartyMitra, pairing.PartyClient} {
			stored(t, h.Store, s, msg(s, party, "s-"+string(rune('a'+i)), "hi", t0.Add(time.Duration(i+1)*time.Second)))
			stored(t, h.Store, other, msg(other, party, "o-"+string(rune('a'+i)), "hi", t0.Add(time.Duration(i+1)*time.Second)))
		}
		h.EndSession(t, s.ID, t0.Add(time.Minute))

		n, err := h.Store.DeleteClientMessages(ctx, s.ClientID, 2)
		check.NoError(t, err)
		check.Equal(t, 2, n, "a batch")
		n, err = h.Store.DeleteClientMessages(ctx, s.ClientID, 10)
		check.NoError(t, err)
		check.Equal(t, 1, n, "the rest")
		check.Len(t, history(t, h.Store, s, pairing.PartyClient, 0, 10).Messages, 0)
		check.Len(t, history(t, h.Store, other, pairing.PartyClient, 0, 10).Messages, 3, "another client's session")
		n, err = h.Store.DeleteClientMessages(ctx, uuid.New(), 10)
		check.NoError(t, err)
		check.Zero(t, n, "an unknown client has none")
	})

	t.Run("OpenReportsHoldTheirSessionsMessagesUntilResolved", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		if h.Report == nil {
			t.Skip("the store sees no reports")
		}
		ctx := check.Context(t)
		reported := h.StartSession(t, t0, 30)
		plain := h.StartSession(t, t0, 30)
		var named chat.Message
		for i, party := range []pairing.Party{pairing.PartyClient, pairing.PartyMitra} {
			m := stored(t, h.Store, reported, msg(reported, party, "r-"+string(rune('a'+i)), "hi", t0.Add(time.Duration(i+1)*time.Second)))
			if party == pairing.PartyMitra {
				named = m
			}
			stored(t, h.Store, plain, msg(plain, party, "p-"+string(rune('a'+i)), "hi", t0.Add(time.Duration(i+1)*time.Second)))
		}
		h.EndSession(t, reported.ID, t0.Add(time.Minute))
		resolve := h.Report(t, reported, []uuid.UUID{named.ID})

		n, err := h.Store.DeleteMessagesBefore(ctx, t0.Add(time.Hour), 10)
		check.NoError(t, err)
		check.Equal(t, 2, n, "the session without a report only")
		n, err = h.Store.DeleteClientMessages(ctx, reported.ClientID, 10)
		check.NoError(t, err)
		check.Zero(t, n, "the erasure keeps them too")
		check.Equal(t, []int64{1, 2}, seqs(history(t, h.Store, reported, pairing.PartyClient, 0, 10).Messages),
			"the message named and the rest of its session")

		resolve(t)
		n, err = h.Store.DeleteMessagesBefore(ctx, t0.Add(time.Hour), 10)
		check.NoError(t, err)
		check.Equal(t, 2, n, "a resolved report holds nothing")
	})
}
