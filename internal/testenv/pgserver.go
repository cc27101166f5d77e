package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGServer is a private PostgreSQL cluster (initdb) on a free loopback port, for fault
// tests that stop and restart the database. It never touches the shared server. The data
// directory survives Stop/Start: a restart loses nothing that was committed.
type PGServer struct {
	t    testing.TB
	bin  string // directory of initdb and postgres
	dir  string // data directory
	port int
	cred *syscall.Credential // run as this user (root cannot run postgres)

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartPostgres creates and starts a private PostgreSQL cluster with trust authentication
// and a database "test". Without initdb/postgres the test is skipped (failed under
// CURHAT_REQUIRE_SERVICES=1). Run as root, the server runs as the "postgres" user. It is
// stopped and deleted when the test ends.
func StartPostgres(t testing.TB) *PGServer {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		unavailable(t, "PostgreSQL server binaries (initdb, postgres)", err)
	}
	s := &PGServer{t: t, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, `user "postgres" to run a private PostgreSQL as root`, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parent is private to root, and the server runs as postgres.
	root, err := os.MkdirTemp("", "curhat-pg-*")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	s.dir = filepath.Join(root, "data")
	if s.cred != nil {
		if err := os.Chown(root, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatalf("chown %s: %v", root, err)
		}
	}
	if s.port, err = FreePort(); err != nil {
		t.Fatalf("free port: %v", err)
	}
	initdb := s.command(filepath.Join(bin, "initdb"), "-D", s.dir, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		t.Fatalf("connect to private postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE test"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return s
}

// postgresBinDir finds initdb and postgres: on PATH, else the newest
// /usr/lib/postgresql/<version>/bin.
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb not on PATH nor in /usr/lib/postgresql/*/bin")
}

func (s *PGServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	cmd.Dir = filepath.Dir(s.dir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// Addr is host:port.
func (s *PGServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the connection URL of the "test" database (trust authentication, user postgres).
func (s *PGServer) URL() string { return s.url("test") }

func (s *PGServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&connect_timeout=2", s.Addr(), db)
}

// Start launches the server (again) on the same port and data and waits until it accepts
// connections.
func (s *PGServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(s.port),
		"-c", "unix_socket_directories="+filepath.Dir(s.dir),
		"-c", "max_connections=200", "-c", "shared_buffers=32MB",
		// Test speed: only a crash of the machine could lose data without fsync, and that
		// is not one of the faults under test. synchronous_commit stays on: with it off, a
		// crash of the server (Crash) loses transactions it already reported committed.
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "log_min_messages=panic", "-c", "logging_collector=off")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, s.url("postgres")); err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness, not for an outcome
	}
	return fmt.Errorf("postgres on %s did not accept connections within 30s: %v", s.Addr(), err)
}

// Stop shuts the server down the way an operator's restart does (fast shutdown: open
// transactions roll back, connections are cut) and waits for it.
func (s *PGServer) Stop() error { return s.stop(syscall.SIGINT) }

// Crash stops the server like a crash (immediate shutdown, recovery on the next Start).
func (s *PGServer) Crash() error { return s.stop(syscall.SIGQUIT) }

func (s *PGServer) stop(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
	return nil
}

// Restart stops (fast shutdown) and starts the server; committed data survives.
func (s *PGServer) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Start()
}
