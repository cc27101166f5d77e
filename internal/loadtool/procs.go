package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/valkeyutil"
)

// child is a process the tool started (reference server, bare server, redis-server).
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
}

func startChild(name, logPath string, env []string, bin string, args ...string) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// stop asks the process to end (SIGTERM), then kills it after a grace period.
func (c *child) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) tail() string {
	raw, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	s := string(raw)
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, c *child, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if c.exited() {
			return fmt.Errorf("%s exited: %s", c.name, c.tail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s: %w\n%s", c.name, url, ctx.Err(), c.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// buildServer compiles the reference server into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "curhat-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/curhat/curhat/examples/server")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./examples/server: %w\n%s", err, out)
	}
	return bin, nil
}

// privateRedis is a redis-server of the tool's own, on a free loopback port, whose SLOWLOG
// keeps every command slower than slowlogMicros, so that the longest single command of a
// sweep is measured by the server itself (logging every command would slow the scripts
// down: SLOWLOG also logs the commands a script runs), and whose INFO commandstats count
// the commands run, scripts' own included.
type privateRedis struct {
	*child
	url       string
	client    valkey.Client
	cpuBefore time.Duration
}

func startPrivateRedis(ctx context.Context, bin, dir string) (*privateRedis, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c, err := startChild("redis-server", filepath.Join(dir, "redis.log"), nil, bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "no", "--loglevel", "warning",
		"--slowlog-log-slower-than", strconv.Itoa(slowlogMicros), "--slowlog-max-len", "100000")
	if err != nil {
		return nil, err
	}
	r := &privateRedis{child: c, url: "redis://127.0.0.1:" + strconv.Itoa(port)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		vc, err := valkeyutil.NewClient(valkeyutil.Options{URL: r.url})
		if err == nil {
			r.client = vc
			return r, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.stop()
			return nil, fmt.Errorf("private redis-server did not start: %w\n%s", err, c.tail())
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness
	}
}

// slowlogMicros is the SLOWLOG threshold of the private server.
const slowlogMicros = 100

// slowEntry is what the server saw of a sweep: the commands it ran (from commandstats)
// and the longest one (from SLOWLOG).
type slowEntry struct {
	count   int
	longest time.Duration
	command string
	cpu     time.Duration // server CPU time (user + sys)
}

// slowlogReset clears SLOWLOG and the command statistics and notes the server's CPU time.
func (r *privateRedis) slowlogReset(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res := r.client.DoMulti(ctx, r.client.B().SlowlogReset().Build(), r.client.B().ConfigResetstat().Build(),
		r.client.B().Info().Section("cpu").Build())
	if err := firstErr(res); err != nil {
		return err
	}
	info, _ := res[2].ToString()
	r.cpuBefore = serverCPU(info)
	return nil
}

// serverCPU reads used_cpu_user + used_cpu_sys from INFO cpu.
func serverCPU(info string) time.Duration {
	var total float64
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		for _, k := range []string{"used_cpu_user:", "used_cpu_sys:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

func firstErr(rs []valkey.ValkeyResult) error {
	for _, r := range rs {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// slowlog reads the commands run and the longest command since the last reset.
func (r *privateRedis) slowlog(ctx context.Context) (slowEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res := r.client.DoMulti(ctx, r.client.B().SlowlogGet().Count(-1).Build(), r.client.B().Info().Section("commandstats").Build(),
		r.client.B().Info().Section("cpu").Build())
	entries, err := res[0].ToArray()
	if err != nil {
		return slowEntry{}, err
	}
	stats, err := res[1].ToString()
	if err != nil {
		return slowEntry{}, err
	}
	var out slowEntry
	if info, err := res[2].ToString(); err == nil {
		out.cpu = serverCPU(info) - r.cpuBefore
	}
	for line := range strings.SplitSeq(stats, "\n") {
		if !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_slowlog") || strings.HasPrefix(line, "cmdstat_config") {
			continue
		}
		if _, rest, ok := strings.Cut(line, "calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			out.count += n
		}
	}
	for _, e := range entries {
		f, err := e.ToArray()
		if err != nil || len(f) < 4 {
			continue
		}
		args, _ := f[3].AsStrSlice()
		if len(args) > 0 && (strings.EqualFold(args[0], "slowlog") || strings.EqualFold(args[0], "config")) {
			continue // the tool's own reset
		}
		us, _ := f[2].AsInt64()
		if d := time.Duration(us) * time.Microsecond; d > out.longest {
			out.longest = d
			out.command = describeCommand(args)
		}
	}
	return out, nil
}

// describeCommand names a logged command briefly (a script by its first words).
func describeCommand(args []string) string {
	if len(args) == 0 {
		return "?"
	}
	name := strings.ToUpper(args[0])
	if (name == "EVALSHA" || name == "EVAL") && len(args) > 2 {
		return fmt.Sprintf("%s (%s keys)", name, args[2])
	}
	if len(args) > 1 {
		return name + " " + shortKey(args[1])
	}
	return name
}

func shortKey(k string) string {
	if i := strings.LastIndex(k, "mitras:"); i >= 0 {
		return k[i:]
	}
	return k
}

func (r *privateRedis) close() {
	if r == nil {
		return
	}
	r.client.Close()
	r.stop()
}
