package main

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// requestIDs hands out request ids: 16 hex digits of randomness each. They are made a
// block at a time, so that a request costs no allocation of its own: the ids of a block
// are windows of one string, and each request gets a one-element, full-capacity window of
// one slice (an append to the header value copies instead of touching the next id).
type requestIDs struct {
	mu    sync.Mutex
	block []string
	used  int
}

const requestIDBlock = 256

// next returns a header value holding a fresh id.
func (g *requestIDs) next() []string {
	g.mu.Lock()
	if g.used == len(g.block) {
		g.refill()
	}
	v := g.block[g.used : g.used+1 : g.used+1]
	g.used++
	g.mu.Unlock()
	return v
}

func (g *requestIDs) refill() {
	var rnd [requestIDBlock * 8]byte
	_, _ = rand.Read(rnd[:])
	all := hex.EncodeToString(rnd[:])
	g.block = make([]string, requestIDBlock)
	for i := range g.block {
		g.block[i] = all[i*16 : (i+1)*16]
	}
	g.used = 0
}
