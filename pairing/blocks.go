package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Blocks (SPEC §25): a client may block a mitra, and a mitra a client it had a chat
// session with. A blocked pair — a block by either side — is never offered to each other,
// wherever a mitra is chosen:
//
//   - a blast (and the prepaid blast of a reroute) leaves the client's blocked mitras out of
//     the candidates it reads from the availability mirror, in the read of the mitras it
//     offered already (Store.ExcludedMitras: no statement more per blast);
//   - every ring leaves them out the same way;
//   - "Curhat lagi" with a blocked mitra is ErrBlocked;
//   - a mitra that becomes available is not offered the searching blasts, nor the queued
//     pairings, of clients blocked with it (Store.PairingsToOffer, Store.OfferQueued): a
//     queued pairing it may not take is passed over for the next one, and keeps its place
//     for the others;
//   - the Store refuses the offer itself (Store.InsertOffers leaves a blocked pair out)
//     and the accept (AcceptParams: ErrBlocked), so that a block that commits while an
//     offer is being made still wins.
//
// A block dismisses the pair's live offers at once: a blast goes on with its other
// offers; the "Curhat lagi" the client was waiting for is cancelled when the client
// blocked, and ends targeted_unavailable (targeted_declined, as if the mitra declined)
// when the mitra did; the queued pairing whose offer the mitra held is offered to another
// slot, and the mitra's slot takes the next queued pairing. A block never ends a chat
// session already matched. Unblocking removes the caller's own block only: the pair stays
// blocked while the other side's block lasts.

// Block is one side's block of a client–mitra pair.
type Block struct {
	ClientID uuid.UUID
	MitraID  uuid.UUID
	// BlockedBy is the side that blocked the other.
	BlockedBy Party
	CreatedAt time.Time
}

// BlockStore keeps the blocks; part of Store. The offers and accepts of Store honour them
// (see the package's Blocks above).
type BlockStore interface {
	// PutBlock records b (its CreatedAt the time of the block) and, in the same
	// transaction, dismisses every live offer between the pair (of a pairing of the
	// client to the mitra). When that side's block of the pair exists already it changes
	// nothing and returns the stored block, Created false. An unknown client or mitra is
	// ErrNotFound, a side other than client or mitra a *ValidationError. Once it returned,
	// no offer between the pair is live and none is made.
	PutBlock(ctx context.Context, b Block) (BlockResult, error)
	// DeleteBlock removes the block that side by made of the pair, and reports whether
	// there was one.
	DeleteBlock(ctx context.Context, by Party, clientID, mitraID uuid.UUID) (bool, error)
	// ListBlocks returns the blocks made by the side by whose id is id (a client's, or a
	// mitra's), newest first, at most limit (0: all).
	ListBlocks(ctx context.Context, by Party, id uuid.UUID, limit int) ([]Block, error)
	// Blocked reports whether either side blocked the pair.
	Blocked(ctx context.Context, clientID, mitraID uuid.UUID) (bool, error)
	// ExcludedMitras returns the mitras a waiting pairing of clientID may not be offered
	// to (again), in one read: every mitra offered it, whatever became of the offer (as
	// OfferedMitras), and every mitra blocked with the client, by either side.
	ExcludedMitras(ctx context.Context, pairingID, clientID uuid.UUID) ([]uuid.UUID, error)
	// HadSession reports whether the client and the mitra have a chat session together,
	// in any status.
	HadSession(ctx context.Context, clientID, mitraID uuid.UUID) (bool, error)
}

// BlockResult is what PutBlock did.
type BlockResult struct {
	Block Block
	// Created is false when that side's block of the pair existed already.
	Created bool
	// Dismissed are the pairings whose live offer to the mitra the block dismissed, as
	// they are after it.
	Dismissed []Pairing
}

// MaxBlocksListed bounds a ListBlocks: nobody blocks more in a lifetime.
const MaxBlocksListed = 1000

func validParty(field string, by Party) error {
	if by != PartyClient && by != PartyMitra {
		return core.Invalid(field, "must be %q or %q, not %q", PartyClient, PartyMitra, by)
	}
	return nil
}

// mayBlock answers ErrNotFound when the side by may not block the other party: a client
// may block any mitra that exists (the Store's foreign key tells), a mitra only a client
// it had a chat session with.
func (p *Pairer) mayBlock(ctx context.Context, by Party, clientID, mitraID uuid.UUID) error {
	if by == PartyClient {
		_, err := p.store.MitraInfo(ctx, mitraID)
		return err
	}
	had, err := p.store.HadSession(ctx, clientID, mitraID)
	if err != nil {
		return err
	}
	if !had {
		return fmt.Errorf("mitra %s had no chat session with client %s: %w", mitraID, clientID, ErrNotFound)
	}
	return nil
}

