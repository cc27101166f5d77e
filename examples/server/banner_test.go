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

// In Postgres mode the start says what it migrated, and that no client can start a chat
// while there is no session price tier (unless demo data adds them).
func TestBanner_PostgresStartSaysWhatItMigratedAndThatThereAreNoTiersYet(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	printPostgresStart(&out, []int{1, 2, 3}, 0, false)
	require.Contains(t, out.String(), "postgres: applied migrations [1 2 3]\n")
	require.Contains(t, out.String(), "no session price tiers yet")
	require.Contains(t, out.String(), "POST /api/internal/pricing/tiers")
	require.Contains(t, out.String(), "DEMO_DATA=true")

	out.Reset()
	printPostgresStart(&out, nil, 3, false)
	require.Equal(t, "postgres: the schema is current (no migration applied)\n", out.String(), "tiers exist: nothing more to say")

	out.Reset()
	printPostgresStart(&out, nil, 0, true)
	require.NotContains(t, out.String(), "price tiers", "demo data brings its tiers")
}
