package paymenttest

import (
	"testing"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/payment"
)

// runConstraintContract is the part of RunStoreContract that pins what the schema refuses
// on insert: a session of a client that does not exist (ErrNotFound, as a pairing of that
// client is), one that refers to a tier, pairing, chat session or extension that does not
// exist (a *ValidationError naming the field), and values outside a column's check (a
// *ValidationError naming the check). An in-memory store must refuse them as Postgres
// does, so that a host's test fails where its production would.
func runConstraintContract(t *testing.T, newHarness func(t *testing.T) StoreHarness) {
	t.Run("InsertRefusesAnUnknownClient", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		s := e.row(t, payment.PurposeChatStart)
		s.ClientID = uuid.New()
		_, _, err := e.Store.Insert(check.Context(t), s)
		check.ErrorIs(t, err, payment.ErrNotFound)
		s.IdempotencyKey = "tap-1"
		_, _, err = e.Store.Insert(check.Context(t), s)
		check.ErrorIs(t, err, payment.ErrNotFound, "with an idempotency key too")
		_, err = e.Store.Get(check.Context(t), s.ID)
		check.ErrorIs(t, err, payment.ErrNotFound, "nothing was written")
	})

	t.Run("InsertRefusesRowsOfOtherDomainsThatDoNotExist", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		for _, tc := range []struct {
			field   string
			purpose payment.Purpose
			change  func(s *payment.Session)
		}{
			{"tier_id", payment.PurposeChatStart, func(s *payment.Session) { s.TierID = uuid.New() }},
			{"pairing_id", payment.PurposeChatStart, func(s *payment.Session) { s.PairingID = new(uuid.New()) }},
			{"chat_session_id", payment.PurposeExtension, func(s *payment.Session) { s.ChatSessionID = new(uuid.New()) }},
			{"extension_id", payment.PurposeExtension, func(s *payment.Session) { s.ExtensionID = new(uuid.New()) }},
		} {
			s := e.row(t, tc.purpose)
			tc.change(&s)
			_, _, err := e.Store.Insert(check.Context(t), s)
			check.Invalid(t, err, tc.field)
			_, err = e.Store.Get(check.Context(t), s.ID)
			check.ErrorIs(t, err, payment.ErrNotFound, "nothing was written (%s)", tc.field)
		}
	})

	t.Run("InsertRefusesValuesOutsideTheChecks", func(t *testing.T) {
		t.Parallel()
		e := env{newHarness(t)}
		for _, tc := range []struct {
			check  string
			change func(s *payment.Session)
		}{
			{"payment_sessions_check", func(s *payment.Session) { s.Amount = s.BaseAmount }},
			{"payment_sessions_minutes_check", func(s *payment.Session) { s.Minutes = 0 }},
			{"payment_sessions_status_check", func(s *payment.Session) { s.Status = "lost" }},
			{"payment_sessions_purpose_check", func(s *payment.Session) { s.Purpose = "tip" }},
		} {
			s := e.row(t, payment.PurposeChatStart)
			tc.change(&s)
			_, _, err := e.Store.Insert(check.Context(t), s)
			check.Invalid(t, err, tc.check)
		}
	})
}