// Block records that side by (PartyClient: the client; PartyMitra: the mitra) blocks the
// other, and reports whether the block is new (false: that side had blocked the pair
// already, and the block is returned as it was). A client may block any mitra (an unknown
// one is ErrNotFound); a mitra only a client it had a chat session with (ErrNotFound
// otherwise, as if the client did not exist). The pair's live offers are dismissed (see
// the package's Blocks); the mitra is told (EventOfferDismissed, reason cancelled: a mitra
// does not learn that a client blocked it).
func (p *Pairer) Block(ctx context.Context, by Party, clientID, mitraID uuid.UUID) (Block, bool, error) {
	if err := errors.Join(validParty("by", by), requireID("client_id", clientID), requireID("mitra_id", mitraID)); err != nil {
		return Block{}, false, err
	}
	if by == PartyMitra {
		if err := p.mayBlock(ctx, by, clientID, mitraID); err != nil {
			return Block{}, false, fmt.Errorf("block client %s: %w", clientID, err)
		}
	}
	res, err := p.store.PutBlock(ctx, Block{ClientID: clientID, MitraID: mitraID, BlockedBy: by, CreatedAt: p.now()})
	if err != nil {
		return Block{}, false, fmt.Errorf("block (%s %s, mitra %s): %w", by, clientID, mitraID, err)
	}
	for _, pr := range res.Dismissed {
		p.notifyDismissed(ctx, pr.ID, []uuid.UUID{mitraID}, DismissCancelled)
		if err := p.blockedOffer(ctx, by, pr, mitraID); err != nil {
			p.log.WarnContext(ctx, "follow the offer a block dismissed; its deadline or the timeouts sweep does", "pairing_id", pr.ID, "err", err)
		}
	}
	return res.Block, res.Created, nil
}

// blockedOffer follows the dismissal of pr's offer to mitraID by a block of side by.
func (p *Pairer) blockedOffer(ctx context.Context, by Party, pr Pairing, mitraID uuid.UUID) error {
	switch {
	case pr.Status == StatusTargetedWaiting && by == PartyClient:
		_, err := p.Cancel(ctx, pr.ClientID, pr.ID)
		return err
	case pr.Status == StatusTargetedWaiting:
		return p.targetedUnavailable(ctx, pr, ReasonTargetedDeclined, nil)
	case pr.Status == StatusQueued:
		// The pairing goes to another slot; the mitra's slot to the next queued pairing.
		p.unschedule(timerKey{queuedOfferDeadline, pr.ID})
		return errors.Join(p.dispatchQueue(ctx, mitraID), p.MitraAvailable(ctx, mitraID))
	}
	return nil // a blast goes on with its other offers
}

// Unblock removes the block that side by made of the pair; a block of the other side
// stays (the pair is blocked while it lasts). Unblocking a pair that side never blocked
// does nothing, unless that side could not have blocked it either (see Block): then
// ErrNotFound. Searching blasts are not offered again to the unblocked mitra at once: the
// next blast, or the mitra becoming available again, is.
func (p *Pairer) Unblock(ctx context.Context, by Party, clientID, mitraID uuid.UUID) error {
	if err := errors.Join(validParty("by", by), requireID("client_id", clientID), requireID("mitra_id", mitraID)); err != nil {
		return err
	}
	removed, err := p.store.DeleteBlock(ctx, by, clientID, mitraID)
	if err != nil {
		return fmt.Errorf("unblock (%s %s, mitra %s): %w", by, clientID, mitraID, err)
	}
	if !removed {
		if err := p.mayBlock(ctx, by, clientID, mitraID); err != nil {
			return fmt.Errorf("unblock (%s %s, mitra %s): %w", by, clientID, mitraID, err)
		}
	}
	return nil
}

// ListBlocks returns the blocks that side by made (of the client id, or of the mitra
// id), newest first, at most MaxBlocksListed. The other side's blocks are not listed: a
// party never learns who blocked it.
func (p *Pairer) ListBlocks(ctx context.Context, by Party, id uuid.UUID) ([]Block, error) {
	if err := errors.Join(validParty("by", by), requireID("id", id)); err != nil {
		return nil, err
	}
	blocks, err := p.store.ListBlocks(ctx, by, id, MaxBlocksListed)
	if err != nil {
		return nil, fmt.Errorf("list the blocks of %s %s: %w", by, id, err)
	}
	return blocks, nil
}

// Blocked reports whether the client and the mitra are blocked: either side blocked the
// other.
func (p *Pairer) Blocked(ctx context.Context, clientID, mitraID uuid.UUID) (bool, error) {
	ok, err := p.store.Blocked(ctx, clientID, mitraID)
	if err != nil {
		return false, fmt.Errorf("blocked (client %s, mitra %s): %w", clientID, mitraID, err)
	}
	return ok, nil
}
