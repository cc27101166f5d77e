package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/clock"
)

// Revocations racing token checks: a lookup that read a token as valid, overtaken by a
// revocation before its answer is remembered, must not bring the token back; nor may a
// stream subscribed just after a revocation stay open.

// interleavedLookups is an account store whose token lookups run a step between reading
// the token and answering: there a revocation commits and is applied, as another request
// would have it.
type interleavedLookups struct {
	accountStore
	mu      sync.Mutex
	between func() // run by the next lookup only
	every   func() // run by every lookup
	lookups atomic.Int64
}

func (s *interleavedLookups) LookupToken(ctx context.Context, hash string) (authSession, error) {
	found, err := s.accountStore.LookupToken(ctx, hash)
	s.lookups.Add(1)
	s.mu.Lock()
	step, every := s.between, s.every
	s.between = nil
	s.mu.Unlock()
	if step != nil {
		step()
	}
	if every != nil {
		every()
	}
	return found, err
}

// interleave makes step run inside the next lookup, after it read the token.
func (s *interleavedLookups) interleave(step func()) {
	s.mu.Lock()
	s.between = step
	s.mu.Unlock()
}

func TestAuth_RevocationThatOvertakesALookupIsNeverUndoneByIt(t *testing.T) {
	t.Parallel()
	// Postgres, Valkey and the SDK's deactivation take a few milliseconds a trial.
	for b, trials := range map[backend]int{memoryBackend: 1000, realBackend: 250} {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			revocationOvertakesLookups(t, newTestServer(t, b), trials)
		})
	}
}

// revocationOvertakesLookups runs trials of each revocation overtaking a lookup on ts's
// stores, and requires that no check accepts the token once the revocation answered.
func revocationOvertakesLookups(t *testing.T, ts *testServer, trials int) {
	ctx := context.Background()
	store := &interleavedLookups{accountStore: ts.app.accounts}
	a := newAuthenticator(store, ts.clock, DefaultAuthCacheTTL, newToken(), curhat.NewMemoryBus(), slog.New(slog.DiscardHandler))
	// Another instance, told of revocations over the bus.
	other := newAuthenticator(store, ts.clock, DefaultAuthCacheTTL, newToken(), curhat.NewMemoryBus(), slog.New(slog.DiscardHandler))

	for _, tc := range []struct {
		name  string
		kind  SubjectKind
		a     *authenticator // the instance the token is checked on
		want  error
		apply func(t *testing.T, tok string, id uuid.UUID)
	}{
		{"logout", SubjectClient, a, errUnauthenticated, func(t *testing.T, tok string, _ uuid.UUID) {
			require.NoError(t, a.revokeToken(ctx, sumToken(tok)))
		}},
		{"subject revocation", SubjectClient, a, errUnauthenticated, func(t *testing.T, _ string, id uuid.UUID) {
			require.NoError(t, a.revokeSubject(ctx, SubjectClient, id))
		}},
		{"mitra deactivation", SubjectMitra, a, errMitraDeactivated, func(t *testing.T, _ string, id uuid.UUID) {
			_, err := ts.app.client.SetMitraActive(ctx, id, false) // revokes its tokens
			require.NoError(t, err)
			a.accountClosed(ctx, SubjectMitra, id, reasonMitraDeactivated)
		}},
		{"revocation message from another instance", SubjectClient, other, errUnauthenticated, func(t *testing.T, _ string, id uuid.UUID) {
			require.NoError(t, a.revokeSubject(ctx, SubjectClient, id))
			rv, ok := parseRevocation(revocation{subject: subjectKey{SubjectClient, id}}.message())
			require.True(t, ok)
			other.apply(rv)
		}},
		{"bus reset after a lost message", SubjectClient, a, errUnauthenticated, func(t *testing.T, _ string, id uuid.UUID) {
			require.NoError(t, ts.app.accounts.RevokeSubject(ctx, SubjectClient, id, ts.clock.Now()))
			a.reset(curhat.BusReset{Subscribed: true})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inFlight, later := 0, 0
			for i := range trials {
				id := newSubject(t, ts, tc.kind, i)
				tok, _, err := tc.a.issue(ctx, tc.kind, id, time.Hour)
				require.NoError(t, err)

				// The lookup reads the token as valid; the revocation commits, is
				// applied and answers; then the lookup's answer is remembered.
				store.interleave(func() { tc.apply(t, tok, id) })
				if _, err := tc.a.verify(ctx, tok); err == nil {
					inFlight++ // answered after the revocation did
				} else {
					require.Equal(t, tc.want, err)
				}
				for range 2 {
					if _, err := tc.a.verify(ctx, tok); err == nil {
						later++
					} else {
						require.Equal(t, tc.want, err)
					}
				}
			}
			require.Zero(t, later, "checks after the revocation answered that accepted the token, in %d trials", trials)
			require.Zero(t, inFlight, "checks in flight during the revocation that accepted the token after it answered, in %d trials", trials)
		})
	}
}

