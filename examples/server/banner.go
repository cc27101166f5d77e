package main

import (
	"fmt"
	"io"
	"net"
	"strings"
)

// printBanner tells whoever started the server where it listens and how to stop it. The
// pid is the server's own: under `go run` it is not go run's, and killing go run leaves
// the server running (and holding the port), since go run does not pass signals on.
// Ctrl-C in the terminal reaches both: the terminal signals its whole process group.
func printBanner(w io.Writer, addr net.Addr, pid int) {
	console := consoleURL(addr)
	fmt.Fprintf(w, "listening on %s (%s), pid %d\n", strings.TrimSuffix(console, "/console/"), addr, pid)
	fmt.Fprintf(w, "stop: Ctrl-C here, or kill %d (this pid: killing `go run` leaves the server running)\n", pid)
	fmt.Fprintf(w, "console: %s (sign in with OPERATOR_TOKEN)\n", console)
}
