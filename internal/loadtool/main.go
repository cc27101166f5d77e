// Command loadtool measures curhat against real Postgres and Valkey on loopback, each
// measurement beside its floor, and prints one table per scenario:
//
//	go run ./internal/loadtool
//	go run ./internal/loadtool -scenario hot-paths -n 1000,10000 -duration 3s -concurrency 32
//	go run ./internal/loadtool -scenario offer-delivery,stream-cost -streams 10000
//	go run ./internal/loadtool -scenario routing -routing-blasts 2000 -routing-n 1000,10000
//
// Scenarios (-scenario, default all, in this order):
//
//   - hot-paths, for each -n N online mitras: SDK heartbeat (Mirror.Heartbeat) beside a raw
//     valkey-go SET loop, the device heartbeat beside the single-device one; FindAvailable
//     (all, Limit 50) and the CountAvailable recompute on the Valkey path beside the
//     Postgres path; HTTP heartbeat and beacon through the reference server beside a bare
//     net/http server, Postgres round trips per request counted on the wire;
//   - sweeps, for each -n: the seed, the heartbeat mirror and auto-offline over N, against a
//     private redis-server (SLOWLOG: the longest single command; commandstats; CPU);
//   - offer-delivery, for each -streams N: N mitras with an open event stream each, paid
//     blasts through the webhook, webhook → offer read on each stream (first and last
//     mitra), beside a bare net/http SSE broadcaster writing the same bytes to N streams;
//   - stream-cost: live heap plus goroutine stacks per idle stream, from the server's
//     runtime/metrics in /metrics;
//   - pairing-statements: Postgres statements from chat/start to matched for each -fanouts;
//   - accept-burst: 100 mitras accept one offer at once (the winner's 200, the losers' 409);
//   - match-throughput: 1k mitras accepting every offer, -concurrency clients paying blasts;
//   - stats-under-load: match-throughput over a day of history (100k pairings), without
//     and with an operator's console open (its event stream, the day's statistics read
//     every second): the pairing figures side by side and the statistics' latency;
//   - queue: position, length and offer-the-head with 10k queued pairings;
//   - message-delivery, for each -sessions N: N active chat sessions with the mitra's event
//     stream open, the clients sending -message-rate messages a second in all, send → the
//     message event on the mitra's stream, beside a bare relay (POST /relay/{id} to one
//     stream) at the same rate;
//   - routing (SPEC §26), in process over the SDK: fairness — 50 equal mitras,
//     -routing-blasts blasts in sequence, each accepted and ended at once, under the ring
//     policy (ring of 3) beside the blast policy: offers and matches per mitra and their
//     Gini coefficients; label filtering — for each -routing-n N, N labelled mitras (one
//     in ten fits the preferences): the offer path (MarkPaid to offers inserted) of blasts
//     with preferences beside blasts without, under the blast policy (-routing-fanout cap)
//     and the ring policy.
//
// The reference server is built from ./examples/server and run as a child process (sweeps
// off), its Postgres behind a loopback proxy that counts round trips; the floors run in
// another child process (the tool re-executed with -serve-bare). It targets loopback only,
// raises its open-file limit to the hard limit, bounds every wait and the whole run
// (-max-time), and drops its schemas, keys, processes and files at the end, also on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valkey-io/valkey-go"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/internal/valkeyutil"
)

type options struct {
	scenarios   []string
	sizes       []int
	streams     []int
	blasts      int
	fanouts     []int
	duration    time.Duration
	concurrency int
	databaseURL string
	valkeyURL   string
	maxTime     time.Duration
	redisServer string
	serverBin   string
	tokens      int
	sessions    []int
	messageRate float64
	// routing
	routingSizes   []int
	routingBlasts  int
	routingSamples int
	routingFanout  int
}

