package main

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// Blocks (SPEC §25): a client blocks a mitra, a mitra a client it had a chat session with.
// A blocked pair is never offered to each other — blast, "Curhat lagi" (409 BLOCKED),
// queue, ring, reroute — which the SDK enforces wherever it offers a chat
// (pairing.Pairer.Block). Each side lists and removes its own blocks only; a party never
// learns that the other blocked it, except that "Curhat lagi" with it is refused.
func (s *Server) blockRoutes() {
	s.handle("POST", "/api/client/blocks", roleClient, s.blockAs(pairing.PartyClient))
	s.handle("DELETE", "/api/client/blocks/{mitra_id}", roleClient, s.unblockAs(pairing.PartyClient))
	s.handle("GET", "/api/client/blocks", roleClient, s.listBlocksAs(pairing.PartyClient))
	s.handle("POST", "/api/mitra/blocks", roleMitra, s.blockAs(pairing.PartyMitra))
	s.handle("DELETE", "/api/mitra/blocks/{client_id}", roleMitra, s.unblockAs(pairing.PartyMitra))
	s.handle("GET", "/api/mitra/blocks", roleMitra, s.listBlocksAs(pairing.PartyMitra))
}

// otherField is the JSON name of the party a side blocks: a client blocks a mitra_id, a
// mitra a client_id.
func otherField(by pairing.Party) string {
	if by == pairing.PartyClient {
		return "mitra_id"
	}
	return "client_id"
}

// pairOf is the client–mitra pair of a block by the caller c of side by with other.
func pairOf(by pairing.Party, c caller, other uuid.UUID) (client, mitra uuid.UUID) {
	if by == pairing.PartyClient {
		return c.ID, other
	}
	return other, c.ID
}

// blockJSON is a block as its side sees it: the other party, and since when.
func blockJSON(by pairing.Party, b pairing.Block) map[string]any {
	other := b.MitraID
	if by == pairing.PartyMitra {
		other = b.ClientID
	}
	return map[string]any{otherField(by): other, "created_at": b.CreatedAt.UTC()}
}

// blockAs answers 201 with the new block, or 200 with the block as it was when the caller
// had blocked that party already (a retried request changes nothing). An unknown mitra —
// or, for a mitra, a client it never had a chat session with — is 404.
func (s *Server) blockAs(by pairing.Party) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c caller) error {
		other, err := decodeBlocked(w, r, by)
		if err != nil {
			return err
		}
		client, mitra := pairOf(by, c, other)
		b, created, err := s.app.pairer.Block(r.Context(), by, client, mitra)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		writeJSON(w, status, blockJSON(by, b))
		return nil
	}
}

// decodeBlocked reads the party a block names: {"mitra_id"} from a client, {"client_id"}
// from a mitra (the other field is unknown, and refused).
func decodeBlocked(w http.ResponseWriter, r *http.Request, by pairing.Party) (uuid.UUID, error) {
	var id string
	if by == pairing.PartyClient {
		var body struct {
			MitraID string `json:"mitra_id"`
		}
		if err := decodeJSON(w, r, &body); err != nil {
			return uuid.Nil, err
		}
		id = body.MitraID
	} else {
		var body struct {
			ClientID string `json:"client_id"`
		}
		if err := decodeJSON(w, r, &body); err != nil {
			return uuid.Nil, err
		}
		id = body.ClientID
	}
	return bodyID(otherField(by), id)
}

// unblockAs answers 204 once the caller's block of that party is gone (removed now, or
// there was none); the other party's block of the caller, if any, stays. 404 as blockAs.
func (s *Server) unblockAs(by pairing.Party) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c caller) error {
		other, err := pathID(r, otherField(by))
		if err != nil {
			return err
		}
		client, mitra := pairOf(by, c, other)
		if err := s.app.pairer.Unblock(r.Context(), by, client, mitra); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// listBlocksAs answers the caller's own blocks, newest first (at most
// pairing.MaxBlocksListed).
func (s *Server) listBlocksAs(by pairing.Party) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c caller) error {
		blocks, err := s.app.pairer.ListBlocks(r.Context(), by, c.ID)
		if err != nil {
			return err
		}
		items := make([]map[string]any, len(blocks))
		for i, b := range blocks {
			items[i] = blockJSON(by, b)
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
		return nil
	}
}
