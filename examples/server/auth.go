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
)

// caller is the authenticated subject of a request.
type caller struct {
	Kind SubjectKind
	ID   uuid.UUID // uuid.Nil for the bootstrap operator
	// Role is an operator's role (roleViewer, roleSupport or roleAdmin); rolePublic for
	// clients and mitras.
	Role role
	// audited is set on an operator's write request: s.audit marks it (audit.go).
	audited *auditMark
	// token is the hash of the bearer token the request came with (zero for the bootstrap
	// operator): logout revokes it, and an event stream is closed when it is revoked.
	token tokenHash
}

// changedBy identifies an operator in the rows it changes (changed_by, resolved_by): its
// id, the nil UUID for the bootstrap operator.
func (c caller) changedBy() string { return c.ID.String() }

// DefaultAuthCacheTTL bounds how long a verified token is trusted from process memory
// without asking Postgres. Revocations are pushed to every instance at once over the bus
// (Valkey pub/sub); this bound only matters if such a message is lost without the
// instance noticing, so a revoked token can pass for at most this long.
const DefaultAuthCacheTTL = 30 * time.Second

// unsubscribedTokenTTL bounds how long a verified token is trusted from memory while the
// revocation subscription is down (Valkey unreachable): no revocation can reach this
// instance then, so it asks Postgres again after this long. The cache is also dropped
// when the subscription is lost and again when it is back.
const unsubscribedTokenTTL = time.Second

// DefaultRefusedTokenTTL is how long a token that Postgres does not know (or knows as
// revoked, expired or deactivated) is refused from memory: a client retrying with a bad
// token costs one lookup per this interval, not one per request.
const DefaultRefusedTokenTTL = 5 * time.Second

// maxTokenLookups bounds the Postgres lookups of one verification. A lookup overtaken by a
// revocation (one was applied here while it ran) is not remembered, and is asked again:
// what it read may be older than the revocation. Past the bound the last answer stands for
// the request but is not remembered.
const maxTokenLookups = 3

// Bounds of the token caches; past them the least recently used entry makes room.
const (
	maxCachedTokens  = 200_000
	maxRefusedTokens = 20_000
)

const revokeTopic = "auth:revoke"

// revokeTokenPrefix starts the revocation message of one token ("token:<hex hash>"); the
// revocation of a subject's tokens is "<kind>:<id>", or "<kind>:<id>:<reason>" when its
// account was closed.
const revokeTokenPrefix = "token:"

// reasonMitraDeactivated is why a deactivated mitra's account was closed: its event
// streams get an account_closed event with this reason before they close.
const reasonMitraDeactivated = "mitra_deactivated"

// reasonClientSuspended is why a suspended client's account was closed (its streams get
// account_closed with it, as a deactivated mitra's do).
const reasonClientSuspended = "client_suspended"

// reasonClientErased is why the account of a client that erased its data was closed.
const reasonClientErased = "client_erased"

// revocation is what a revocation message revoked: one token, or every token of a subject.
type revocation struct {
	byToken bool
	token   tokenHash
	subject subjectKey
	// closed says why the subject's account was closed (reasonMitraDeactivated), for a
	// subject revocation that closed one; empty otherwise.
	closed string
}

// authenticator verifies bearer tokens: Postgres (auth_sessions, token hash only) on a cache
// miss, process memory otherwise, so a steady-state request makes no Postgres round trip.
type authenticator struct {
	store         accountStore
	clock         curhat.Clock
	ttl           time.Duration // of a verified token in memory
	refusedTTL    time.Duration // of a refused token in memory
	bootstrapHash []byte
	bus           curhat.Bus
	log           *slog.Logger
	// onRevoke is told of every revocation, this instance's and the others' (the event
	// hub closes the streams opened with the revoked tokens).
	onRevoke func(revocation)

	mu       sync.Mutex
	verified *tokenCache[cachedToken]  // keyed by the raw hash: a cache hit allocates nothing
	refused  *tokenCache[refusedToken] // tokens Postgres refused, for refusedTTL
	// subscribed tells whether revocations from other instances can arrive; until the bus
	// says so, verified tokens are trusted for unsubscribedTokenTTL only.
	subscribed bool
	// epoch counts the revocations applied here and the resets of the subscription. A
	// lookup remembers its answer only if the epoch did not move while it asked Postgres:
	// a revocation that committed after the lookup read the token, and was applied (its
	// cache drop finding nothing yet) before the answer was remembered, would otherwise be
	// undone by it.
	epoch uint64
}

