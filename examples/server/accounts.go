package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/pairing"
)

// The reference server's own accounts: bearer tokens (auth_sessions), and the clients it
// registers with the SDK (curhat.Client.RegisterClient). Hosts embedding the SDK bring
// their own authentication; this is what the mobile apps of the reference deployment talk
// to.

// SubjectKind is who a token belongs to.
type SubjectKind string

const (
	SubjectClient   SubjectKind = "client"
	SubjectMitra    SubjectKind = "mitra"
	SubjectOperator SubjectKind = "operator"
)

// Client is a paying customer, as the API shows it.
type Client struct {
	ID          uuid.UUID `json:"id"`
	DisplayName string    `json:"display_name"`
	// IsActive is false while an operator has the client suspended.
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	// WarningsCount is how many of the reports against the client were resolved
	// "warned" (routes_reports.go); filled where operators read a client.
	WarningsCount int `json:"warnings_count"`
	// ErasedAt is when the client erased its data (DELETE /api/client/me); null: it did
	// not. An erased client is closed for good (is_active false).
	ErasedAt *time.Time `json:"erased_at"`
}

func toClient(c pairing.Client) Client {
	return Client{ID: c.ID, DisplayName: c.DisplayName, IsActive: c.IsActive, CreatedAt: c.CreatedAt, ErasedAt: c.ErasedAt}
}

// registerClient registers a new client with the SDK (its clients table, in Postgres or in
// memory), under an id the SDK makes.
func (a *App) registerClient(ctx context.Context, displayName string) (Client, error) {
	c, err := a.client.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: displayName})
	return toClient(c), err
}

// getClient reads a client registered with the SDK (ErrNotFound if none), with its
// warnings count.
func (a *App) getClient(ctx context.Context, id uuid.UUID) (Client, error) {
	c, err := a.pairer.GetClient(ctx, id)
	if err != nil {
		return Client{}, err
	}
	out := toClient(c)
	return out, a.clientWarnings(ctx, &out)
}

// authSession is one auth_sessions row.
type authSession struct {
	ID          uuid.UUID
	SubjectKind SubjectKind
	SubjectID   uuid.UUID
	TokenHash   string
	ExpiresAt   time.Time
	RevokedAt   *time.Time
	// MitraDeactivated: the subject is a mitra that an operator deactivated (LookupToken
	// fills it, so that the answer can say so instead of "sign in again").
	MitraDeactivated bool
	// OperatorRole is the role of an operator subject ("" when its account does not
	// exist or is deactivated: the token is refused); LookupToken fills it.
	OperatorRole string
	// ClientSuspended: the subject is a client that an operator suspended (LookupToken
	// fills it, so that the answer can say so instead of "sign in again").
	ClientSuspended bool
	// ClientErased: the subject is a client that erased its data (DELETE
	// /api/client/me): every token of it is refused, one minted since included.
	ClientErased bool
}

// accountStore is the durable side of tokens.
type accountStore interface {
	CreateAuthSession(ctx context.Context, s authSession, now time.Time) error
	// LookupToken returns the session whose token_hash is hash (ErrNotFound if none), in
	// one round trip with whether its subject is a deactivated mitra or a suspended client.
	LookupToken(ctx context.Context, hash string) (authSession, error)
	// RevokeToken revokes the token whose token_hash is hash (idempotent; ErrNotFound if
	// there is none).
	RevokeToken(ctx context.Context, hash string, now time.Time) error
	// RevokeSubject revokes every token of a subject (idempotent).
	RevokeSubject(ctx context.Context, kind SubjectKind, id uuid.UUID, now time.Time) error

	operatorStore // operators.go, audit.go
}

// pgAccounts stores accounts in Postgres.
type pgAccounts struct{ pool *pgxpool.Pool }

func (s pgAccounts) CreateAuthSession(ctx context.Context, a authSession, now time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_sessions (id, subject_kind, subject_id, token_hash, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, a.ID, a.SubjectKind, a.SubjectID, a.TokenHash, a.ExpiresAt, now)
	return curhat.TranslatePostgresError(err)
}

