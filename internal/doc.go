// Package internal holds machinery no host should import: the clock, SQL and Valkey
// plumbing, the embedded schema and the test harness.
package internal
