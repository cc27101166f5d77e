// Package curhat is the SDK of a paid 1:1 live-chat marketplace, as one client.
//
// NewClient(pool, valkeyClient, cfg) builds every service over Postgres and Valkey — the
// runtime config, the availability mirror, pricing, payments, pairing and extensions —
// wires them to each other (the payment handlers, the chat sessions of extensions, the
// runtime settings), and owns the background sweeps; NewMemoryClient does the same over
// in-memory stores for tests and demos, which share one in-memory database and refuse
// what Postgres refuses (a pairing of a client never registered is ErrNotFound in both).
// Start runs the background work, Stop ends it; the accessors (Pairing, Payments, …)
// reach each service, and the Client's own methods run the flows that span several
// (RegisterClient, SetMitraActive, SetMitraOnline, Dashboard, Drift, Stats).
//
// Each service stays usable alone: the domain packages (availability, pricing, payment,
// pairing, extension, sweeps) each expose a typed service over small Store (Postgres) and
// Cache (Valkey) ports, with pgx/valkey-go adapters and in-memory implementations for
// tests (the …test packages). Each value type is declared in the domain that owns it
// (pricing.Quote, payment.Session, pairing.ChatSession, pairing.Event), and the domains
// import each other one way only: pricing ← payment ← pairing ← extension. This package
// holds what no domain owns: the error vocabulary (ErrNotFound, *ValidationError, …), the
// Clock and DB interfaces a host may implement or pass (a pool, or its own transaction),
// the Bus that carries messages between the instances of a deployment, the embedded SQL
// schema (Migrate, Migrations), the Valkey key names, and the runtime configuration
// service.
package curhat