func main() {
	var o options
	var sizes, streams, fanouts, sessions, routingSizes, scen string
	var bareAddr, bareKey, cpuProfile string
	flag.StringVar(&scen, "scenario", "all", "scenarios to run, comma-separated ("+scenarioNames()+"), or all")
	flag.StringVar(&sizes, "n", "1000,10000,100000", "numbers of online mitras of hot-paths and sweeps, comma-separated: one table each")
	flag.StringVar(&streams, "streams", "1000,10000", "open mitra event streams of offer-delivery, comma-separated (stream-cost uses the largest)")
	flag.IntVar(&o.blasts, "blasts", 8, "paid blasts measured per stream count in offer-delivery")
	flag.StringVar(&fanouts, "fanouts", "10,1000,10000", "fan-outs of pairing-statements, comma-separated")
	flag.DurationVar(&o.duration, "duration", 2*time.Second, "length of each measurement")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent callers of every measurement")
	flag.StringVar(&o.databaseURL, "database-url", "postgres://127.0.0.1:5432/test", "PostgreSQL (loopback only); the tool creates and drops its own schema")
	flag.StringVar(&o.valkeyURL, "valkey-url", "redis://127.0.0.1:6379", "Valkey or Redis ≥ 7 (loopback only); the tool uses and deletes its own key prefix")
	flag.DurationVar(&o.maxTime, "max-time", 10*time.Minute, "bound on the whole run: what is left unmeasured then is skipped")
	flag.StringVar(&o.redisServer, "redis-server", "redis-server", `redis-server binary for the sweep measurements (SLOWLOG); "" measures the sweeps on -valkey-url without SLOWLOG`)
	flag.StringVar(&o.serverBin, "server-bin", "", "prebuilt reference server binary (default: go build ./examples/server)")
	flag.IntVar(&o.tokens, "tokens", 1000, "mitras whose tokens the HTTP heartbeat load cycles through")
	flag.StringVar(&sessions, "sessions", "1000", "chat sessions open at once in message-delivery, comma-separated: one row pair each")
	flag.Float64Var(&o.messageRate, "message-rate", 500, "messages a second message-delivery sends in all, over the sessions")
	flag.StringVar(&routingSizes, "routing-n", "1000,10000", "numbers of available labelled mitras of routing's label cost, comma-separated: two rows each")
	flag.IntVar(&o.routingBlasts, "routing-blasts", 2000, "blasts of each fairness run of routing")
	flag.IntVar(&o.routingSamples, "routing-samples", 200, "blasts measured per side (with and without preferences) of each row of routing's label cost")
	flag.IntVar(&o.routingFanout, "routing-fanout", 100, "FanoutCap of routing's label cost under the blast policy")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the tool's own process (the in-process scenarios: routing) to this file")
	flag.StringVar(&bareAddr, "serve-bare", "", "internal: serve the bare floor handlers on this address")
	flag.StringVar(&bareKey, "bare-key", "", "internal: the key the bare SET handler writes")
	flag.Parse()

	if bareAddr != "" {
		if err := serveBare(bareAddr, o.valkeyURL, bareKey, o.databaseURL); err != nil {
			fmt.Fprintln(os.Stderr, "bare server:", err)
			os.Exit(1)
		}
		return
	}
	var err error
	if o.sizes, err = parseSizes("-n", sizes, 100); err == nil {
		if o.streams, err = parseSizes("-streams", streams, 1); err == nil {
			if o.fanouts, err = parseSizes("-fanouts", fanouts, 1); err == nil {
				if o.sessions, err = parseSizes("-sessions", sessions, 1); err == nil {
					if o.routingSizes, err = parseSizes("-routing-n", routingSizes, 20); err == nil {
						o.scenarios, err = parseScenarios(scen)
					}
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	o.concurrency = max(o.concurrency, 1)
	o.blasts = max(o.blasts, 1)
	o.routingBlasts, o.routingSamples, o.routingFanout = max(o.routingBlasts, 1), max(o.routingSamples, 1), max(o.routingFanout, 1)
	if o.messageRate <= 0 {
		fmt.Fprintln(os.Stderr, "-message-rate: must be above 0")
		os.Exit(2)
	}
	raiseFileLimit()
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "-cpuprofile:", err)
			os.Exit(2)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { // a second Ctrl-C while cleaning up exits at once
		<-ctx.Done()
		stop()
	}()
	if err = run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtool:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// tool is what every N shares: connections, child processes and the temporary folder.
type tool struct {
	o         options
	admin     *pgxpool.Pool
	valkey    valkey.Client
	dir       string
	serverBin string
	bare      *child
	bareURL   string
	bareKey   string
	proxy     *pgProxy
	redis     *privateRedis
}

func run(ctx context.Context, o options) error {
	if err := requireLoopback("-database-url", o.databaseURL); err != nil {
		return err
	}
	if err := requireLoopback("-valkey-url", o.valkeyURL); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.maxTime)
	defer cancel()
	t := &tool{o: o}
	defer t.close()

	var err error
	if t.dir, err = os.MkdirTemp("", "curhat-loadtool-"); err != nil {
		return err
	}
	if t.admin, err = pgutil.NewPool(ctx, o.databaseURL, func(c *pgxpool.Config) { c.MaxConns = 2 }); err != nil {
		return err
	}
	if err := t.admin.Ping(ctx); err != nil {
		return fmt.Errorf("postgres at %s: %w", o.databaseURL, err)
	}
	if t.valkey, err = valkeyutil.NewClient(valkeyutil.Options{URL: o.valkeyURL, DisableCache: true}); err != nil {
		return fmt.Errorf("valkey at %s: %w", o.valkeyURL, err)
	}

	t.serverBin = o.serverBin
	if t.serverBin == "" {
		logf("building the reference server (go build ./examples/server)")
		if t.serverBin, err = buildServer(ctx, t.dir); err != nil {
			return err
		}
	}
	if err := t.startBare(ctx); err != nil {
		return err
	}
	pgTarget, err := pgHostPort(o.databaseURL)
	if err != nil {
		return err
	}
	if t.proxy, err = startPGProxy(pgTarget); err != nil {
		return err
	}
	if o.redisServer != "" {
		if _, err := exec.LookPath(o.redisServer); err != nil {
			logf("no %s binary: sweeps are measured on -valkey-url, without SLOWLOG", o.redisServer)
		} else if t.redis, err = startPrivateRedis(ctx, o.redisServer, t.dir); err != nil {
			return err
		}
	}

	fmt.Println(t.machine(ctx))
	t.runScenarios(ctx)
	return nil
}

// parseSizes reads a comma-separated list of numbers ≥ least.
func parseSizes(flagName, raw string, least int) ([]int, error) {
	var out []int
	for s := range strings.SplitSeq(raw, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < least {
			return nil, fmt.Errorf("%s: %q is not a number ≥ %d", flagName, s, least)
		}
		out = append(out, n)
	}
	return out, nil
}

func pgHostPort(raw string) (string, error) {
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port), nil
}

func (t *tool) startBare(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	t.bareKey = "loadtool" + randomHex(4) + ":bare"
	t.bare, err = startChild("bare server", t.dir+"/bare.log", nil, self,
		"-serve-bare", addr, "-valkey-url", t.o.valkeyURL, "-bare-key", t.bareKey, "-database-url", t.o.databaseURL)
	if err != nil {
		return err
	}
	t.bareURL = "http://" + addr
	return waitHTTP(ctx, t.bare, t.bareURL+"/noop", 15*time.Second)
}

// machine describes where the numbers come from.
func (t *tool) machine(ctx context.Context) string {
	var pgVersion string
	_ = t.admin.QueryRow(ctx, "SHOW server_version").Scan(&pgVersion)
	vkVersion := "?"
	if info, err := t.valkey.Do(ctx, t.valkey.B().Info().Section("server").Build()).ToString(); err == nil {
		for line := range strings.SplitSeq(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				vkVersion = "Redis-compatible " + v
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "valkey_version:"); ok {
				vkVersion = "Valkey " + v
			}
		}
	}
	slow := fmt.Sprintf("private redis-server (SLOWLOG of commands over %d µs, commandstats, INFO cpu)", slowlogMicros)
	if t.redis == nil {
		slow = "-valkey-url, longest command not measured"
	}
	return fmt.Sprintf("# curhat load tool\n\n%d CPUs, %s/%s, %s; Postgres %s; %s; loopback.\n"+
		"Concurrency %d, %s per measurement. Sweeps: %s.\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), strings.Fields(pgVersion + " ?")[0], vkVersion,
		t.o.concurrency, t.o.duration, slow)
}

func (t *tool) close() {
	if t.proxy != nil {
		t.proxy.close()
	}
	t.bare.stop()
	t.redis.close()
	if t.valkey != nil {
		if t.bareKey != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			t.valkey.Do(ctx, t.valkey.B().Unlink().Key(t.bareKey).Build())
			cancel()
		}
		t.valkey.Close()
	}
	if t.admin != nil {
		t.admin.Close()
	}
	if t.dir != "" {
		os.RemoveAll(t.dir)
	}
}
