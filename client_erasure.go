package curhat

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// ClientErasure is what Client.EraseClient did.
type ClientErasure struct {
	// Client is the client as it is now: ErasedAt set, display name
	// pairing.ErasedClientName, closed.
	Client pairing.Client
	// MessagesDeleted counts the chat messages deleted (both parties' of the client's
	// sessions); messages an open report holds stay until the retention sweep takes them.
	MessagesDeleted int
	// ReportsRedacted counts the reports whose notes were replaced.
	ReportsRedacted int
}

// EraseClient erases a client's personal data in place (SPEC §25): the messages of its chat
// sessions are deleted (both parties', but those an open report holds), the notes of the
// reports it filed or is the subject of are redacted, and its row is scrubbed (see
// pairing.EraseClient: display name replaced, closed, erased_at set, tokens revoked where
// the store keeps them). Its pairings, chat sessions, payments, refunds and ledger lines
// stay under the same id: the money records are kept, their totals unchanged.
//
// While the client has an open pairing or a chat session active or pending_payment it is
// ErrInvalidState, checked before anything is deleted; ErrNotFound for an unknown client.
// The row is scrubbed last, so that a call that failed half way can be made again by the
// client (its account still open); calling it for an erased client finishes what is left.
// A chat that started and ended between the check and the scrub (a race with the client
// itself) has its messages deleted after the scrub.
func (c *Client) EraseClient(ctx context.Context, id uuid.UUID) (ClientErasure, error) {
	if err := c.pairer.Erasable(ctx, id); err != nil {
		return ClientErasure{}, fmt.Errorf("erase client %s: %w", id, err)
	}
	var out ClientErasure
	n, err := c.chat.DeleteClientMessages(ctx, id)
	out.MessagesDeleted += n
	if err != nil {
		return out, fmt.Errorf("erase client %s: %w", id, err)
	}
	if out.ReportsRedacted, err = c.reports.Store().RedactReportsOf(ctx, pairing.PartyClient, id); err != nil {
		return out, fmt.Errorf("erase client %s: redact its reports: %w", id, err)
	}
	if out.Client, err = c.pairer.EraseClient(ctx, id); err != nil {
		return out, err
	}
	n, err = c.chat.DeleteClientMessages(ctx, id)
	out.MessagesDeleted += n
	if err != nil {
		return out, fmt.Errorf("erase client %s: after the scrub: %w", id, err)
	}
	return out, nil
}
