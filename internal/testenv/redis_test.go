package testenv

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A private server whose port another server holds does not pass that server off as its
// own: a test pausing it must not freeze, or miss freezing, somebody else's.
func TestStartRedis_AnotherServerOnThePortIsNotOurs(t *testing.T) {
	t.Parallel()
	first := StartRedis(t)
	second := &RedisServer{t: t, port: first.port, dir: t.TempDir()}
	t.Cleanup(func() { _ = second.Stop() })
	require.ErrorIs(t, second.Start(), errNotOurs)
	pid, err := serverPID(first.Addr())
	require.NoError(t, err)
	require.Equal(t, first.cmd.Process.Pid, pid, "the first server still answers")
}
