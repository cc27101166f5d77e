package extensiontest

import (
	"testing"

	"github.com/google/uuid"

	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/check"
)

// runConstraintContract is the part of RunStoreContract that pins what the schema refuses:
// an extension of a chat session, tier or payment that does not exist (ErrNotFound, as
// the foreign keys), and values outside a column's check (a *ValidationError naming the
// check). An in-memory store must refuse them as Postgres does, so that a host's test
// fails where its production would.
func runConstraintContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("InsertRefusesAnUnknownSessionOrTierAndValuesOutsideTheChecks", func(t *testing.T) {
		t.Parallel()
		x := newFixture(t, newHarness(t))
		for _, tc := range []struct {
			name   string
			change func(e *extension.Extension)
		}{
			{"chat session", func(e *extension.Extension) { e.ChatSessionID = uuid.New() }},
			{"tier", func(e *extension.Extension) { e.TierID = uuid.New() }},
		} {
			e := x.ext(extension.StatusRequested, t0)
			tc.change(&e)
			_, err := x.h.Store.Insert(check.Context(t), e)
			check.ErrorIs(t, err, extension.ErrNotFound, "an unknown %s", tc.name)
			_, err = x.h.Store.Get(check.Context(t), e.ID)
			check.ErrorIs(t, err, extension.ErrNotFound, "nothing was written (%s)", tc.name)
		}
		for _, tc := range []struct {
			check  string
			change func(e *extension.Extension)
		}{
			{"extensions_minutes_check", func(e *extension.Extension) { e.Minutes = 0 }},
			{"extensions_amount_check", func(e *extension.Extension) { e.Amount = 0 }},
			{"extensions_status_check", func(e *extension.Extension) { e.Status = "lost" }},
		} {
			e := x.ext(extension.StatusRequested, t0)
			tc.change(&e)
			_, err := x.h.Store.Insert(check.Context(t), e)
			check.Invalid(t, err, tc.check)
		}
		x.insert(t, x.ext(extension.StatusRequested, t0))
	})

	t.Run("AnUnknownPaymentIsRefusedWhereItWouldBeWritten", func(t *testing.T) {
		t.Parallel()
		x := newFixture(t, newHarness(t))
		e := x.insert(t, x.ext(extension.StatusApproved, t0))
		unknown := uuid.New()

		_, changed, err := x.h.Store.Transition(check.Context(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusRequested}, To: extension.StatusApproved, PaymentSessionID: &unknown,
		})
		check.NoError(t, err, "a guard that does not hold writes nothing, so checks nothing")
		check.False(t, changed)
		_, _, err = x.h.Store.Transition(check.Context(t), extension.Transition{
			ID: e.ID, From: []extension.Status{extension.StatusApproved}, To: extension.StatusApproved, PaymentSessionID: &unknown,
		})
		check.ErrorIs(t, err, extension.ErrNotFound)

		_, err = x.h.Store.ApplyPayment(check.Context(t), extension.ApplyPayment{ExtensionID: e.ID, PaymentSessionID: unknown, At: t0})
		check.ErrorIs(t, err, extension.ErrNotFound)
		got, err := x.h.Store.Get(check.Context(t), e.ID)
		check.NoError(t, err)
		check.Equal(t, e, got, "unchanged")
		check.Equal(t, 30, x.h.Session(t, x.sess.ID).Minutes, "the session did not grow")
	})
}
