package pairing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// A client's erasure (SPEC §25, DELETE /api/client/me): the client's row is scrubbed in
// place rather than deleted, so that its pairings, chat sessions, payments, refunds and
// ledger lines — the money records — keep their client under the same id. Its display
// name becomes ErasedClientName, it is closed (IsActive false: CreatePairing refuses it
// with ErrClientSuspended, and it cannot be reinstated) and ErasedAt says when. The other
// domains erase their own part (the chat its messages, the reports their notes); the
// host its accounts.
//
// A client is erased only while nothing of it is in flight: no open pairing (waiting for
// its payment, searching, queued, targeted — a paid blast would start a chat for an
// erased client) and no chat session active or waiting for its payment. The check and
// the scrub are one transaction, serialised with CreatePairing by the client's row lock.

// ErasedClientName is the display name of an erased client.
const ErasedClientName = "Deleted client"

// ErasureStore is the Store's side of a client's erasure and of its export. It is part of
// Store.
type ErasureStore interface {
	// EraseClient scrubs the client (see above) at at — display name ErasedClientName,
	// is_active false, erased_at at — and revokes its tokens in the same transaction where
	// the store keeps them (the Postgres store: auth_sessions, as SetClientActive does).
	// The comments of its ratings are cleared in the same transaction; their stars stay
	// and still count in the mitras' ratings.
	// A client with an open pairing, or a chat session active or pending_payment, is
	// ErrInvalidState (the error names it) and nothing changes; an unknown one ErrNotFound.
	// An erased client is returned as it is: erasing twice changes nothing.
	EraseClient(ctx context.Context, id uuid.UUID, at time.Time) (Client, error)
	// ClientPairings returns at most q.Limit of the client's pairings, newest first
	// (created_at, then id, both descending), after q.After when it is set: a client's
	// whole history, a page at a time.
	ClientPairings(ctx context.Context, q ClientPairingsQuery) ([]Pairing, error)
}

// ClientPairingsQuery pages through a client's pairings, newest first.
type ClientPairingsQuery struct {
	ClientID uuid.UUID
	// After is the last pairing of the previous page (nil: the first page).
	After *PairingCursor
	// Limit is 1..MaxPairingsOfClient.
	Limit int
}

// PairingCursor is where a page of ClientPairings ended: its last pairing's created_at
// and id.
type PairingCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// CursorOf is the cursor after p.
func CursorOf(p Pairing) *PairingCursor { return &PairingCursor{CreatedAt: p.CreatedAt, ID: p.ID} }

// EraseClient erases a client (see above) and returns it as it is now. ErrInvalidState
// while it has an open pairing or a chat session active or pending_payment (cancel or end
// it first); ErrNotFound for an unknown client. Erasing an erased client changes nothing.
func (p *Pairer) EraseClient(ctx context.Context, id uuid.UUID) (Client, error) {
	if err := requireID("client_id", id); err != nil {
		return Client{}, err
	}
	c, err := p.store.EraseClient(ctx, id, p.now())
	if err != nil {
		return Client{}, fmt.Errorf("erase client %s: %w", id, err)
	}
	return c, nil
}

// Erasable reports, without changing anything, whether the client could be erased now:
// nil for a client with nothing in flight (or erased already), ErrInvalidState naming its
// open pairing or its chat session active or pending_payment, ErrNotFound for an unknown
// one. A host checks it before it deletes what the other domains hold of the client, so
// that a refused erasure deletes nothing; EraseClient checks again in its transaction.
func (p *Pairer) Erasable(ctx context.Context, id uuid.UUID) error {
	if err := requireID("client_id", id); err != nil {
		return err
	}
	c, err := p.store.GetClient(ctx, id)
	if err != nil || c.ErasedAt != nil {
		return err
	}
	waiting, _, err := p.store.ListWaitingPairings(ctx, WaitingQuery{Statuses: WaitingStatuses, ClientID: &id, Page: 1, PageSize: 1})
	if err != nil {
		return fmt.Errorf("erasable client %s: %w", id, err)
	}
	if len(waiting) > 0 {
		return erasureBlocked(id, "an open pairing", waiting[0].ID, string(waiting[0].Waiting))
	}
	open, err := p.store.ListChatSessions(ctx, ListSessionsParams{ClientID: &id,
		Statuses: []SessionStatus{SessionActive, SessionPendingPayment}, Limit: 1})
	if err != nil {
		return fmt.Errorf("erasable client %s: %w", id, err)
	}
	if len(open) > 0 {
		return erasureBlocked(id, "a chat session", open[0].ID, string(open[0].Status))
	}
	return nil
}

// ClientPairings returns one page of a client's pairings, newest first (see
// ErasureStore.ClientPairings); a limit outside 1..MaxPairingsOfClient is a validation
// error.
func (p *Pairer) ClientPairings(ctx context.Context, q ClientPairingsQuery) ([]Pairing, error) {
	if q.Limit < 1 || q.Limit > MaxPairingsOfClient {
		return nil, core.Invalid("limit", "must be 1..%d, not %d", MaxPairingsOfClient, q.Limit)
	}
	out, err := p.store.ClientPairings(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("pairings of client %s: %w", q.ClientID, err)
	}
	return out, nil
}

// erasureBlocked is the ErrInvalidState of a client that cannot be erased now.
func erasureBlocked(clientID uuid.UUID, what string, id uuid.UUID, status string) error {
	return fmt.Errorf("client %s has %s %s (%s): %w", clientID, what, id, status, ErrInvalidState)
}