func (s pgAccounts) LookupToken(ctx context.Context, hash string) (authSession, error) {
	var a authSession
	err := s.pool.QueryRow(ctx, `SELECT a.id, a.subject_kind, a.subject_id, a.token_hash, a.expires_at, a.revoked_at,
			coalesce(NOT m.is_active, false), CASE WHEN o.is_active THEN o.role ELSE '' END, coalesce(NOT c.is_active, false),
			c.erased_at IS NOT NULL
		FROM auth_sessions a
		LEFT JOIN mitras m ON a.subject_kind = 'mitra' AND m.id = a.subject_id
		LEFT JOIN operators o ON a.subject_kind = 'operator' AND o.id = a.subject_id
		LEFT JOIN clients c ON a.subject_kind = 'client' AND c.id = a.subject_id
		WHERE a.token_hash = $1`, hash).
		Scan(&a.ID, &a.SubjectKind, &a.SubjectID, &a.TokenHash, &a.ExpiresAt, &a.RevokedAt, &a.MitraDeactivated, &a.OperatorRole,
			&a.ClientSuspended, &a.ClientErased)
	return a, curhat.TranslatePostgresError(err)
}

func (s pgAccounts) RevokeToken(ctx context.Context, hash string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, $2) WHERE token_hash = $1`, hash, now)
	if err != nil {
		return curhat.TranslatePostgresError(err)
	}
	if tag.RowsAffected() == 0 {
		return curhat.ErrNotFound
	}
	return nil
}

func (s pgAccounts) RevokeSubject(ctx context.Context, kind SubjectKind, id uuid.UUID, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE auth_sessions SET revoked_at = $3
		WHERE subject_kind = $1 AND subject_id = $2 AND revoked_at IS NULL`, kind, id, now)
	return curhat.TranslatePostgresError(err)
}

// memAccounts stores accounts in memory (in-memory mode and tests).
type memAccounts struct {
	// mitraActive tells whether a mitra is active (the availability store knows); nil:
	// every mitra is. Called without mu held: deactivation calls RevokeSubject.
	mitraActive func(ctx context.Context, id uuid.UUID) bool
	// clientActive tells whether a client is active, not suspended (the SDK's client
	// store knows); nil: every client is. Called without mu held.
	clientActive func(ctx context.Context, id uuid.UUID) bool
	// clientErased tells whether a client erased its data; nil: none did. Called without
	// mu held.
	clientErased func(ctx context.Context, id uuid.UUID) bool

	mu        sync.Mutex
	sessions  map[string]*authSession // by token hash
	operators map[uuid.UUID]Operator
	audit     []auditEntry // oldest first
	auditSeq  int64
}

func newMemAccounts() *memAccounts {
	return &memAccounts{sessions: map[string]*authSession{}, operators: map[uuid.UUID]Operator{}}
}

func (s *memAccounts) CreateAuthSession(_ context.Context, a authSession, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.sessions[a.TokenHash]; dup {
		return curhat.ErrConflict
	}
	s.sessions[a.TokenHash] = &a
	return nil
}

func (s *memAccounts) LookupToken(ctx context.Context, hash string) (authSession, error) {
	s.mu.Lock()
	a, ok := s.sessions[hash]
	var out authSession
	if ok {
		out = *a
		if o := s.operators[out.SubjectID]; out.SubjectKind == SubjectOperator && o.IsActive {
			out.OperatorRole = o.Role
		}
	}
	s.mu.Unlock()
	if !ok {
		return authSession{}, curhat.ErrNotFound
	}
	if out.SubjectKind == SubjectMitra && s.mitraActive != nil {
		out.MitraDeactivated = !s.mitraActive(ctx, out.SubjectID)
	}
	if out.SubjectKind == SubjectClient && s.clientActive != nil {
		out.ClientSuspended = !s.clientActive(ctx, out.SubjectID)
	}
	if out.SubjectKind == SubjectClient && s.clientErased != nil {
		out.ClientErased = s.clientErased(ctx, out.SubjectID)
	}
	return out, nil
}

func (s *memAccounts) RevokeToken(_ context.Context, hash string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.sessions[hash]
	if !ok {
		return curhat.ErrNotFound
	}
	if a.RevokedAt == nil {
		t := now
		a.RevokedAt = &t
	}
	return nil
}

func (s *memAccounts) RevokeSubject(_ context.Context, kind SubjectKind, id uuid.UUID, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.sessions {
		if a.SubjectKind == kind && a.SubjectID == id && a.RevokedAt == nil {
			t := now
			a.RevokedAt = &t
		}
	}
	return nil
}

var errNoSuchSubject = errors.New("no such subject")
