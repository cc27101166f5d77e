package valkeyutil

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/valkey-io/valkey-go"
)

// Script is a Lua script run with EVALSHA, falling back to EVAL when the server does not
// know it (first use, restart, SCRIPT FLUSH). Unlike valkey.Lua.ExecMulti, ExecMulti never
// sends SCRIPT LOAD to every node first: a pipeline of calls stays one round trip in the
// usual case, and two the first time a server sees the script.
//
// An idempotent script is marked retryable: valkey-go then resends it when a connection
// broke (the first command after a Valkey restart), within the caller's deadline. A script
// that must not run twice (one that RENAMEs, say) is not.
type Script struct {
	lua       *valkey.Lua
	src       string
	sha       string
	retryable bool
}

// NewScript returns the script of source src; idempotent marks it safe to resend.
func NewScript(src string, idempotent bool) *Script {
	l := valkey.NewLuaScript(src)
	if idempotent {
		l = valkey.NewLuaScriptRetryable(src)
	}
	sum := sha1.Sum([]byte(src))
	return &Script{lua: l, src: src, sha: hex.EncodeToString(sum[:]), retryable: idempotent}
}

// Call is one run of a script: its KEYS and ARGV. In cluster mode the keys of one call
// must share a slot.
type Call struct {
	Keys, Args []string
}

// Exec runs the script once: one round trip when the server knows it, two otherwise.
func (s *Script) Exec(ctx context.Context, c valkey.Client, keys, args []string) valkey.ValkeyResult {
	return s.lua.Exec(ctx, c, keys, args)
}

// ExecMulti runs the script once per call in one pipeline (in a cluster, one per node) and
// returns the results in the order of calls. The calls the server answered NOSCRIPT are
// sent again, with the source, in a second pipeline.
func (s *Script) ExecMulti(ctx context.Context, c valkey.Client, calls []Call) []valkey.ValkeyResult {
	if len(calls) == 0 {
		return nil
	}
	cmds := make(valkey.Commands, len(calls))
	for i, call := range calls {
		cmds[i] = s.mayRetry(c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(call.Keys))).Key(call.Keys...).Arg(call.Args...).Build())
	}
	res := c.DoMulti(ctx, cmds...)
	var retry []int
	for i, r := range res {
		if ve, ok := valkey.IsValkeyErr(r.Error()); ok && ve.IsNoScript() {
			retry = append(retry, i)
		}
	}
	if len(retry) == 0 {
		return res
	}
	again := make(valkey.Commands, len(retry))
	for j, i := range retry {
		call := calls[i]
		again[j] = s.mayRetry(c.B().Eval().Script(s.src).Numkeys(int64(len(call.Keys))).Key(call.Keys...).Arg(call.Args...).Build())
	}
	for j, r := range c.DoMulti(ctx, again...) {
		res[retry[j]] = r
	}
	return res
}

func (s *Script) mayRetry(cmd valkey.Completed) valkey.Completed {
	if s.retryable {
		return cmd.ToRetryable()
	}
	return cmd
}
