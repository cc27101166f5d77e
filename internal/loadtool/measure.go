package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/valkeyutil"
)

// opTimeout bounds one operation of a measurement, like the SDK's own Valkey deadline.
const opTimeout = 300 * time.Millisecond

// hotPaths is the scenario of the hot paths: for each -n, a dataset of N online mitras,
// the reads, the SDK heartbeat and the HTTP paths beside their floors.
func (t *tool) hotPaths(ctx context.Context) error {
	fmt.Printf("# hot-paths\n\n")
	return t.perN(ctx, func(ctx context.Context, d *dataset, rep *report) error {
		// The SDK over the shared Valkey, under the dataset's prefix.
		cc := &countingClient{Client: t.valkey}
		cache := availability.NewValkeyCache(cc, availability.CacheConfig{Names: valkeyutil.NewNames(d.prefix, false)})
		store := availability.NewPostgresStore(d.pool)
		cfg := &availability.Config{ValkeyTimeout: 5 * time.Second}
		vm, err := availability.NewMirror(store, cache, cfg)
		if err != nil {
			return err
		}
		pm, err := availability.NewMirror(store, nil, cfg)
		if err != nil {
			return err
		}
		seeded, err := vm.SeedFromPostgres(ctx)
		if err != nil {
			return err
		}
		rep.seedNote = fmt.Sprintf("first seed %s", seeded.Duration.Round(time.Millisecond))
		if err := t.reads(ctx, d, rep, vm, pm, cache, store, cc); err != nil {
			return err
		}
		if err := t.sdkHeartbeat(ctx, d, rep, vm); err != nil {
			return err
		}
		return t.httpPaths(ctx, d, rep)
	})
}

// sweepsScenario measures the sweeps over N for each -n.
func (t *tool) sweepsScenario(ctx context.Context) error {
	fmt.Printf("# sweeps\n\n")
	return t.perN(ctx, func(ctx context.Context, d *dataset, rep *report) error {
		rep.seedNote = "sweeps against " + map[bool]string{true: "the private redis-server", false: "-valkey-url"}[t.redis != nil]
		return t.sweeps(ctx, d, rep)
	})
}

// perN creates a dataset for each -n, runs measure on it and prints its report.
func (t *tool) perN(ctx context.Context, measure func(ctx context.Context, d *dataset, rep *report) error) error {
	for _, n := range t.o.sizes {
		if ctx.Err() != nil {
			fmt.Printf("N = %d: skipped: %v\n\n", n, context.Cause(ctx))
			continue
		}
		logf("N=%d: creating the dataset", n)
		began := time.Now()
		d, err := createDataset(ctx, t.admin, t.o.databaseURL, n, n/10, min(t.o.tokens, n/2), t.o.concurrency)
		if err == nil {
			logf("N=%d: %d mitras inserted in %s", n, n, time.Since(began).Round(time.Millisecond))
			rep := &report{n: n, atCapacity: d.atCapacity, concurrency: t.o.concurrency, duration: t.o.duration}
			if err = measure(ctx, d, rep); err == nil {
				fmt.Println(rep.String())
			}
		}
		if d != nil {
			d.drop(t.admin, t.valkey)
		}
		if err != nil {
			fmt.Printf("N = %d: skipped: %v\n\n", n, err)
		}
	}
	return nil
}

func (t *tool) load(ctx context.Context, name string, op func(ctx context.Context, worker, i int) error) (result, error) {
	return t.loadFor(ctx, name, t.o.duration, op)
}

func (t *tool) loadFor(ctx context.Context, name string, d time.Duration, op func(ctx context.Context, worker, i int) error) (result, error) {
	r := runLoad(ctx, t.o.concurrency, d, op)
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if r.errs > 0 {
		return r, fmt.Errorf("%s: %d of %d calls failed, first: %w", name, r.errs, r.errs+r.ops, r.firstErr)
	}
	if r.ops == 0 {
		return r, fmt.Errorf("%s: no call completed in %s", name, d)
	}
	return r, nil
}

// rounds is how many alternating slices a side-by-side measurement is cut into, so that
// both sides see the same background load of a shared machine.
const rounds = 4

// pair measures a and b side by side: -duration each, in alternating slices.
func (t *tool) pair(ctx context.Context, nameA, nameB string, a, b func(ctx context.Context, worker, i int) error) (result, result, error) {
	var ra, rb []result
	for range rounds {
		r, err := t.loadFor(ctx, nameA, t.o.duration/rounds, a)
		if err != nil {
			return result{}, result{}, err
		}
		ra = append(ra, r)
		if r, err = t.loadFor(ctx, nameB, t.o.duration/rounds, b); err != nil {
			return result{}, result{}, err
		}
		rb = append(rb, r)
	}
	return merge(ra...), merge(rb...), nil
}

