package pairing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// LookupStore is what operators look up of a client's story (a payment's or a client's
// timeline): the client's latest pairings, and the waves of offers each went out in. It
// is part of Store.
type LookupStore interface {
	// PairingsOfClient returns the client's latest pairings, newest first (created_at,
	// then id), at most limit (1..MaxPairingsOfClient).
	PairingsOfClient(ctx context.Context, clientID uuid.UUID, limit int) ([]Pairing, error)
	// OfferWaves returns the offers of the pairings grouped by the instant they were
	// made: one wave per pairing and created_at, oldest first (then by pairing id).
	OfferWaves(ctx context.Context, pairingIDs []uuid.UUID) ([]OfferWave, error)
}

// MaxPairingsOfClient bounds PairingsOfClient.
const MaxPairingsOfClient = 100

// OfferWave is the offers of one pairing made at one instant: a blast's fan-out, a ring, a
// mitra who came online while it searched, a queued pairing's next offer.
type OfferWave struct {
	PairingID uuid.UUID
	At        time.Time
	// Count is how many mitras were offered the pairing at At.
	Count int
}

// PairingsOfClient returns the client's latest pairings, newest first, at most limit
// (1..MaxPairingsOfClient, else a validation error). A client with none has none; whether
// the client exists is the caller's business (GetClient).
func (p *Pairer) PairingsOfClient(ctx context.Context, clientID uuid.UUID, limit int) ([]Pairing, error) {
	if limit < 1 || limit > MaxPairingsOfClient {
		return nil, core.Invalid("limit", "must be 1..%d, not %d", MaxPairingsOfClient, limit)
	}
	out, err := p.store.PairingsOfClient(ctx, clientID, limit)
	if err != nil {
		return nil, fmt.Errorf("pairings of client %s: %w", clientID, err)
	}
	return out, nil
}

// OfferWaves returns the offers of the pairings grouped by the instant they were made
// (LookupStore.OfferWaves).
func (p *Pairer) OfferWaves(ctx context.Context, pairingIDs []uuid.UUID) ([]OfferWave, error) {
	if len(pairingIDs) == 0 {
		return nil, nil
	}
	out, err := p.store.OfferWaves(ctx, pairingIDs)
	if err != nil {
		return nil, fmt.Errorf("offer waves of %d pairings: %w", len(pairingIDs), err)
	}
	return out, nil
}

// ContinuationID is the id of the prepaid blast that continues a chat session ended by a
// reroute (rerouted, or mitra_deactivated with minutes left): a session is rerouted at
// most once, so the id is derived from it. No such pairing exists when the session was
// not rerouted.
func ContinuationID(sessionID uuid.UUID) uuid.UUID { return rerouteID(sessionID) }