// newSubject creates a client or a mitra (trial i) without the API.
func newSubject(t *testing.T, ts *testServer, kind SubjectKind, i int) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	if kind == SubjectMitra {
		m, err := ts.app.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: fmt.Sprint("mitra ", i)})
		require.NoError(t, err)
		return m.ID
	}
	c, err := ts.app.registerClient(ctx, fmt.Sprint("client ", i))
	require.NoError(t, err)
	return c.ID
}

func TestAuth_LookupOvertakenByRevocationsIsAskedAgainABoundedNumberOfTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC))
	store := &interleavedLookups{accountStore: newMemAccounts()}
	a := newAuthenticator(store, clk, time.Hour, newToken(), curhat.NewMemoryBus(), slog.New(slog.DiscardHandler))
	tok, _, err := a.issue(ctx, SubjectClient, uuid.New(), time.Hour)
	require.NoError(t, err)
	lookups := func() int64 {
		before := store.lookups.Load()
		_, err := a.verify(ctx, tok)
		require.NoError(t, err, "revocations of other subjects do not refuse the token")
		return store.lookups.Load() - before
	}

	// Every lookup is overtaken by a revocation of somebody else: asked again, up to the
	// bound, and the answer is not remembered.
	store.mu.Lock()
	store.every = func() { a.apply(revocation{subject: subjectKey{SubjectClient, uuid.New()}}) }
	store.mu.Unlock()
	require.Equal(t, int64(maxTokenLookups), lookups())
	require.Equal(t, int64(maxTokenLookups), lookups(), "not remembered")

	// Overtaken once: the second lookup's answer is remembered.
	store.mu.Lock()
	store.every = nil
	store.mu.Unlock()
	store.interleave(func() { a.reset(curhat.BusReset{Subscribed: true}) })
	require.Equal(t, int64(2), lookups())
	require.Zero(t, lookups(), "the steady state makes no lookup")
}

func TestAuth_RevocationMessageCarriesWhyAnAccountClosed(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	rv := revocation{subject: subjectKey{SubjectMitra, id}, closed: reasonMitraDeactivated}
	require.Equal(t, "mitra:"+id.String()+":mitra_deactivated", rv.message())
	got, ok := parseRevocation(rv.message())
	require.True(t, ok)
	require.Equal(t, rv, got)
	got, ok = parseRevocation("mitra:" + id.String() + ":a_reason_of_a_newer_release")
	require.True(t, ok, "the tokens are revoked all the same")
	require.Equal(t, revocation{subject: subjectKey{SubjectMitra, id}}, got)
}

// A revocation applied after the route checked a stream's token, but before the stream was
// subscribed, finds no stream to close: the stream is refused instead.
func TestEvents_RevocationBetweenAStreamsTokenCheckAndItsSubscriptionRefusesTheStream(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		path   string
		want   error
		revoke func(t *testing.T, c caller)
	}{
		{"logout", "/api/client/events", errUnauthenticated, func(t *testing.T, c caller) {
			require.NoError(t, ts.app.auth.revokeToken(ctx, c.token))
		}},
		{"subject revocation", "/api/client/events", errUnauthenticated, func(t *testing.T, c caller) {
			require.NoError(t, ts.app.auth.revokeSubject(ctx, c.Kind, c.ID))
		}},
		{"mitra logout", "/api/mitra/events", errUnauthenticated, func(t *testing.T, c caller) {
			require.NoError(t, ts.app.auth.revokeToken(ctx, c.token))
		}},
		{"mitra deactivation", "/api/mitra/events", errMitraDeactivated, func(t *testing.T, c caller) {
			_, err := ts.app.client.SetMitraActive(ctx, c.ID, false)
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tok string
			if strings.HasPrefix(tc.path, "/api/mitra/") {
				_, tok = ts.onlineMitra("Ayu")
			} else {
				_, tok = ts.newClient("Dewi")
			}
			c, err := ts.app.auth.verify(ctx, tok) // the route's check
			require.NoError(t, err)
			before := ts.app.auth.revocationsApplied()
			tc.revoke(t, c)
			// The instance's own message comes back over the bus and is applied again: the
			// stream is subscribed after both.
			require.Eventually(t, func() bool { return ts.app.auth.revocationsApplied() >= before+2 },
				5*time.Second, time.Millisecond, "the revocation did not come back over the bus")

			rctx, cancel := context.WithCancel(ctx)
			req := httptest.NewRequestWithContext(rctx, "GET", tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			done := make(chan error, 1)
			go func() { done <- ts.srv.serveStream(httptest.NewRecorder(), req, c, nil) }()
			select {
			case err := <-done:
				cancel()
				got, _ := toAPIError(err) // a deactivated mitra's device lease refuses it too
				require.Equal(t, tc.want, got)
			case <-time.After(5 * time.Second):
				cancel() // ends the stream the test failed to see refused
				<-done
				t.Fatal("a stream subscribed after its token was revoked stays open")
			}
			require.Zero(t, ts.app.events.subscribers(c.Kind, c.ID))
		})
	}
}

