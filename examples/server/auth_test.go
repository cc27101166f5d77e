package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/clock"
)

func TestLogout_RevokesPresentedToken(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		clientID, tok := ts.newClient("Dewi")
		sibling := ts.token("client", clientID)
		mitraID, mitraTok := ts.newMitra("Ayu")
		mitraSibling := ts.token("mitra", mitraID)
		ts.must(http.StatusOK, "GET", "/api/client/mitra-availability", tok, nil) // cached now

		r := ts.do("POST", "/api/client/logout", tok, nil)
		require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Raw)
		require.Empty(t, r.Raw)
		require.Equal(t, http.StatusUnauthorized, ts.do("GET", "/api/client/mitra-availability", tok, nil).Status,
			"the presented token, cached or not, is refused at once")
		require.Equal(t, http.StatusUnauthorized, ts.do("POST", "/api/client/logout", tok, nil).Status)
		ts.must(http.StatusOK, "GET", "/api/client/mitra-availability", sibling, nil) // the subject's other token

		ts.must(http.StatusNoContent, "POST", "/api/mitra/logout", mitraTok, nil)
		require.Equal(t, "UNAUTHENTICATED", ts.do("GET", "/api/mitra/status", mitraTok, nil).ErrorCode())
		ts.must(http.StatusOK, "GET", "/api/mitra/status", mitraSibling, nil)

		// A new instance (an empty cache) asks the store: revoked there too.
		fresh := newAuthenticator(ts.app.accounts, ts.clock, time.Minute, ts.op, curhat.NewMemoryBus(), slog.New(slog.DiscardHandler))
		_, err := fresh.verify(context.Background(), tok)
		require.Equal(t, errUnauthenticated, err)

		// The operator revokes every token of a subject.
		ts.must(http.StatusNoContent, "POST", "/api/internal/tokens/revoke", ts.op,
			map[string]any{"subject_kind": "client", "subject_id": clientID.String()})
		require.Equal(t, http.StatusUnauthorized, ts.do("GET", "/api/client/mitra-availability", sibling, nil).Status)
		r = ts.do("POST", "/api/internal/tokens/revoke", ts.op, map[string]any{"subject_kind": "client", "subject_id": uuid.NewString()})
		require.Equal(t, "NOT_FOUND", r.ErrorCode())
		r = ts.do("POST", "/api/internal/tokens/revoke", ts.op, map[string]any{"subject_kind": "root", "subject_id": uuid.NewString()})
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
	})
}

func TestTokens_TTLBounds(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		clientID, _ := ts.newClient("Dewi")
		mint := func(ttl any) response {
			return ts.do("POST", "/api/internal/tokens", ts.op, `{"subject_kind":"client","subject_id":"`+clientID.String()+`","ttl_seconds":`+fmt.Sprint(ttl)+`}`) // as is: strings are raw JSON numbers
		}
		for _, bad := range []any{0, -1, 7_776_001, int64(1) << 40,
			9_223_372_037, // × time.Second overflows int64 into a negative duration
			"18446744073709551615", 1.5, "1e30"} {
			r := mint(bad)
			require.Equal(t, http.StatusBadRequest, r.Status, "ttl_seconds %v: %s", bad, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
			require.Equal(t, "ttl_seconds", r.Body["error"].(map[string]any)["field"], "ttl_seconds %v", bad)
		}
		now := ts.clock.Now()
		for _, ok := range []int64{1, 7_776_000} {
			r := mint(ok)
			require.Equal(t, http.StatusCreated, r.Status, "ttl_seconds %d: %s", ok, r.Raw)
			exp, err := time.Parse(time.RFC3339Nano, r.Body["expires_at"].(string))
			require.NoError(t, err)
			require.WithinDuration(t, now.Add(time.Duration(ok)*time.Second), exp, time.Second)
			ts.must(http.StatusOK, "GET", "/api/client/mitra-availability", r.Body["token"].(string), nil)
		}
	})
}

