// Package availability keeps mitra availability — online, deactivated, capacity and
// heartbeat — in Postgres (the source of truth) and mirrors it into Valkey so that the hot
// paths (heartbeat, availability beacon, pairing blast, dashboard counts) never touch
// Postgres. Writes go to Postgres first and to Valkey best-effort; reads go to Valkey first
// and fall back to Postgres on any Valkey error.
package availability
