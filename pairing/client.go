package pairing

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// MaxClientNameLength is the longest display name of a client, in characters (the check of
// clients.display_name).
const MaxClientNameLength = 200

// Client is a paying customer as the SDK knows it: the row of clients that its pairings,
// chat sessions and payments refer to. The host keeps its own accounts (sign-in, contact
// details) and registers each client once (Pairer.RegisterClient) before the client's
// first pairing.
type Client struct {
	ID          uuid.UUID
	DisplayName string
	// IsActive is false while an operator has the client suspended (SetClientActive), and
	// once it was erased: it cannot start a chat.
	IsActive  bool
	CreatedAt time.Time
	// ErasedAt is when the client was erased (EraseClient); nil: it was not.
	ErasedAt *time.Time
}

// RegisterClientParams registers a client.
type RegisterClientParams struct {
	// ID is the client's id: the host's own account id, so that its accounts and the SDK's
	// rows share one. uuid.Nil: the SDK generates one.
	ID uuid.UUID
	// DisplayName is the name mitras see: 1 to MaxClientNameLength characters once the
	// spaces around it are trimmed.
	DisplayName string
}

// Validate reports a display name that is empty, longer than MaxClientNameLength
// characters, or not text Postgres can store (invalid UTF-8, NUL), once trimmed.
func (p RegisterClientParams) Validate() error {
	name := strings.TrimSpace(p.DisplayName)
	if n := utf8.RuneCountInString(name); n == 0 || n > MaxClientNameLength {
		return core.Invalid("display_name", "must be 1 to %d characters", MaxClientNameLength)
	}
	if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return core.Invalid("display_name", "must be UTF-8 text without NUL characters")
	}
	return nil
}

// RegisterClient creates the client a host's account pays as: until it exists, starting a
// pairing for its id fails with ErrNotFound. Registering is idempotent: the same id with
// the same display name returns the client as first registered (a retried call is
// harmless), while an id already registered with another display name is ErrConflict —
// a host that reuses ids by mistake finds out at once. A display name that does not pass
// RegisterClientParams.Validate is a *ValidationError naming display_name.
func (p *Pairer) RegisterClient(ctx context.Context, params RegisterClientParams) (Client, error) {
	if err := params.Validate(); err != nil {
		return Client{}, err
	}
	c := Client{ID: params.ID, DisplayName: strings.TrimSpace(params.DisplayName), IsActive: true, CreatedAt: p.now()}
	if c.ID == uuid.Nil {
		c.ID = uuid.New()
	}
	got, err := p.store.CreateClient(ctx, c)
	if err != nil {
		return Client{}, fmt.Errorf("register client %s: %w", c.ID, err)
	}
	return got, nil
}

// GetClient returns a registered client, or ErrNotFound.
func (p *Pairer) GetClient(ctx context.Context, id uuid.UUID) (Client, error) {
	return p.store.GetClient(ctx, id)
}
