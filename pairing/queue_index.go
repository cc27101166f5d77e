package pairing

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// QueueIndex mirrors the queue for the reads that must not grow with its length: a queued
// pairing's place and the queue's length, each in O(log n) or better (NewValkeyQueueIndex:
// a Valkey sorted set). It is derived and disposable: the Store is the truth, the Pairer
// writes every change through (in commit order: Store.LockQueueEntries), rebuilds it from
// the Store (RebuildQueueIndex: at start, with the reseed sweep, after any failure) and
// reads the Store whenever the index cannot answer.
type QueueIndex interface {
	// Position returns the 1-based place of the pairing among the queued ones: PaidAt,
	// then id, as the Store orders them. ErrNotFound when the pairing is not in the
	// index; ErrQueueIndexNotBuilt when the index was never built or lost its data.
	Position(ctx context.Context, pairingID uuid.UUID) (int, error)
	// Length counts the queued pairings (ErrQueueIndexNotBuilt as Position).
	Length(ctx context.Context) (int, error)
	// Apply writes the state of each entry: a queued one is placed at its PaidAt, any
	// other removed.
	Apply(ctx context.Context, entries []QueueEntry) error
	// Replace rebuilds the whole index from entries (every queued pairing, in queue
	// order), readers seeing the old index or the new one, never a mix; the index is
	// then built.
	Replace(ctx context.Context, entries []QueueEntry) error
	// Invalidate marks the index not built: reads fail with ErrQueueIndexNotBuilt until
	// the next Replace.
	Invalidate(ctx context.Context) error
}

// ErrQueueIndexNotBuilt: the QueueIndex cannot answer until it is rebuilt from the Store.
var ErrQueueIndexNotBuilt = errors.New("pairing: the queue index is not built")
