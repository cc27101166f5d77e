package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// streamSet is a set of open Server-Sent-Event streams, each its own TCP connection on
// loopback with one goroutine reading it (a raw HTTP/1.1 request, no net/http client: a
// client Transport would add two goroutines a connection on the tool's side).
type streamSet struct {
	conns   []net.Conn
	wg      sync.WaitGroup
	closing atomic.Bool
	dropped atomic.Int64 // streams that ended while the set was open
}

// sseHandler gets each event of a stream: its name, its data line and when it was read.
type sseHandler func(stream int, kind string, data []byte, at time.Time)

// openStreams opens one stream per token (GET path on addr with the bearer token; "" sends
// no Authorization) from a few dialers, and returns once each has been answered 200 and
// has read its first event or comment (the server holds it then). A stream that cannot
// be opened fails the whole set (what is open is closed).
func openStreams(ctx context.Context, addr, path string, tokens []string, on sseHandler) (*streamSet, error) {
	return openStreamsAt(ctx, addr, func(int) string { return path }, tokens, on)
}

// openStreamsAt is openStreams with a path of each stream's own (pathOf(i)).
func openStreamsAt(ctx context.Context, addr string, pathOf func(i int) string, tokens []string, on sseHandler) (*streamSet, error) {
	s := &streamSet{conns: make([]net.Conn, len(tokens))}
	const dialers = 64
	var next atomic.Int64
	errs := make(chan error, dialers)
	for range dialers {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(tokens) || ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				if err := s.open(ctx, i, addr, pathOf(i), tokens[i], on); err != nil {
					errs <- fmt.Errorf("stream %d of %d: %w", i+1, len(tokens), err)
					next.Store(int64(len(tokens))) // stop the others
					return
				}
			}
		}()
	}
	var first error
	for range dialers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		s.close()
		return nil, first
	}
	return s, nil
}

func (s *streamSet) open(ctx context.Context, i int, addr, path, token string, on sseHandler) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	s.conns[i] = conn
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var buf [512]byte
		n, _ := resp.Body.Read(buf[:])
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(buf[:n]))
	}
	body := bufio.NewReaderSize(resp.Body, 2048)
	// The first block (": connected") tells that the server registered the stream.
	for {
		line, err := body.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
	}
	_ = conn.SetDeadline(time.Time{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := readEvents(body, func(kind string, data []byte, at time.Time) { on(i, kind, data, at) })
		if err != nil && !s.closing.Load() {
			s.dropped.Add(1)
		}
	}()
	return nil
}

// readEvents reads event blocks ("event: k", "data: d", blank line) until the stream
// ends, calling on for each; comments are skipped.
func readEvents(r *bufio.Reader, on func(kind string, data []byte, at time.Time)) error {
	var kind string
	var data, long []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it.
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if kind != "" {
				on(kind, data, time.Now())
			}
			kind, data = "", data[:0]
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("event:")):
			kind = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data[:0], bytes.TrimSpace(line[len("data:"):])...)
		}
	}
}

// pairingIDOf finds "pairing_id":"…" in an event's data without decoding it.
func pairingIDOf(data []byte) string {
	const key = `"pairing_id":"`
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return ""
	}
	rest := data[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// close ends every stream and waits for its reader.
func (s *streamSet) close() {
	if s == nil {
		return
	}
	s.closing.Store(true)
	for _, c := range s.conns {
		if c != nil {
			c.Close()
		}
	}
	s.wg.Wait()
}
