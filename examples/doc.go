// Package examples holds runnable programs built on the SDK: the reference HTTP server
// (examples/server) and the load tool.
package examples