func TestAuth_DeactivatedMitraGets403(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		mitraID, tok := ts.newMitra("Ayu")
		ts.must(http.StatusOK, "POST", "/api/mitra/status/online", tok, nil)
		ts.must(http.StatusOK, "POST", "/api/mitra/status/heartbeat", tok, nil) // cached

		ts.must(http.StatusOK, "PATCH", "/api/internal/mitras/"+mitraID.String()+"/status", ts.op, map[string]any{"is_active": false})
		for _, rq := range []struct{ method, path string }{
			{"POST", "/api/mitra/status/heartbeat"}, {"GET", "/api/mitra/status"}, {"GET", "/api/mitra/pairing-offers"},
			{"POST", "/api/mitra/status/online"}, {"GET", "/api/mitra/events"}, {"POST", "/api/mitra/logout"},
		} {
			r := ts.do(rq.method, rq.path, tok, nil)
			require.Equal(t, http.StatusForbidden, r.Status, "%s %s: %s", rq.method, rq.path, r.Raw)
			require.Equal(t, "MITRA_DEACTIVATED", r.ErrorCode(), "%s %s", rq.method, rq.path)
		}
		// Past the refusal's memory too (it asks the store again).
		ts.clock.Advance(DefaultRefusedTokenTTL + time.Second)
		require.Equal(t, "MITRA_DEACTIVATED", ts.do("GET", "/api/mitra/status", tok, nil).ErrorCode())

		// Other refusals stay 401: unknown and signed-out tokens of an active mitra.
		_, otherTok := ts.newMitra("Sari")
		ts.must(http.StatusNoContent, "POST", "/api/mitra/logout", otherTok, nil)
		require.Equal(t, "UNAUTHENTICATED", ts.do("GET", "/api/mitra/status", otherTok, nil).ErrorCode())
		require.Equal(t, "UNAUTHENTICATED", ts.do("GET", "/api/mitra/status", newToken(), nil).ErrorCode())

		// Reactivated: the tokens the deactivation revoked say "sign in again", at once.
		ts.must(http.StatusOK, "PATCH", "/api/internal/mitras/"+mitraID.String()+"/status", ts.op, map[string]any{"is_active": true})
		require.Equal(t, "UNAUTHENTICATED", ts.do("GET", "/api/mitra/status", tok, nil).ErrorCode())
		ts.must(http.StatusOK, "GET", "/api/mitra/status", ts.token("mitra", mitraID), nil)
	})
}

// countingAccounts counts token lookups.
type countingAccounts struct {
	accountStore
	lookups atomic.Int64
}

func (c *countingAccounts) LookupToken(ctx context.Context, hash string) (authSession, error) {
	c.lookups.Add(1)
	return c.accountStore.LookupToken(ctx, hash)
}

func TestAuth_NegativeCacheSparesPostgres(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	_, tok := ts.newClient("Dewi")
	const path = "/api/client/mitra-availability"
	unknown := newToken() // well-formed, never minted

	count := func(tok string, n int) int64 {
		before := ts.app.pgQueries()
		for range n {
			require.Equal(t, http.StatusUnauthorized, ts.do("GET", path, tok, nil).Status)
		}
		return ts.app.pgQueries() - before
	}
	require.Equal(t, int64(1), count(unknown, 20), "20 requests with one unknown token: one lookup")
	require.Zero(t, count("not even a token", 20), "a token the server could not have minted is not looked up")

	ts.must(http.StatusNoContent, "POST", "/api/client/logout", tok, nil)
	require.Zero(t, count(tok, 20), "the instance that revoked a token refuses it from memory")

	// The memory is brief: past it, one lookup again.
	ts.clock.Advance(DefaultRefusedTokenTTL + time.Second)
	require.Equal(t, int64(1), count(unknown, 20))
}

func TestAuth_IssuedTokenIsNotHeldBackByARefusal(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	clientID, _ := ts.newClient("Dewi")
	ctx := context.Background()
	tok := newToken()
	_, err := ts.app.auth.verify(ctx, tok)
	require.Equal(t, errUnauthenticated, err, "not minted yet: refused, and remembered")
	_, err = ts.app.auth.issueToken(ctx, tok, SubjectClient, clientID, time.Hour)
	require.NoError(t, err)
	c, err := ts.app.auth.verify(ctx, tok)
	require.NoError(t, err, "minted: the refusal is forgotten")
	require.Equal(t, clientID, c.ID)
}

