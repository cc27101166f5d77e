package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/payment"
)

func TestPostgresStore_MissingReferencedRowIsAValidationError(t *testing.T) {
	t.Parallel()
	e := openPostgres(t)
	p := e.params(payment.PurposeChatStart)
	s := payment.Session{
		ID: uuid.New(), ClientID: p.ClientID, Purpose: p.Purpose, PairingID: ptr(uuid.New()), TierID: p.TierID,
		Minutes: p.Minutes, BaseAmount: p.BaseAmount, Amount: p.Amount, Currency: p.Currency, Status: payment.StatusPending,
		ExpiresAt: t0.Add(15 * time.Minute), CreatedAt: t0, UpdatedAt: t0,
	}
	_, _, err := e.store.Insert(context.Background(), s)
	var verr *curhat.ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "pairing_id", verr.Field)
}