// tokenHash is the SHA-256 of a token; auth_sessions.token_hash holds its hex form.
type tokenHash [sha256.Size]byte

func newAuthenticator(store accountStore, clk curhat.Clock, ttl time.Duration, bootstrapToken string, bus curhat.Bus, log *slog.Logger) *authenticator {
	h := sha256.Sum256([]byte(bootstrapToken))
	return &authenticator{
		store: store, clock: clk, ttl: ttl, refusedTTL: DefaultRefusedTokenTTL, bootstrapHash: h[:], bus: bus, log: log,
		verified: newTokenCache[cachedToken](maxCachedTokens),
		refused:  newTokenCache[refusedToken](maxRefusedTokens),
	}
}

// follow applies the revocations published by every instance until ctx ends.
func (a *authenticator) follow(ctx context.Context) {
	_ = a.bus.Subscribe(ctx, revokeTopic, curhat.BusHandler{
		Message: func(msg []byte) {
			if rv, ok := parseRevocation(string(msg)); ok {
				a.apply(rv)
			}
		},
		Reset: a.reset,
	})
}

func parseRevocation(msg string) (revocation, bool) {
	if hexHash, ok := strings.CutPrefix(msg, revokeTokenPrefix); ok {
		var h tokenHash
		if n, err := hex.Decode(h[:], []byte(hexHash)); err != nil || n != len(h) {
			return revocation{}, false
		}
		return revocation{byToken: true, token: h}, true
	}
	kind, rest, ok := strings.Cut(msg, ":")
	if !ok {
		return revocation{}, false
	}
	id, closed, _ := strings.Cut(rest, ":")
	sid, err := uuid.Parse(id)
	if err != nil {
		return revocation{}, false
	}
	if closed != reasonMitraDeactivated && closed != reasonClientSuspended && closed != reasonClientErased {
		closed = "" // a reason this instance does not know: the tokens are revoked all the same
	}
	return revocation{subject: subjectKey{SubjectKind(kind), sid}, closed: closed}, true
}

