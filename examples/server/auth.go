package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/clock"
)

// caller is the authenticated subject of a request.
type caller struct {
	Kind SubjectKind
	ID   uuid.UUID // uuid.Nil for the bootstrap operator
}

// operatorName identifies an operator in audit rows (changed_by, resolved_by).
func (c caller) operatorName() string {
	if c.ID == uuid.Nil {
		return "operator:bootstrap"
	}
	return "operator:" + c.ID.String()
}

// DefaultAuthCacheTTL bounds how long a verified token is trusted from process memory
// without asking Postgres. Revocations are pushed to every instance at once over Valkey
// pub/sub; this bound only matters if such a message is lost (Valkey down at that moment),
// so a revoked token can pass for at most this long.
const DefaultAuthCacheTTL = 30 * time.Second

// maxCachedTokens bounds the verified-token cache.
const maxCachedTokens = 200_000

const revokeTopic = "auth:revoke"

// authenticator verifies bearer tokens: Postgres (auth_sessions, token hash only) on a cache
// miss, process memory otherwise, so a steady-state request makes no Postgres round trip.
type authenticator struct {
	store         accountStore
	clock         clock.Clock
	ttl           time.Duration
	bootstrapHash []byte
	bus           broadcaster
	log           *slog.Logger

	mu    sync.RWMutex
	cache map[tokenHash]cachedToken // keyed by the raw hash: a cache hit allocates nothing
}

// tokenHash is the SHA-256 of a token; auth_sessions.token_hash holds its hex form.
type tokenHash [sha256.Size]byte

type cachedToken struct {
	caller    caller
	expiresAt time.Time
	cachedAt  time.Time
}

func newAuthenticator(store accountStore, clk clock.Clock, ttl time.Duration, bootstrapToken string, bus broadcaster, log *slog.Logger) *authenticator {
	h := sha256.Sum256([]byte(bootstrapToken))
	return &authenticator{
		store: store, clock: clk, ttl: ttl, bootstrapHash: h[:], bus: bus, log: log,
		cache: map[tokenHash]cachedToken{},
	}
}

// start follows revocations published by every instance until ctx ends.
func (a *authenticator) start(ctx context.Context) {
	a.bus.Subscribe(ctx, revokeTopic, func(msg []byte) {
		kind, id, ok := strings.Cut(string(msg), ":")
		if !ok {
			return
		}
		if sid, err := uuid.Parse(id); err == nil {
			a.dropSubject(SubjectKind(kind), sid)
		}
	}, a.dropAll)
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// newToken returns a random opaque token.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// verify returns the caller a token belongs to, or errUnauthenticated.
func (a *authenticator) verify(ctx context.Context, token string) (caller, error) {
	if token == "" || len(token) > 512 {
		return caller{}, errUnauthenticated
	}
	sum := tokenHash(sha256.Sum256([]byte(token)))
	if subtle.ConstantTimeCompare(sum[:], a.bootstrapHash) == 1 {
		return caller{Kind: SubjectOperator}, nil
	}
	now := a.clock.Now()

	a.mu.RLock()
	ct, ok := a.cache[sum]
	a.mu.RUnlock()
	if ok && now.Before(ct.cachedAt.Add(a.ttl)) {
		if !now.Before(ct.expiresAt) {
			return caller{}, errUnauthenticated
		}
		return ct.caller, nil
	}

	s, err := a.store.LookupToken(ctx, hex.EncodeToString(sum[:]))
	if errors.Is(err, curhat.ErrNotFound) {
		return caller{}, errUnauthenticated
	}
	if err != nil {
		return caller{}, err
	}
	if s.RevokedAt != nil || !now.Before(s.ExpiresAt) {
		a.drop(sum)
		return caller{}, errUnauthenticated
	}
	c := caller{Kind: s.SubjectKind, ID: s.SubjectID}
	a.mu.Lock()
	if len(a.cache) >= maxCachedTokens {
		a.cache = map[tokenHash]cachedToken{}
	}
	a.cache[sum] = cachedToken{caller: c, expiresAt: s.ExpiresAt, cachedAt: now}
	a.mu.Unlock()
	return c, nil
}

// issue mints a token for a subject.
func (a *authenticator) issue(ctx context.Context, kind SubjectKind, id uuid.UUID, ttl time.Duration) (string, time.Time, error) {
	token := newToken()
	now := a.clock.Now()
	exp := now.Add(ttl).UTC().Truncate(time.Microsecond)
	err := a.store.CreateAuthSession(ctx, authSession{
		ID: uuid.New(), SubjectKind: kind, SubjectID: id, TokenHash: hashToken(token), ExpiresAt: exp,
	}, now)
	if err != nil {
		return "", time.Time{}, err
	}
	return token, exp, nil
}

// revoked tells every instance that a subject's tokens were revoked in Postgres.
func (a *authenticator) revoked(ctx context.Context, kind SubjectKind, id uuid.UUID) {
	a.dropSubject(kind, id)
	if err := a.bus.Publish(ctx, revokeTopic, []byte(string(kind)+":"+id.String())); err != nil {
		a.log.WarnContext(ctx, "publish token revocation failed; other instances trust cached tokens until the cache bound",
			"subject", id, "bound", a.ttl, "err", err)
	}
}

func (a *authenticator) drop(hash tokenHash) {
	a.mu.Lock()
	delete(a.cache, hash)
	a.mu.Unlock()
}

func (a *authenticator) dropSubject(kind SubjectKind, id uuid.UUID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for h, ct := range a.cache {
		if ct.caller.Kind == kind && ct.caller.ID == id {
			delete(a.cache, h)
		}
	}
}

func (a *authenticator) dropAll() {
	a.mu.Lock()
	a.cache = map[tokenHash]cachedToken{}
	a.mu.Unlock()
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return ""
	}
	return strings.TrimSpace(h[len(p):])
}
