package main

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The banner says where the server listens and how to stop it: the pid it prints is the
// server's own, which `go run`'s is not.
func TestBanner_SaysTheAddressAndThePidToStop(t *testing.T) {
	t.Parallel()
	tcp, err := net.ResolveTCPAddr("tcp", "[::]:8080")
	require.NoError(t, err)
	var out strings.Builder
	printBanner(&out, tcp, 4242)
	require.Equal(t, "listening on http://localhost:8080 ([::]:8080), pid 4242\n"+
		"stop: Ctrl-C here, or kill 4242 (this pid: killing `go run` leaves the server running)\n"+
		"console: http://localhost:8080/console/ (sign in with OPERATOR_TOKEN)\n", out.String())
}