// reads measures FindAvailable and the CountAvailable recompute, Valkey path beside the
// Postgres path, and the Valkey round trips per call.
func (t *tool) reads(ctx context.Context, d *dataset, rep *report, vm, pm *availability.Mirror,
	cache *availability.ValkeyCache, store *availability.PostgresStore, cc *countingClient) error {
	logf("N=%d: FindAvailable and CountAvailable", d.n)
	wantAll := d.n - d.atCapacity
	find := func(m *availability.Mirror, limit int) func(ctx context.Context, _, _ int) error {
		return func(ctx context.Context, _, _ int) error {
			ids, err := m.FindAvailable(ctx, availability.FindOptions{Limit: limit})
			if err != nil {
				return err
			}
			if want := wantAll; (limit == 0 && len(ids) != want) || (limit > 0 && len(ids) != min(limit, want)) {
				return fmt.Errorf("FindAvailable(limit %d) returned %d ids, want %d", limit, len(ids), min(want, max(limit, want)))
			}
			return nil
		}
	}
	fresh := func() time.Time { return time.Now().Add(-availability.DefaultStaleThreshold) }
	cases := []struct {
		name       string
		valkey, pg func(ctx context.Context, w, i int) error
	}{
		{"FindAvailable, all", find(vm, 0), find(pm, 0)},
		{"FindAvailable, Limit 50", find(vm, 50), find(pm, 50)},
		{"CountAvailable recompute", func(ctx context.Context, _, _ int) error {
			_, err := cache.CountAvailable(ctx, fresh())
			return err
		}, func(ctx context.Context, _, _ int) error {
			_, err := store.CountAvailable(ctx, availability.AvailableQuery{FreshAfter: fresh(), DefaultMax: availability.DefaultMaxSessions})
			return err
		}},
	}
	for _, c := range cases {
		_ = c.valkey(ctx, 0, 0) // warm: scripts loaded, connections open, local copies built
		before := cc.snapshot()
		vr, pr, err := t.pair(ctx, c.name+" (valkey)", c.name+" (postgres)", c.valkey, c.pg)
		if err != nil {
			return err
		}
		trips := cc.snapshot().since(before)
		rep.reads = append(rep.reads, readRow{name: c.name, valkey: vr, pg: pr,
			valkeyTrips: float64(trips.trips) / float64(vr.ops)})
	}
	return nil
}

// sdkHeartbeat measures Mirror.Heartbeat beside a raw SET loop on the same client.
func (t *tool) sdkHeartbeat(ctx context.Context, d *dataset, rep *report, vm *availability.Mirror) error {
	logf("N=%d: SDK heartbeat and raw SET", d.n)
	hb := func(ctx context.Context, w, i int) error {
		online, err := vm.Heartbeat(ctx, d.sample[(w*7919+i)%len(d.sample)])
		if err == nil && !online {
			err = fmt.Errorf("heartbeat: mitra reported offline")
		}
		return err
	}
	_ = hb(ctx, 0, 0)
	key := d.prefix + "raw"
	set := func(ctx context.Context, _, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		return t.valkey.Do(ctx, t.valkey.B().Set().Key(key).Value(availability.FormatHeartbeat(time.Now())).Build()).Error()
	}
	pgBefore := d.queries.Count()
	var err error
	if rep.sdkHB, rep.rawSET, err = t.pair(ctx, "SDK heartbeat", "raw SET", hb, set); err != nil {
		return err
	}
	rep.sdkHBPG = float64(d.queries.Count()-pgBefore) / float64(rep.sdkHB.ops)

	// The same pings from three devices a mitra: each device's lease written beside the
	// mitra's heartbeat, in the same single round trip.
	logf("N=%d: SDK device heartbeat beside the single-device heartbeat", d.n)
	deviceHB := func(ctx context.Context, w, i int) error {
		k := w*7919 + i
		online, err := vm.HeartbeatDevice(ctx, d.sample[k%len(d.sample)], loadDevices[(k/len(d.sample))%len(loadDevices)])
		if err == nil && !online {
			err = fmt.Errorf("device heartbeat: mitra reported offline")
		}
		return err
	}
	for k := range len(d.sample) * len(loadDevices) { // every device's lease exists: the steady state
		if err := deviceHB(ctx, 0, k); err != nil {
			return err
		}
	}
	if rep.sdkDeviceHB, rep.sdkHB1, err = t.pair(ctx, "SDK device heartbeat", "SDK heartbeat", deviceHB, hb); err != nil {
		return err
	}
	return nil
}

