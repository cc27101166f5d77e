package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/valkeyutil"
)

// ClusterMasters is the number of masters of a test cluster (the smallest Redis Cluster).
const ClusterMasters = 3

// Cluster is a private Redis Cluster of three masters (no replicas) on free loopback ports,
// for the suites that must prove every multi-key command slot-safe. One cluster is shared
// by the tests of a package that run at the same time (starting one takes a second or two);
// each test gets its own hash-tagged key prefix from NewValkey.
type Cluster struct {
	dir   string
	nodes []*clusterNode
}

type clusterNode struct {
	port, busPort int
	cmd           *exec.Cmd
}

// shared is the package's cluster: started by the first StartCluster, stopped when the last
// test holding it has ended, or, under VerifyNoLeaks, when the package's tests are done
// (starting a cluster takes two seconds, and tests that do not overlap would each pay them).
var shared struct {
	mu      sync.Mutex
	cluster *Cluster
	users   int
	// untilExit keeps the cluster between tests; stopSharedCluster stops it.
	untilExit bool
}

// stopSharedCluster stops the package's cluster once no test holds it.
func stopSharedCluster() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.untilExit = false
	if shared.cluster != nil && shared.users == 0 {
		shared.cluster.stop()
		shared.cluster = nil
	}
}

// StartCluster returns a running 3-master cluster, shared with the other tests of the
// package (see shared for when it stops). Without redis-server or redis-cli the test is
// skipped (failed under CURHAT_REQUIRE_SERVICES=1).
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			unavailable(t, bin+" binary (Redis Cluster)", err)
		}
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil {
		var c *Cluster
		var err error
		// A free port can be taken between the check and redis-server's bind: try again.
		for attempt := 0; attempt < 3; attempt++ {
			if c, err = startCluster(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("start redis cluster: %v", err)
		}
		shared.cluster = c
	}
	c := shared.cluster
	shared.users++
	t.Cleanup(func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		shared.users--
		if shared.users == 0 && shared.cluster == c && !shared.untilExit {
			c.stop()
			shared.cluster = nil
		}
	})
	return c
}

func startCluster() (*Cluster, error) {
	// Not t.TempDir: the cluster outlives the test that started it.
	dir, err := os.MkdirTemp("", "curhat-cluster-*")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	for range ClusterMasters {
		port, err1 := FreePort()
		bus, err2 := FreePort()
		if err := errors.Join(err1, err2); err != nil {
			c.stop()
			return nil, err
		}
		n := &clusterNode{port: port, busPort: bus}
		if err := c.startNode(n); err != nil {
			c.stop()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range c.nodes {
		if err := waitAnswer(ctx, n.addr()); err != nil {
			c.stop()
			return nil, err
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		c.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitReady(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (n *clusterNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

func (c *Cluster) startNode(n *clusterNode) error {
	p := strconv.Itoa(n.port)
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", p, "--protected-mode", "no",
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(n.busPort),
		"--cluster-config-file", "nodes-"+p+".conf",
		// Generous: a loaded CI box (race detector on two cores) must not make the nodes
		// declare each other failed mid-test.
		"--cluster-node-timeout", "15000",
		"--save", "", "--appendonly", "no", "--dir", c.dir, "--loglevel", "warning",
		"--logfile", "redis-"+p+".log")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server on %s: %w", n.addr(), err)
	}
	n.cmd = cmd
	return nil
}

// waitReady polls every node until it reports cluster_state:ok with all slots assigned
// and every master known.
func (c *Cluster) waitReady(ctx context.Context) error {
	var last string
	for ctx.Err() == nil {
		ready := true
		for _, n := range c.nodes {
			info, err := respDo(ctx, n.addr(), "CLUSTER", "INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_slots_ok:16384") ||
				!strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", len(c.nodes))) {
				ready, last = false, fmt.Sprintf("%s: %v %s", n.addr(), err, info)
				break
			}
		}
		if ready {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness, not for an outcome
	}
	return fmt.Errorf("redis cluster not ready: %s", last)
}

func (c *Cluster) stop() {
	for _, n := range c.nodes {
		if n.cmd != nil {
			_ = n.cmd.Process.Signal(syscall.SIGCONT)
			_ = n.cmd.Process.Kill()
			_ = n.cmd.Wait()
			n.cmd = nil
		}
	}
	_ = os.RemoveAll(c.dir)
}

// Addrs returns the masters' host:port.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr()
	}
	return out
}

// URL is redis://first?addr=second&addr=third: every master is a seed, as
// valkeyutil.NewClient(valkeyutil.Options{URL: c.URL(), Cluster: true}) expects.
func (c *Cluster) URL() string {
	addrs := c.Addrs()
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// Client returns a cluster-mode client (client-side caching off), closed when the test ends.
func (c *Cluster) Client(t testing.TB) valkey.Client {
	t.Helper()
	vc, err := valkeyutil.NewClient(valkeyutil.Options{URL: c.URL(), Cluster: true, DisableCache: true})
	if err != nil {
		t.Fatalf("connect to redis cluster: %v", err)
	}
	t.Cleanup(vc.Close)
	return vc
}

// NewValkey returns a cluster-mode client and a unique hash-tagged prefix ("{t…}:"), so
// that Names() — and valkeyutil.NewNames(v.Prefix, true), which leaves a tagged prefix
// as it is — puts every key of the test in one slot. The keys are deleted when the test
// ends.
func (c *Cluster) NewValkey(t testing.TB) *Valkey {
	t.Helper()
	v := &Valkey{Client: c.Client(t), URL: c.URL(), Prefix: "{t" + RandomSuffix(5) + "}:"}
	t.Cleanup(func() { deleteClusterPrefix(v.Client, v.Prefix) })
	return v
}

// deleteClusterPrefix deletes the keys under prefix on every master (SCAN is per node).
func deleteClusterPrefix(c valkey.Client, prefix string) {
	for _, node := range c.Nodes() {
		DeletePrefix(node, prefix)
	}
}

// waitAnswer polls addr until PING answers.
func waitAnswer(ctx context.Context, addr string) error {
	var err error
	for ctx.Err() == nil {
		var reply string
		if reply, err = respDo(ctx, addr, "PING"); err == nil && reply == "PONG" {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness, not for an outcome
	}
	return fmt.Errorf("%s did not answer: %v", addr, err)
}

// respDo sends one command on a fresh connection and returns a simple, integer or bulk
// reply as a string (server errors as errors). It is the harness's own path to a node,
// independent of the client under test.
func respDo(ctx context.Context, addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("server error: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
