package pairing

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// MaxClientQueryLength bounds ClientQuery.Query, in characters.
const MaxClientQueryLength = 200

// ClientStore is what operators need of clients beyond their registration: suspending and
// reinstating one, and finding one. It is part of Store.
type ClientStore interface {
	// SetClientActive suspends (false) or reinstates (true) a client and returns it as it
	// is now (ErrNotFound if none); setting what it is already changes nothing. While a
	// client is suspended, CreatePairing refuses it (ErrClientSuspended). Suspending also
	// revokes every token of the client in the same transaction where the store keeps them
	// (the Postgres store: auth_sessions of subject_kind client, as the availability
	// store's deactivation does for mitras); the in-memory store keeps none, so its host
	// revokes its own. An erased client (EraseClient) is not reinstated: ErrInvalidState.
	SetClientActive(ctx context.Context, id uuid.UUID, active bool) (Client, error)
	// ListClients returns one page of the clients matching q, newest first (created_at,
	// then id, both descending), and how many match in all. q is normalised already.
	ListClients(ctx context.Context, q ClientQuery) ([]Client, int, error)
}

// ClientQuery finds clients for operators.
type ClientQuery struct {
	// Query matches the clients whose display name contains it, ignoring case, and the
	// client whose id it is. Empty matches every client. At most MaxClientQueryLength
	// characters once trimmed.
	Query string
	// Page starts at 1 (0 means 1); PageSize defaults to 20 and is at most 100.
	Page, PageSize int
}

// normalize validates q and fills its paging defaults.
func (q ClientQuery) normalize() (ClientQuery, error) {
	q.Query = strings.TrimSpace(q.Query)
	if utf8.RuneCountInString(q.Query) > MaxClientQueryLength {
		return q, core.Invalid("q", "must be at most %d characters", MaxClientQueryLength)
	}
	if !utf8.ValidString(q.Query) || strings.ContainsRune(q.Query, 0) {
		return q, core.Invalid("q", "must be UTF-8 text without NUL characters")
	}
	var err error
	q.Page, q.PageSize, err = core.NormalizePage(q.Page, q.PageSize)
	return q, err
}

// SetClientActive suspends (active false) or reinstates a client, for operators. A
// suspended client cannot start a chat (StartBlast, StartTargeted and FallbackToBlast
// answer ErrClientSuspended); what it has running goes on (an operator ends a chat
// separately). Suspending revokes the client's tokens where the store keeps them (see
// ClientStore.SetClientActive); reinstating does not bring them back: the host mints new
// ones. ErrNotFound for an unknown client.
func (p *Pairer) SetClientActive(ctx context.Context, id uuid.UUID, active bool) (Client, error) {
	if err := requireID("client_id", id); err != nil {
		return Client{}, err
	}
	c, err := p.store.SetClientActive(ctx, id, active)
	if err != nil {
		return Client{}, fmt.Errorf("set client %s active=%t: %w", id, active, err)
	}
	return c, nil
}

// ListClients returns one page of the clients matching q, newest first, and how many match
// in all. A query longer than MaxClientQueryLength or a page size above 100 is a
// validation error.
func (p *Pairer) ListClients(ctx context.Context, q ClientQuery) ([]Client, int, error) {
	q, err := q.normalize()
	if err != nil {
		return nil, 0, err
	}
	items, total, err := p.store.ListClients(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list clients: %w", err)
	}
	return items, total, nil
}

// refuseSuspended answers ErrClientSuspended for a suspended client (ErrNotFound for an
// unknown one). StartBlast and StartTargeted need no such read: CreatePairing refuses a
// suspended client in the statement that locks its row.
func (p *Pairer) refuseSuspended(ctx context.Context, clientID uuid.UUID) error {
	c, err := p.store.GetClient(ctx, clientID)
	if err != nil {
		return err
	}
	if !c.IsActive {
		return fmt.Errorf("client %s: %w", clientID, ErrClientSuspended)
	}
	return nil
}

// clientMatches is the filter of ClientQuery.Query, as the stores apply it: the display
// name contains the query ignoring case, or the query is the client's id.
func clientMatches(c Client, query string) bool {
	if query == "" {
		return true
	}
	q := strings.ToLower(query)
	return strings.Contains(strings.ToLower(c.DisplayName), q) || c.ID.String() == q
}
