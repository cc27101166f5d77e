package pairing

import (
	"cmp"
	"context"
	"slices"

	"github.com/google/uuid"
)

// The blocks of the in-memory MemoryStore (BlockStore): the table pairing_blocks, one row
// per side that blocked a pair.

type blockKey struct {
	clientID, mitraID uuid.UUID
	by                Party
}

// blocked reports whether either side blocked the pair (inside a transaction).
func (s *MemoryStore) blocked(clientID, mitraID uuid.UUID) bool {
	if len(s.blocks) == 0 {
		return false
	}
	_, byClient := s.blocks[blockKey{clientID, mitraID, PartyClient}]
	_, byMitra := s.blocks[blockKey{clientID, mitraID, PartyMitra}]
	return byClient || byMitra
}

func (s *MemoryStore) PutBlock(_ context.Context, b Block) (BlockResult, error) {
	if err := validParty("blocked_by", b.BlockedBy); err != nil {
		return BlockResult{}, err
	}
	tx := s.db.Begin()
	defer tx.End()
	if _, ok := s.clients[b.ClientID]; !ok {
		return BlockResult{}, notFound("client", b.ClientID)
	}
	if tx.Missing("mitras", b.MitraID) {
		return BlockResult{}, notFound("mitra", b.MitraID)
	}
	k := blockKey{b.ClientID, b.MitraID, b.BlockedBy}
	if cur, ok := s.blocks[k]; ok {
		return BlockResult{Block: cur}, nil
	}
	b.CreatedAt = b.CreatedAt.UTC()
	s.blocks[k] = b
	res := BlockResult{Block: b, Created: true}
	for k, o := range s.offers {
		if k.mitraID != b.MitraID || o.status != OfferOffered {
			continue
		}
		p := s.pairings[k.pairingID]
		if p.ClientID != b.ClientID {
			continue
		}
		o.status, o.updatedAt = OfferDismissed, b.CreatedAt
		s.offers[k] = o
		res.Dismissed = append(res.Dismissed, p)
	}
	slices.SortFunc(res.Dismissed, oldestPairingFirst)
	return res, nil
}

func (s *MemoryStore) DeleteBlock(_ context.Context, by Party, clientID, mitraID uuid.UUID) (bool, error) {
	defer s.db.Begin().End()
	k := blockKey{clientID, mitraID, by}
	if _, ok := s.blocks[k]; !ok {
		return false, nil
	}
	delete(s.blocks, k)
	return true, nil
}

func (s *MemoryStore) ListBlocks(_ context.Context, by Party, id uuid.UUID, n int) ([]Block, error) {
	defer s.db.Begin().End()
	var out []Block
	for k, b := range s.blocks {
		if k.by == by && ((by == PartyClient && k.clientID == id) || (by == PartyMitra && k.mitraID == id)) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Block) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), compareIDs(b.ClientID, a.ClientID), compareIDs(b.MitraID, a.MitraID))
	})
	return limit(out, n), nil
}

func (s *MemoryStore) Blocked(_ context.Context, clientID, mitraID uuid.UUID) (bool, error) {
	defer s.db.Begin().End()
	return s.blocked(clientID, mitraID), nil
}

func (s *MemoryStore) ExcludedMitras(_ context.Context, pairingID, clientID uuid.UUID) ([]uuid.UUID, error) {
	defer s.db.Begin().End()
	var ids []uuid.UUID
	for _, k := range s.offerKeys(pairingID) {
		ids = append(ids, k.mitraID)
	}
	for k := range s.blocks {
		if k.clientID == clientID && !slices.Contains(ids, k.mitraID) {
			ids = append(ids, k.mitraID)
		}
	}
	return ids, nil
}

func (s *MemoryStore) HadSession(_ context.Context, clientID, mitraID uuid.UUID) (bool, error) {
	defer s.db.Begin().End()
	for _, c := range s.sessions {
		if c.ClientID == clientID && c.MitraID == mitraID {
			return true, nil
		}
	}
	return false, nil
}
