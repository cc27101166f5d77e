package main

// The OpenAPI 3.1 document of the reference API is openapi.json beside this file, written
// by hand and embedded, served at GET /openapi.json. It is the contract: the tests send
// every request and check every answer against it (contract_test.go), lint it, and build
// a client generated from it (generated_client_test.go), so a change to a route changes
// the document in the same commit.

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openAPIDocument []byte

func (s *Server) openAPIRoutes() {
	s.handle("GET", "/openapi.json", rolePublic, func(w http.ResponseWriter, r *http.Request, _ caller) error {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPIDocument)
		return nil
	})
}