func (rv revocation) message() string {
	if rv.byToken {
		return revokeTokenPrefix + hex.EncodeToString(rv.token[:])
	}
	msg := string(rv.subject.Kind) + ":" + rv.subject.ID.String()
	if rv.closed != "" {
		msg += ":" + rv.closed
	}
	return msg
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// tokenLen is the length of the tokens newToken mints.
const tokenLen = 43

// newToken returns a random opaque token: 32 bytes, base64url without padding.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// wellFormed reports whether token could have been minted by newToken; anything else is
// refused without a lookup.
func wellFormed(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// sumToken hashes a token (at most 512 bytes) without allocating.
func sumToken(token string) tokenHash {
	var buf [512]byte
	n := copy(buf[:], token)
	return sha256.Sum256(buf[:n])
}

// verify returns the caller a token belongs to, errUnauthenticated, errMitraDeactivated
// for a token of a mitra that an operator deactivated, or errClientSuspended for a token
// of a client that an operator suspended.
func (a *authenticator) verify(ctx context.Context, token string) (caller, error) {
	if token == "" || len(token) > 512 {
		return caller{}, errUnauthenticated
	}
	sum := sumToken(token)
	if subtle.ConstantTimeCompare(sum[:], a.bootstrapHash) == 1 {
		return caller{Kind: SubjectOperator, Role: roleAdmin}, nil
	}
	if !wellFormed(token) {
		return caller{}, errUnauthenticated
	}
	now := a.clock.Now()

	a.mu.Lock()
	ct, ok := a.verified.get(sum)
	var refusal refusedToken
	if !ok {
		refusal, _ = a.refused.get(sum)
	}
	trust := a.ttl
	if !a.subscribed {
		trust = min(trust, unsubscribedTokenTTL)
	}
	epoch := a.epoch
	a.mu.Unlock()
	if ok && now.Before(ct.cachedAt.Add(trust)) {
		if !now.Before(ct.expiresAt) {
			return caller{}, errUnauthenticated
		}
		return ct.caller, nil
	}
	if refusal.err != nil && now.Before(refusal.until) {
		return caller{}, refusal.err
	}

	// The answer is remembered only if no revocation was applied (and no reset dropped the
	// cache) since the epoch was read, before the lookup: one applied meanwhile may have
	// committed after the lookup read the token. A refusal stands as it is; a pass is
	// asked again.
	for lookups := 1; ; lookups++ {
		entry, rt, err := a.lookup(ctx, sum, now)
		if err != nil {
			return caller{}, err
		}
		a.mu.Lock()
		current := a.epoch == epoch
		epoch = a.epoch
		switch {
		case !current:
		case rt.err != nil:
			a.verified.drop(sum)
			a.refused.put(sum, rt)
		default:
			a.verified.put(sum, entry)
		}
		a.mu.Unlock()
		switch {
		case rt.err != nil:
			return caller{}, rt.err
		case current || lookups == maxTokenLookups:
			return entry.caller, nil
		}
	}
}

// lookup asks Postgres about a token: its cache entry if it passes, its refusal if not.
func (a *authenticator) lookup(ctx context.Context, sum tokenHash, now time.Time) (cachedToken, refusedToken, error) {
	s, err := a.store.LookupToken(ctx, hex.EncodeToString(sum[:]))
	if errors.Is(err, curhat.ErrNotFound) {
		return cachedToken{}, refusedToken{err: errUnauthenticated, until: now.Add(a.refusedTTL)}, nil
	}
	if err != nil {
		return cachedToken{}, refusedToken{}, err
	}
	who := subjectKey{s.SubjectKind, s.SubjectID}
	switch {
	case s.ClientErased:
		// Its account is gone (an erased client is closed too: checked first).
		return cachedToken{}, refusedToken{err: errClientErased, until: now.Add(a.refusedTTL), who: who}, nil
	case s.MitraDeactivated:
		// Whether or not the deactivation revoked this token: the app must tell "you were
		// deactivated" from "sign in again".
		return cachedToken{}, refusedToken{err: errMitraDeactivated, until: now.Add(a.refusedTTL), who: who}, nil
	case s.ClientSuspended:
		// Likewise: "you were suspended", whether the token was minted before or after.
		return cachedToken{}, refusedToken{err: errClientSuspended, until: now.Add(a.refusedTTL), who: who}, nil
	case s.RevokedAt != nil || !now.Before(s.ExpiresAt):
		return cachedToken{}, refusedToken{err: errUnauthenticated, until: now.Add(a.refusedTTL), who: who}, nil
	case s.SubjectKind == SubjectOperator && operatorRoles[s.OperatorRole] == rolePublic:
		// Its account does not exist or was deactivated.
		return cachedToken{}, refusedToken{err: errOperatorInactive, until: now.Add(a.refusedTTL), who: who}, nil
	}
	c := caller{Kind: s.SubjectKind, ID: s.SubjectID, Role: operatorRoles[s.OperatorRole], token: sum}
	return cachedToken{caller: c, expiresAt: s.ExpiresAt, cachedAt: now}, refusedToken{}, nil
}

// refuse remembers for refusedTTL that a token is refused, and returns the refusal.
func (a *authenticator) refuse(sum tokenHash, rt refusedToken, now time.Time) error {
	rt.until = now.Add(a.refusedTTL)
	a.mu.Lock()
	a.verified.drop(sum)
	a.refused.put(sum, rt)
	a.mu.Unlock()
	return rt.err
}

// issue mints a token for a subject.
func (a *authenticator) issue(ctx context.Context, kind SubjectKind, id uuid.UUID, ttl time.Duration) (string, time.Time, error) {
	token := newToken()
	exp, err := a.issueToken(ctx, token, kind, id, ttl)
	if err != nil {
		return "", time.Time{}, err
	}
	return token, exp, nil
}

// issueToken stores token for a subject. A refusal remembered for its hash is forgotten
// (tokens are random, so that would take a token presented before it was minted).
func (a *authenticator) issueToken(ctx context.Context, token string, kind SubjectKind, id uuid.UUID, ttl time.Duration) (time.Time, error) {
	now := a.clock.Now()
	exp := now.Add(ttl).UTC().Truncate(time.Microsecond)
	sum := sumToken(token)
	err := a.store.CreateAuthSession(ctx, authSession{
		ID: uuid.New(), SubjectKind: kind, SubjectID: id, TokenHash: hex.EncodeToString(sum[:]), ExpiresAt: exp,
	}, now)
	if err != nil {
		return time.Time{}, err
	}
	a.mu.Lock()
	a.refused.drop(sum)
	a.mu.Unlock()
	return exp, nil
}

// revokeToken revokes one token in Postgres and tells every instance.
func (a *authenticator) revokeToken(ctx context.Context, sum tokenHash) error {
	if err := a.store.RevokeToken(ctx, hex.EncodeToString(sum[:]), a.clock.Now()); err != nil {
		return err
	}
	a.refuse(sum, refusedToken{err: errUnauthenticated}, a.clock.Now())
	a.broadcast(ctx, revocation{byToken: true, token: sum})
	return nil
}

// revokeSubject revokes every token of a subject in Postgres and tells every instance.
func (a *authenticator) revokeSubject(ctx context.Context, kind SubjectKind, id uuid.UUID) error {
	if err := a.store.RevokeSubject(ctx, kind, id, a.clock.Now()); err != nil {
		return err
	}
	a.revoked(ctx, kind, id)
	return nil
}

// revoked tells every instance that a subject's tokens were revoked in Postgres (or that
// what they were refused for changed: a mitra was reactivated), so that they forget what
// they remember of them.
func (a *authenticator) revoked(ctx context.Context, kind SubjectKind, id uuid.UUID) {
	a.broadcast(ctx, revocation{subject: subjectKey{kind, id}})
}

// accountClosed is revoked for a subject whose account was closed (its tokens revoked in
// Postgres) for reason: its event streams are told why before they close.
func (a *authenticator) accountClosed(ctx context.Context, kind SubjectKind, id uuid.UUID, reason string) {
	a.broadcast(ctx, revocation{subject: subjectKey{kind, id}, closed: reason})
}

// broadcast applies a revocation here at once and publishes it to the other instances.
func (a *authenticator) broadcast(ctx context.Context, rv revocation) {
	a.apply(rv)
	if err := a.bus.Publish(ctx, revokeTopic, []byte(rv.message())); err != nil {
		a.log.WarnContext(ctx, "publish token revocation failed; other instances trust cached tokens until the cache bound",
			"subject", rv.subject.ID, "bound", a.ttl, "err", err)
	}
}

// apply forgets revoked tokens and closes what was opened with them. A lookup that began
// before it will not remember its answer (the epoch moved).
func (a *authenticator) apply(rv revocation) {
	a.mu.Lock()
	a.epoch++
	if rv.byToken {
		a.verified.drop(rv.token)
	} else {
		a.verified.dropSubject(rv.subject)
		a.refused.dropSubject(rv.subject) // a reactivated mitra's tokens are no longer "deactivated"
	}
	a.mu.Unlock()
	if a.onRevoke != nil {
		a.onRevoke(rv)
	}
}

// reset forgets every verified token, since revocations may have been missed (the
// subscription was lost, re-established, or fell behind), and records whether
// revocations can arrive now. A lookup that began before it will not remember its answer.
func (a *authenticator) reset(r curhat.BusReset) {
	a.mu.Lock()
	a.epoch++
	a.verified.clear()
	a.subscribed = r.Subscribed
	a.mu.Unlock()
	if !r.Subscribed {
		a.log.Warn("token revocations cannot arrive: verified tokens are trusted from memory for " +
			unsubscribedTokenTTL.String() + " only until the subscription is back")
	}
}

// revocationsFollowed reports whether revocations from other instances can arrive.
func (a *authenticator) revocationsFollowed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.subscribed
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

// wireAuth builds the authenticator and the event hub: a revocation ends the event streams
// opened with the revoked tokens.
func (a *App) wireAuth() {
	if m, ok := a.accounts.(*memAccounts); ok {
		// In Postgres, LookupToken joins mitras; in memory the availability store knows.
		m.mitraActive = func(ctx context.Context, id uuid.UUID) bool {
			mt, err := a.mirror.GetMitra(ctx, id)
			return err != nil || mt.IsActive
		}
		// Likewise for clients: the SDK's client store knows who is suspended.
		m.clientActive = func(ctx context.Context, id uuid.UUID) bool {
			c, err := a.pairer.GetClient(ctx, id)
			return err != nil || c.IsActive
		}
		m.clientErased = func(ctx context.Context, id uuid.UUID) bool {
			c, err := a.pairer.GetClient(ctx, id)
			return err == nil && c.ErasedAt != nil
		}
	}
	a.auth = newAuthenticator(a.accounts, a.clock, a.cfg.AuthCacheTTL, a.cfg.OperatorToken, a.bus, a.log)
	a.events = newEventHub(a.bus, a.clock, a.log, a.cfg.SSEMaxStreamsPerSubject, a.cfg.SSEMaxStreams)
	a.auth.onRevoke = a.events.revoke
	a.events.verify = func(ctx context.Context, token string) error {
		_, err := a.auth.verify(ctx, token)
		return err
	}
}
