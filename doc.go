// Package curhat holds what every part of the curhat SDK shares: the embedded SQL schema
// and the way to apply it, the pub/sub Bus that carries messages between the instances of
// a deployment, the runtime configuration service (app_config, invalidated across
// instances through the bus), and the error vocabulary that the domain packages
// (availability, pricing, pairing, payment, extension) return.
//
// The domain packages each expose a typed service over small Store (Postgres) and Cache
// (Valkey) ports, with pgx/valkey-go adapters and in-memory implementations for tests.
// The reference HTTP server in examples/server wires them all together.
package curhat