func TestAuth_CacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	store := &countingAccounts{accountStore: newMemAccounts()}
	a := newAuthenticator(store, clk, time.Hour, newToken(), curhat.NewMemoryBus(), slog.New(slog.DiscardHandler))
	a.verified = newTokenCache[cachedToken](3)

	subject := func() uuid.UUID { return uuid.New() }
	x, y := subject(), subject()
	tokens := map[string]string{}
	for _, name := range []string{"x1", "x2", "y1", "y2"} {
		id := x
		if name[0] == 'y' {
			id = y
		}
		tok, _, err := a.issue(ctx, SubjectClient, id, time.Hour)
		require.NoError(t, err)
		tokens[name] = tok
	}
	// lookups returns how many store lookups verifying the tokens cost.
	lookups := func(names ...string) int64 {
		before := store.lookups.Load()
		for _, n := range names {
			_, err := a.verify(ctx, tokens[n])
			require.NoError(t, err, n)
		}
		return store.lookups.Load() - before
	}
	require.Equal(t, int64(3), lookups("x1", "x2", "y1")) // cache: y1 x2 x1 (most recent first)
	require.Equal(t, int64(0), lookups("x1"))             // x1 y1 x2
	require.Equal(t, int64(1), lookups("y2"))             // full: x2, the least recently used, makes room
	require.Equal(t, 3, a.verified.len(), "the bound holds, and nothing else was cleared")
	require.Equal(t, int64(0), lookups("x1", "y1", "y2")) // y2 y1 x1
	require.Equal(t, int64(1), lookups("x2"))             // evicted before: looked up again, x1 makes room
	require.Equal(t, int64(1), lookups("x1"))             // x1 x2 y2: y1 made room

	// A subject's revocation drops its tokens through the index, not by scanning.
	require.Len(t, a.verified.bySubject[subjectKey{SubjectClient, x}], 2)
	a.apply(revocation{subject: subjectKey{SubjectClient, x}})
	require.Empty(t, a.verified.bySubject[subjectKey{SubjectClient, x}])
	require.Equal(t, 1, a.verified.len(), "y2 stays")
	require.Equal(t, int64(0), lookups("y2"))
	require.Equal(t, int64(2), lookups("x1", "x2"), "x's tokens are asked for again")

	// The index follows evictions: no entry is left behind for a token no longer cached.
	for range 10 {
		tok, _, err := a.issue(ctx, SubjectClient, subject(), time.Hour)
		require.NoError(t, err)
		_, err = a.verify(ctx, tok)
		require.NoError(t, err)
	}
	indexed := 0
	for _, set := range a.verified.bySubject {
		indexed += len(set)
	}
	require.Equal(t, a.verified.len(), indexed)
	require.Equal(t, 3, indexed)
}

func TestAuth_RevocationMessages(t *testing.T) {
	t.Parallel()
	var h tokenHash
	copy(h[:], "0123456789abcdef0123456789abcdef")
	id := uuid.New()
	for _, rv := range []revocation{{byToken: true, token: h}, {subject: subjectKey{SubjectMitra, id}}} {
		got, ok := parseRevocation(rv.message())
		require.True(t, ok, rv.message())
		require.Equal(t, rv, got)
	}
	require.Equal(t, "token:"+hex.EncodeToString(h[:]), revocation{byToken: true, token: h}.message())
	for _, bad := range []string{"", "token:zz", "token:0123", "mitra:not-a-uuid", "nothing"} {
		_, ok := parseRevocation(bad)
		require.False(t, ok, bad)
	}
}

func TestAuth_LostRevocationSubscriptionShortensTrustInCachedTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	store := &countingAccounts{accountStore: newMemAccounts()}
	bus := curhat.NewMemoryBus()
	a := newAuthenticator(store, clk, time.Hour, newToken(), bus, slog.New(slog.DiscardHandler))
	followCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.follow(followCtx) }()
	t.Cleanup(func() { stop(); <-done })
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond) // polling interval, not a wait for an outcome
		}
	}
	waitFor("subscribed", a.revocationsFollowed)

	tok, _, err := a.issue(ctx, SubjectClient, uuid.New(), 24*time.Hour)
	require.NoError(t, err)
	lookups := func() int64 {
		before := store.lookups.Load()
		_, err := a.verify(ctx, tok)
		require.NoError(t, err)
		return store.lookups.Load() - before
	}
	require.Equal(t, int64(1), lookups())
	clk.Advance(10 * time.Minute)
	require.Equal(t, int64(0), lookups(), "subscribed: trusted for the cache TTL")

	// Revocations cannot arrive: the cache is dropped, and what is verified meanwhile is
	// trusted for a second only.
	bus.Disconnect()
	waitFor("unsubscribed", func() bool { return !a.revocationsFollowed() })
	require.Equal(t, int64(1), lookups(), "the cache was dropped")
	clk.Advance(unsubscribedTokenTTL / 2)
	require.Equal(t, int64(0), lookups())
	clk.Advance(unsubscribedTokenTTL)
	require.Equal(t, int64(1), lookups(), "asked again past the short bound")

	// Back: revocations may have been missed meanwhile, so the cache is dropped again,
	// then trusted for the full TTL.
	bus.Reconnect()
	waitFor("resubscribed", a.revocationsFollowed)
	require.Equal(t, int64(1), lookups())
	clk.Advance(10 * time.Minute)
	require.Equal(t, int64(0), lookups())
}
