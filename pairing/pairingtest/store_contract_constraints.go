package pairingtest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
)

// runConstraintContract is the part of RunStoreContract that pins what the schema refuses:
// clients registered once, rows that refer to a client or a mitra that does not exist
// (ErrNotFound, as the foreign keys), and values outside a column's check (a
// *ValidationError naming the check). An in-memory store must refuse them as Postgres
// does, so that a host's test fails where its production would.
func runConstraintContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("CreateClientIsIdempotentForTheSameNameAndRefusesAnother", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		want := pairing.Client{ID: uuid.New(), DisplayName: "Dewi", IsActive: true, CreatedAt: t0}
		got, err := c.Store.CreateClient(check.Context(t), want)
		check.NoError(t, err)
		check.Equal(t, want, got)
		read, err := c.Store.GetClient(check.Context(t), want.ID)
		check.NoError(t, err)
		check.Equal(t, want, read)

		again := want
		again.CreatedAt = t0.Add(time.Hour)
		got, err = c.Store.CreateClient(check.Context(t), again)
		check.NoError(t, err, "a retried registration")
		check.Equal(t, want, got, "answers the client as first registered")

		renamed := want
		renamed.DisplayName = "Ayu"
		_, err = c.Store.CreateClient(check.Context(t), renamed)
		check.ErrorIs(t, err, pairing.ErrConflict, "the id is taken by another name")
		read, err = c.Store.GetClient(check.Context(t), want.ID)
		check.NoError(t, err)
		check.Equal(t, want, read, "unchanged")

		_, err = c.Store.GetClient(check.Context(t), uuid.New())
		check.ErrorIs(t, err, pairing.ErrNotFound)
		_, err = c.Store.CreateClient(check.Context(t), pairing.Client{ID: uuid.New(), CreatedAt: t0})
		check.Invalid(t, err, "clients_display_name_check", "no name")
	})

	t.Run("CreatePairingRefusesAnUnknownClientOrMitraAndValuesOutsideTheChecks", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		blast := func(client uuid.UUID) pairing.Pairing {
			return pairing.Pairing{
				ID: uuid.New(), ClientID: client, Type: pairing.TypeBlast, Status: pairing.StatusAwaitingPayment,
				Minutes: 30, CreatedAt: t0, UpdatedAt: t0,
			}
		}
		_, err := c.Store.CreatePairing(check.Context(t), blast(uuid.New()))
		check.ErrorIs(t, err, pairing.ErrNotFound, "a client never registered")

		client := c.Client(t)
		targeted := blast(client)
		targeted.Type, targeted.Status, targeted.TargetMitraID = pairing.TypeTargeted, pairing.StatusTargetedWaiting, ptr(uuid.New())
		_, err = c.Store.CreatePairing(check.Context(t), targeted)
		check.ErrorIs(t, err, pairing.ErrNotFound, "a target mitra that does not exist")

		for _, tc := range []struct {
			check  string
			change func(p *pairing.Pairing)
		}{
			{"pairings_minutes_check", func(p *pairing.Pairing) { p.Minutes = 0 }},
			{"pairings_minutes_check", func(p *pairing.Pairing) { p.Minutes = 1441 }},
			{"pairings_status_check", func(p *pairing.Pairing) { p.Status = "lost" }},
			{"pairings_type_check", func(p *pairing.Pairing) { p.Type = "broadcast" }},
		} {
			p := blast(client)
			tc.change(&p)
			_, err = c.Store.CreatePairing(check.Context(t), p)
			check.Invalid(t, err, tc.check)
		}
		_, err = c.Store.GetPairing(check.Context(t), targeted.ID)
		check.ErrorIs(t, err, pairing.ErrNotFound, "nothing refused was written")
		_, err = c.Store.CreatePairing(check.Context(t), blast(client))
		check.NoError(t, err, "the client has no open pairing yet")
	})

	t.Run("OffersAndMitraStatsRefuseAnUnknownMitra", func(t *testing.T) {
		t.Parallel()
		c := contract{newHarness(t)}
		p := c.searching(t)
		known, unknown := c.Mitra(t, 0), uuid.New()
		_, err := c.Store.InsertOffers(check.Context(t), p.ID, []uuid.UUID{known, unknown}, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound)
		offered, err := c.Store.OfferedMitras(check.Context(t), p.ID)
		check.NoError(t, err)
		check.Len(t, offered, 0, "no offer of the refused insert")

		_, err = c.accept(t, unknown, p, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound)
		_, err = c.Store.MitraInfo(check.Context(t), unknown)
		check.ErrorIs(t, err, pairing.ErrNotFound)
		_, err = c.Store.RecordMissedOffers(check.Context(t), []uuid.UUID{unknown}, t0)
		check.ErrorIs(t, err, pairing.ErrNotFound)
		check.ErrorIs(t, c.Store.MarkIdle(check.Context(t), unknown, t0), pairing.ErrNotFound)
	})
}
