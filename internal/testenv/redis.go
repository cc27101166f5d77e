package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a private redis-server on a free loopback port, for fault tests that stop,
// pause and restart it. It never touches the shared server.
type RedisServer struct {
	t    testing.TB
	port int
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartRedis starts a private redis-server (skipping, or failing under
// CURHAT_REQUIRE_SERVICES=1, when the binary is missing). It is killed when the test ends.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "redis-server binary", err)
	}
	s := &RedisServer{t: t, dir: t.TempDir()}
	t.Cleanup(func() { _ = s.Stop() })
	// A port free a moment ago may be taken by the time the server binds it (by another
	// test's server or a connection's ephemeral port): then another port.
	var err error
	for range 5 {
		if s.port, err = FreePort(); err != nil {
			t.Fatalf("free port: %v", err)
		}
		if err = s.Start(); !errors.Is(err, errNotOurs) {
			break
		}
	}
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	return s
}

// errNotOurs: what answers on the server's port is another process (its own could not bind
// the port).
var errNotOurs = errors.New("another process answers on the port")

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is host:port.
func (s *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is redis://host:port.
func (s *RedisServer) URL() string { return "redis://" + s.Addr() }

// Start launches the server (again) on the same port and waits until it answers, checking
// that the server answering is this process: a test that pauses or stops it must not
// reach another test's server instead.
func (s *RedisServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--protected-mode", "no",
		"--loglevel", "warning")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	exited := make(chan struct{})
	go func() {
		// The process's own exit (it could not bind the port) ends the wait below; Stop
		// reaps it as usual.
		_, _ = cmd.Process.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		switch pid, err := serverPID(s.Addr()); {
		case err == nil && pid == cmd.Process.Pid:
			return nil
		case err == nil:
			s.kill()
			return fmt.Errorf("redis-server on %s: process %d answers, not %d: %w", s.Addr(), pid, cmd.Process.Pid, errNotOurs)
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("redis-server on %s exited: %w", s.Addr(), errNotOurs)
		case <-time.After(20 * time.Millisecond): // polling for readiness, not for an outcome
		}
	}
	return fmt.Errorf("redis-server on %s did not answer within 10s", s.Addr())
}

// serverPID asks the server at addr for its process id (INFO server).
func serverPID(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
		if strings.HasPrefix(line, "-") {
			return 0, fmt.Errorf("INFO: %s", strings.TrimSpace(line))
		}
	}
}

// Stop kills the server (its data is lost: it keeps nothing on disk) and waits for it.
func (s *RedisServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	s.kill()
	return nil
}

// kill kills the process and waits for it (s.mu held).
func (s *RedisServer) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot die of SIGKILL until resumed on some kernels
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart stops and starts the server: a restart with data loss.
func (s *RedisServer) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Start()
}

// Pause freezes the process (SIGSTOP): connections hang instead of being refused.
func (s *RedisServer) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume thaws a paused process (SIGCONT).
func (s *RedisServer) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *RedisServer) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("redis-server not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Do sends one raw command and returns the first reply line (for FLUSHALL and the like in
// tests, without going through the client under test).
func (s *RedisServer) Do(ctx context.Context, args ...string) (string, error) {
	d := net.Dialer{}
	c, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	msg := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		msg += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
