package valkeyutil_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/internal/valkeyutil"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// sent is a command as the recorder saw it.
type sent struct {
	name      string
	retryable bool
}

// recorder notes every round trip and its commands, before valkey-go recycles them.
type recorder struct {
	valkey.Client
	mu    sync.Mutex
	trips [][]sent
}

func (r *recorder) note(cmds ...valkey.Completed) {
	trip := make([]sent, len(cmds))
	for i, c := range cmds {
		trip[i] = sent{name: strings.ToUpper(c.Commands()[0]), retryable: c.IsRetryable()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trips = append(r.trips, trip)
}

func (r *recorder) Do(ctx context.Context, cmd valkey.Completed) valkey.ValkeyResult {
	r.note(cmd)
	return r.Client.Do(ctx, cmd)
}

func (r *recorder) DoMulti(ctx context.Context, cmds ...valkey.Completed) []valkey.ValkeyResult {
	r.note(cmds...)
	return r.Client.DoMulti(ctx, cmds...)
}

// take returns the round trips recorded since the last call.
func (r *recorder) take() [][]sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.trips
	r.trips = nil
	return out
}

// names lists the command names of each round trip.
func names(trips [][]sent) [][]string {
	out := make([][]string, len(trips))
	for i, trip := range trips {
		for _, s := range trip {
			out[i] = append(out[i], s.name)
		}
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newScript returns a script no server has seen yet (its source carries a random comment),
// so that its first run meets NOSCRIPT without flushing the shared server's scripts. It adds
// ARGV[1] to KEYS[1], or fails when ARGV[1] is "fail".
func newScript(idempotent bool) *valkeyutil.Script {
	return valkeyutil.NewScript(`-- `+testenv.RandomSuffix(8)+`
if ARGV[1] == 'fail' then return redis.error_reply('ERR asked to fail') end
return redis.call('INCRBY', KEYS[1], ARGV[1])`, idempotent)
}

func TestScript_ExecMultiFallsBackToEvalOnceAndNeverLoadsFirst(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) *testenv.Valkey{
		"single":  func(t *testing.T) *testenv.Valkey { return testenv.NewValkey(t) },
		"cluster": func(t *testing.T) *testenv.Valkey { return testenv.StartCluster(t).NewValkey(t) },
	}
	for name, newValkey := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newValkey(t)
			rec := &recorder{Client: v.Client}
			ctx := ctxT(t)
			s := newScript(true)
			// Keys without a shared hash tag: in a cluster the calls go to several nodes.
			calls := make([]valkeyutil.Call, 6)
			for i := range calls {
				calls[i] = valkeyutil.Call{Keys: []string{fmt.Sprintf("%sk%d", v.Prefix, i)}, Args: []string{fmt.Sprint(i + 1)}}
			}

			res := s.ExecMulti(ctx, rec, calls)
			require.Len(t, res, len(calls))
			for i, r := range res {
				n, err := r.AsInt64()
				require.NoError(t, err)
				require.Equal(t, int64(i+1), n, "results in the order of the calls")
			}
			evalsha := []string{"EVALSHA", "EVALSHA", "EVALSHA", "EVALSHA", "EVALSHA", "EVALSHA"}
			eval := []string{"EVAL", "EVAL", "EVAL", "EVAL", "EVAL", "EVAL"}
			require.Equal(t, [][]string{evalsha, eval}, names(rec.take()),
				"an unknown script: one pipeline of EVALSHA, then the NOSCRIPT ones again with EVAL; no SCRIPT LOAD")

			res = s.ExecMulti(ctx, rec, calls)
			for i, r := range res {
				n, err := r.AsInt64()
				require.NoError(t, err)
				require.Equal(t, int64(2*(i+1)), n)
			}
			require.Equal(t, [][]string{evalsha}, names(rec.take()), "a known script: one round trip")
		})
	}
}

func TestScript_ExecMultiReturnsEachCallsOwnError(t *testing.T) {
	t.Parallel()
	v := testenv.NewValkey(t)
	rec := &recorder{Client: v.Client}
	ctx := ctxT(t)
	s := newScript(true)
	calls := []valkeyutil.Call{
		{Keys: []string{v.Prefix + "a"}, Args: []string{"5"}},
		{Keys: []string{v.Prefix + "b"}, Args: []string{"fail"}},
	}
	for run := range 2 {
		res := s.ExecMulti(ctx, rec, calls)
		n, err := res[0].AsInt64()
		require.NoError(t, err)
		require.Equal(t, int64(5*(run+1)), n)
		require.ErrorContains(t, res[1].Error(), "asked to fail")
	}
	require.Len(t, rec.take(), 3, "a script's own error is not retried (only NOSCRIPT is)")
}

func TestScript_ExecMultiWithoutCallsSendsNothing(t *testing.T) {
	t.Parallel()
	v := testenv.NewValkey(t)
	rec := &recorder{Client: v.Client}
	require.Nil(t, newScript(true).ExecMulti(ctxT(t), rec, nil))
	require.Empty(t, rec.take())
}

func TestScript_OnlyIdempotentScriptsAreRetryable(t *testing.T) {
	t.Parallel()
	v := testenv.NewValkey(t)
	ctx := ctxT(t)
	for _, idempotent := range []bool{true, false} {
		rec := &recorder{Client: v.Client}
		s := newScript(idempotent)
		n, err := s.Exec(ctx, rec, []string{v.Prefix + "exec"}, []string{"1"}).AsInt64()
		require.NoError(t, err)
		require.Positive(t, n)
		res := s.ExecMulti(ctx, rec, []valkeyutil.Call{{Keys: []string{v.Prefix + "multi"}, Args: []string{"1"}}})
		require.NoError(t, res[0].Error())
		trips := rec.take()
		require.Equal(t, [][]string{{"EVALSHA"}, {"EVAL"}, {"EVALSHA"}}, names(trips), "Exec fell back to EVAL; ExecMulti found the script loaded")
		for _, trip := range trips {
			require.Equal(t, idempotent, trip[0].retryable, "%s of a script with idempotent=%t", trip[0].name, idempotent)
		}
	}
}
