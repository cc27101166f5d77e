// Package examples holds runnable programs built on the public packages of the SDK only:
// the reference HTTP server (examples/server) and the embedding example (examples/embed).
package examples
