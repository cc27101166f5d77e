package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valkey-io/valkey-go"
)

// countingClient counts the round trips and commands a valkey.Client sends.
type countingClient struct {
	valkey.Client
	trips, cmds atomic.Int64
}

func (c *countingClient) Do(ctx context.Context, cmd valkey.Completed) valkey.ValkeyResult {
	c.trips.Add(1)
	c.cmds.Add(1)
	return c.Client.Do(ctx, cmd)
}

func (c *countingClient) DoMulti(ctx context.Context, cmds ...valkey.Completed) []valkey.ValkeyResult {
	c.trips.Add(1)
	c.cmds.Add(int64(len(cmds)))
	return c.Client.DoMulti(ctx, cmds...)
}

func (c *countingClient) DoCache(ctx context.Context, cmd valkey.Cacheable, ttl time.Duration) valkey.ValkeyResult {
	r := c.Client.DoCache(ctx, cmd, ttl)
	if !r.IsCacheHit() {
		c.trips.Add(1)
		c.cmds.Add(1)
	}
	return r
}

// counts is a snapshot of a countingClient.
type counts struct{ trips, cmds int64 }

func (c *countingClient) snapshot() counts { return counts{c.trips.Load(), c.cmds.Load()} }

func (c counts) since(before counts) counts {
	return counts{c.trips - before.trips, c.cmds - before.cmds}
}

// pgProxy is a loopback TCP proxy in front of Postgres that counts, on the wire, the
// round trips clients make: one per Sync (extended protocol: a query, or a batch) and one
// per simple Query. It lets the tool count the reference server's Postgres round trips
// from outside its process. Clients must not use TLS (sslmode=disable).
type pgProxy struct {
	ln     net.Listener
	target string
	trips  atomic.Int64
	pings  atomic.Int64 // of the trips, the pool's liveness checks (pgx: "-- ping")
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func startPGProxy(target string) (*pgProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &pgProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *pgProxy) addr() string { return p.ln.Addr().String() }

func (p *pgProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *pgProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *pgProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	p.track(client, true)
	p.track(server, true)
	defer p.track(client, false)
	defer p.track(server, false)
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(client, server)
		client.Close()
		close(done)
	}()
	_ = p.frontend(bufio.NewReader(client), server)
	server.Close()
	<-done
}

// pgPing is the body of the simple Query a pgx pool sends to check a connection that sat
// idle for more than a second before handing it out: a round trip, not a statement.
const pgPing = "-- ping\x00"

// statements is the round trips so far less the pool's pings.
func (p *pgProxy) statements() int64 { return p.trips.Load() - p.pings.Load() }

// Protocol codes of the untyped messages that may precede the StartupMessage.
const (
	pgSSLRequest    = 80877103
	pgGSSENCRequest = 80877104
)

// frontend copies client → server message by message, counting round trips; what it
// forwards is flushed whenever the client has nothing more buffered.
func (p *pgProxy) frontend(client *bufio.Reader, conn io.Writer) error {
	server := bufio.NewWriter(conn)
	flush := func() error {
		if client.Buffered() == 0 {
			return server.Flush()
		}
		return nil
	}
	var hdr [8]byte
	for { // untyped startup messages: int32 length, int32 code, body
		if _, err := io.ReadFull(client, hdr[:8]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		code := binary.BigEndian.Uint32(hdr[4:8])
		if n < 8 {
			return errors.New("bad startup message")
		}
		if _, err := server.Write(hdr[:8]); err != nil {
			return err
		}
		if _, err := io.CopyN(server, client, int64(n-8)); err != nil {
			return err
		}
		if err := server.Flush(); err != nil {
			return err
		}
		if code != pgSSLRequest && code != pgGSSENCRequest {
			break
		}
	}
	for { // typed messages: byte type, int32 length (itself included), body
		if _, err := io.ReadFull(client, hdr[:5]); err != nil {
			return err
		}
		if hdr[0] == 'S' || hdr[0] == 'Q' {
			p.trips.Add(1)
		}
		n := int(binary.BigEndian.Uint32(hdr[1:5]))
		if n < 4 {
			return errors.New("bad message length")
		}
		if _, err := server.Write(hdr[:5]); err != nil {
			return err
		}
		if hdr[0] == 'Q' && n-4 == len(pgPing) {
			body := make([]byte, n-4)
			if _, err := io.ReadFull(client, body); err != nil {
				return err
			}
			if string(body) == pgPing {
				p.pings.Add(1)
			}
			if _, err := server.Write(body); err != nil {
				return err
			}
		} else if _, err := io.CopyN(server, client, int64(n-4)); err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
	}
}

func (p *pgProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// quietFor is how long the proxy must see no round trip for quiet to return.
const quietFor = 300 * time.Millisecond

// quiet waits until no round trip has gone through the proxy for quietFor (at most ten
// seconds): work a request left running in the background has ended.
func (p *pgProxy) quiet(ctx context.Context) {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	last, since := p.trips.Load(), time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n := p.trips.Load(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quietFor {
			return
		}
	}
}
