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

// printPostgresStart tells, in Postgres mode, what the start migrated and whether clients
// can start a chat yet: with no session price tier, every chat start is refused until an
// operator adds one.
func printPostgresStart(w io.Writer, migrated []int, sessionTiers int, demoData bool) {
	if len(migrated) == 0 {
		fmt.Fprintln(w, "postgres: the schema is current (no migration applied)")
	} else {
		fmt.Fprintf(w, "postgres: applied migrations %v\n", migrated)
	}
	if sessionTiers == 0 && !demoData {
		fmt.Fprintln(w, "pricing: no session price tiers yet, so no client can start a chat: add them on the console's Pricing page "+
			"or with POST /api/internal/pricing/tiers {mode, minutes, price}, or restart with DEMO_DATA=true for demo tiers, mitras and clients")
	}
}

// printPayments says which payment gateway takes the money: the fake one charges nothing;
// Xendit needs this server's callback URLs in its dashboard.
func printPayments(w io.Writer, cfg Config) {
	switch cfg.PaymentGateway {
	case GatewayFake:
		fmt.Fprintf(w, "payments: PAYMENT_GATEWAY=%s: nothing is charged; checkout links open a page on this server that pays or fails them\n", GatewayFake)
	case GatewayXendit:
		fmt.Fprintf(w, "payments: PAYMENT_GATEWAY=%s through %s; in Xendit's dashboard, with the verification token XENDIT_CALLBACK_TOKEN, set the callback URLs:\n",
			GatewayXendit, cfg.XenditAPIURL)
		for _, cb := range []struct{ what, path string }{
			{"invoices paid and expired", xenditInvoicePath}, {"refunds", xenditRefundPath}, {"payouts", xenditPayoutPath},
		} {
			fmt.Fprintf(w, "  %-26s %s%s\n", cb.what+":", cfg.PublicURL, cb.path)
		}
	}
}

// appLogins are tokens to paste into the apps' sign-in (the demo's; empty without demo
// data).
type appLogins struct {
	Client, ClientName string
	Mitra, MitraName   string
}

// printApps says where the client and mitra apps are, with a token for each when the
// demo made them. With DEMO_MITRAS=auto the client app alone plays the whole product: the
// server's demo mitras accept its chats.
func printApps(w io.Writer, addr net.Addr, logins appLogins) {
	for _, app := range []struct{ name, label, token, who string }{
		{"client", "Token klien", logins.Client, logins.ClientName},
		{"mitra", "Token mitra", logins.Mitra, logins.MitraName},
	} {
		if app.token == "" {
			fmt.Fprintf(w, "%s app: %s (sign in with a %s token)\n", app.name, appURL(addr, app.name), app.name)
			continue
		}
		fmt.Fprintf(w, "%s app: %s (%s, %s: %s)\n", app.name, appURL(addr, app.name), app.label, app.who, app.token)
	}
}