// revocationsApplied is the authenticator's epoch: revocations applied and resets.
func (a *authenticator) revocationsApplied() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.epoch
}

// closedWith waits for the server to end a stream, then returns the events it delivered.
func (s *testStream) closedWith(t *testing.T, d time.Duration, what string) []string {
	t.Helper()
	s.requireClosedWithin(t, d, what)
	var got []string
	for {
		select {
		case data := <-s.events:
			got = append(got, data)
		default:
			return got
		}
	}
}

// requireAccountClosedLast requires that a stream's last event is account_closed, the
// mitra deactivated.
func requireAccountClosedLast(t *testing.T, events []string) {
	t.Helper()
	require.NotEmpty(t, events)
	var last struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(events[len(events)-1]), &last))
	require.Equal(t, "account_closed", last.Kind, "the last event of %v", events)
	require.Equal(t, map[string]string{"reason": "mitra_deactivated"}, last.Data)
}

func TestEvents_DeactivatedMitrasStreamIsToldWhyBeforeItCloses(t *testing.T) {
	t.Parallel()
	t.Run("HTTP/1.1", func(t *testing.T) {
		bothBackends(t, func(t *testing.T, ts *testServer) {
			url := ts.http.URL + "/api/mitra/events"
			id, tok := ts.onlineMitra("Ayu")
			st := openStream(t, ts.http.Client(), url, tok)
			_, otherTok := ts.onlineMitra("Sari")
			other := openStream(t, ts.http.Client(), url, otherTok)

			ts.must(http.StatusNoContent, "POST", "/api/mitra/logout", otherTok, nil)
			for _, e := range other.closedWith(t, 5*time.Second, "a logout") {
				require.NotContains(t, e, "account_closed", "a logout closes the stream without saying more")
			}

			ts.must(http.StatusOK, "PATCH", "/api/internal/mitras/"+id.String()+"/status", ts.op, map[string]any{"is_active": false})
			got := st.closedWith(t, 5*time.Second, "the deactivated mitra's stream")
			requireAccountClosedLast(t, got)
		})
	})

	t.Run("HTTP/2", func(t *testing.T) {
		t.Parallel()
		app, _ := newTestApp(t, memoryBackend)
		hs := httptest.NewUnstartedServer(NewServer(app))
		hs.EnableHTTP2 = true
		hs.StartTLS()
		t.Cleanup(hs.Close)
		ctx := context.Background()
		m, err := app.mirror.CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
		require.NoError(t, err)
		tok, _, err := app.auth.issue(ctx, SubjectMitra, m.ID, time.Hour)
		require.NoError(t, err)
		st := openStream(t, hs.Client(), hs.URL+"/api/mitra/events", tok)
		require.Zero(t, app.events.hijacked())

		_, err = app.client.SetMitraActive(ctx, m.ID, false)
		require.NoError(t, err)
		got := st.closedWith(t, 5*time.Second, "the deactivated mitra's stream")
		requireAccountClosedLast(t, got)
	})

	// The revocation message is lost (as while Valkey is down): the keep-alive pass finds
	// the deactivation, and says so too.
	t.Run("keep-alive pass", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, memoryBackend)
		ctx := context.Background()
		id, tok := ts.onlineMitra("Ayu")
		st := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", tok)
		_, err := ts.app.mirror.SetActive(ctx, id, false) // no revocation message
		require.NoError(t, err)
		ts.clock.Advance(ts.app.cfg.AuthCacheTTL + time.Second)
		ts.app.events.keepAlive(ctx)
		got := st.closedWith(t, 5*time.Second, "the deactivated mitra's stream")
		requireAccountClosedLast(t, got)
	})
}