// loadDevices are the devices of each mitra in the device heartbeat measurements.
var loadDevices = []string{"phone", "tablet", "laptop"}

// httpPaths starts the reference server over the dataset and measures the heartbeat and the
// beacon beside the bare server.
func (t *tool) httpPaths(ctx context.Context, d *dataset, rep *report) error {
	srv, err := t.startServer(ctx, d, fmt.Sprintf("hot-paths-%d", d.n))
	if err != nil {
		return err
	}
	defer srv.close()
	base := srv.base

	tr := &http.Transport{MaxIdleConns: 4 * t.o.concurrency, MaxIdleConnsPerHost: 2 * t.o.concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	mitraAuth := bearers(d.mitraToks)
	clientAuth := bearers(d.clientToks)
	call := func(ctx context.Context, method, url, auth string, header ...string) error {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", auth)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
		}
		return nil
	}
	heartbeat := func(ctx context.Context, w, i int) error {
		return call(ctx, "POST", base+"/api/mitra/status/heartbeat", mitraAuth[(w*7919+i)%len(mitraAuth)])
	}
	beacon := func(ctx context.Context, w, i int) error {
		return call(ctx, "GET", base+"/api/client/mitra-availability", clientAuth[(w+i)%len(clientAuth)])
	}
	// Every token is verified before each measurement: the server trusts a verified token
	// from memory for AUTH_CACHE_SECONDS (30 s by default), then asks Postgres again.
	warm := func(op func(ctx context.Context, w, i int) error, tokens int) error {
		for i := range tokens {
			if err := op(ctx, 0, i); err != nil {
				return err
			}
		}
		return nil
	}

	logf("N=%d: HTTP heartbeat and beacon", d.n)
	// The bare server has no Postgres: every round trip the proxy sees is the server's.
	bareSET := func(ctx context.Context, w, i int) error {
		return call(ctx, "POST", t.bareURL+"/set", mitraAuth[(w*7919+i)%len(mitraAuth)])
	}
	if err := warm(heartbeat, len(mitraAuth)); err != nil {
		return err
	}
	before := t.proxy.trips.Load()
	if rep.httpHB, rep.bareSET, err = t.pair(ctx, "HTTP heartbeat", "bare one-SET handler", heartbeat, bareSET); err != nil {
		return err
	}
	rep.httpHBPG = float64(t.proxy.trips.Load()-before) / float64(rep.httpHB.ops)

	logf("N=%d: HTTP device heartbeat beside the single-device heartbeat", d.n)
	deviceHeartbeat := func(ctx context.Context, w, i int) error {
		k := w*7919 + i
		return call(ctx, "POST", base+"/api/mitra/status/heartbeat", mitraAuth[k%len(mitraAuth)],
			"X-Device-Id", loadDevices[(k/len(mitraAuth))%len(loadDevices)])
	}
	if err := warm(deviceHeartbeat, len(mitraAuth)*len(loadDevices)); err != nil {
		return err
	}
	before = t.proxy.trips.Load()
	if rep.httpDeviceHB, rep.httpHB1, err = t.pair(ctx, "HTTP device heartbeat", "HTTP heartbeat", deviceHeartbeat, heartbeat); err != nil {
		return err
	}
	rep.httpDeviceHBPG = float64(t.proxy.trips.Load()-before) / float64(rep.httpDeviceHB.ops)

	bareNoIO := func(ctx context.Context, w, i int) error {
		return call(ctx, "GET", t.bareURL+"/noop", clientAuth[(w+i)%len(clientAuth)])
	}
	if err := warm(beacon, len(clientAuth)); err != nil {
		return err
	}
	before = t.proxy.trips.Load()
	if rep.beacon, rep.bareNoIO, err = t.pair(ctx, "HTTP beacon", "bare no-I/O handler", beacon, bareNoIO); err != nil {
		return err
	}
	rep.beaconPG = float64(t.proxy.trips.Load()-before) / float64(rep.beacon.ops)
	return nil
}

func bearers(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = "Bearer " + t
	}
	return out
}

// sweeps measures the seed, the heartbeat mirror and auto-offline over N. Against the
// private redis-server they run with the default key names. A fake clock places the
// pings (T is the insert, whose heartbeats are spread over the 10 s before it):
//
//   - T-200s: seed into an empty Valkey;
//   - T+60s: 90% of the mitras ping (not measured); heartbeat mirror (90% of the rows
//     move); auto-offline with nobody stale;
//   - T+85s: a sixth of them ping again, as a 30 s ping cycle does in the 5 s before a
//     reseed; T+90s: reseed (it merges the pings received while it was building, back to
//     5 s before it began: clocks of other instances may lag);
//   - T+91s: auto-offline with the 10% that did not ping stale.
func (t *tool) sweeps(ctx context.Context, d *dataset, rep *report) error {
	logf("N=%d: sweeps", d.n)
	names := valkeyutil.NewNames(d.prefix, false)
	client := t.valkey
	if t.redis != nil {
		names = valkeyutil.NewNames("", false)
		client = t.redis.client
		// A fresh server for every N: flush what the previous N left.
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := client.Do(fctx, client.B().Flushall().Build()).Error()
		cancel()
		if err != nil {
			return err
		}
	}
	cc := &countingClient{Client: client}
	cache := availability.NewValkeyCache(cc, availability.CacheConfig{Names: names})
	clk := clock.NewFake(d.insertedAt.Add(-200 * time.Second))
	m, err := availability.NewMirror(availability.NewPostgresStore(d.pool), cache, &availability.Config{Clock: clk, ValkeyTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	at := func(offset time.Duration) { clk.Set(d.insertedAt.Add(offset)) }

	measure := func(name string, fn func() (string, error)) error {
		if t.redis != nil {
			if err := t.redis.slowlogReset(ctx); err != nil {
				return err
			}
		}
		before, pgBefore := cc.snapshot(), d.queries.Count()
		began := time.Now()
		what, err := fn()
		took := time.Since(began)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		row := sweepRow{name: name, what: what, took: took, valkey: cc.snapshot().since(before), pg: d.queries.Count() - pgBefore}
		if t.redis != nil {
			if row.slow, err = t.redis.slowlog(ctx); err != nil {
				return err
			}
		}
		rep.sweeps = append(rep.sweeps, row)
		return nil
	}
	seed := func() (string, error) {
		r, err := m.SeedFromPostgres(ctx)
		return fmt.Sprintf("%d mitras", r.Mitras), err
	}
	autoOffline := func() (string, error) {
		r, err := m.AutoOffline(ctx)
		return fmt.Sprintf("%d offlined", r.Offlined), err
	}
	if err := measure("seed (empty Valkey)", seed); err != nil {
		return err
	}

	rows, err := d.pool.Query(ctx, `SELECT id FROM mitras ORDER BY id`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	var pinged, again []uuid.UUID
	for i, id := range ids {
		if i%10 != 5 {
			pinged = append(pinged, id)
			if i%6 == 0 {
				again = append(again, id)
			}
		}
	}
	at(60 * time.Second)
	if err := pingAll(ctx, m, pinged, t.o.concurrency); err != nil {
		return err
	}
	if err := measure("heartbeat mirror", func() (string, error) {
		r, err := m.MirrorHeartbeats(ctx)
		return fmt.Sprintf("%d read, %d rows moved", r.Read, r.Updated), err
	}); err != nil {
		return err
	}
	if err := measure("auto-offline, nobody stale", autoOffline); err != nil {
		return err
	}
	at(85 * time.Second)
	if err := pingAll(ctx, m, again, t.o.concurrency); err != nil {
		return err
	}
	at(90 * time.Second)
	if err := measure(fmt.Sprintf("reseed (%d recent pings to merge)", len(again)), seed); err != nil {
		return err
	}
	at(availability.DefaultStaleThreshold + time.Second)
	return measure("auto-offline, 10% stale", autoOffline)
}

// pingAll sends one heartbeat for each id, from `workers` goroutines.
func pingAll(ctx context.Context, m *availability.Mirror, ids []uuid.UUID, workers int) error {
	return inParallel(len(ids), workers, func(i int) error {
		if _, err := m.Heartbeat(ctx, ids[i]); err != nil {
			return fmt.Errorf("ping %s: %w", ids[i], err)
		}
		return nil
	})
}

// inParallel calls do(i) for every i in [0, n) from `workers` goroutines (worker w takes
// w, w+workers, …); a worker stops at its first error, and the first error is returned
// once every worker has stopped.
func inParallel(n, workers int, do func(i int) error) error {
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := w; i < n; i += workers {
				if err := do(i); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
