package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/availability"
)

// Presence per device: X-Device-Id, one device signing off, event streams as
// leases and the reconnect grace.

// device is the X-Device-Id header of a request.
func device(id string) []string { return []string{deviceHeader, id} }

func (ts *testServer) deviceDo(status int, method, path, token, dev string, body any) map[string]any {
	ts.t.Helper()
	r := ts.doWith(method, path, token, body, device(dev)...)
	require.Equal(ts.t, status, r.Status, "%s %s (%s): %s", method, path, dev, r.Raw)
	return r.Body
}

// devices returns the device ids of GET /api/mitra/status, and whether each streams.
func (ts *testServer) devices(tok string) map[string]bool {
	ts.t.Helper()
	out := map[string]bool{}
	for _, d := range ts.must(200, "GET", "/api/mitra/status", tok, nil)["devices"].([]any) {
		dev := d.(map[string]any)
		out[dev["device_id"].(string)] = dev["streaming"].(bool)
	}
	return out
}

// autoOffline runs the auto-offline sweep once (the test servers run no sweeps).
func (ts *testServer) autoOffline() {
	ts.t.Helper()
	_, err := ts.app.mirror.AutoOffline(context.Background())
	require.NoError(ts.t, err)
}

func TestPresence_BadDeviceIDsAre400(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	_, tok := ts.newMitra("Ayu")
	ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
	for _, bad := range []string{"", strings.Repeat("a", 65), "my phone", "ph/one", "télé", "{x}"} {
		for _, path := range []string{"/api/mitra/status/heartbeat", "/api/mitra/status/online"} {
			r := ts.doWith("POST", path, tok, nil, device(bad)...)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s %q: %s", path, bad, r.Raw)
			require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
		}
		_, r := tryStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", tok, device(bad)...)
		require.Equal(t, http.StatusBadRequest, r.Status, "events %q", bad)
		r = ts.do("POST", "/api/mitra/status/offline", tok, map[string]any{"device_id": bad})
		require.Equal(t, http.StatusBadRequest, r.Status, "offline %q: %s", bad, r.Raw)
		require.Equal(t, "VALIDATION_FAILED", r.ErrorCode())
	}
	r := ts.doWith("POST", "/api/mitra/status/heartbeat", tok, nil, append(device("phone"), device("tablet")...)...)
	require.Equal(t, http.StatusBadRequest, r.Status, "the header twice")
	for _, body := range []string{`{"device_id":5}`, `{"device":"phone"}`, `[]`} {
		r := ts.do("POST", "/api/mitra/status/offline", tok, body)
		require.Equal(t, http.StatusBadRequest, r.Status, body)
	}
	require.Equal(t, map[string]bool{"phone": false}, ts.devices(tok), "nothing refused was written")
	require.Equal(t, true, ts.must(200, "GET", "/api/mitra/status", tok, nil)["online"])
}

func TestPresence_TwoDevicesOneLeavesTheMitraStaysOnlineTheOtherGoesStaleAutoOffline(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		id, tok := ts.newMitra("Ayu")
		ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
		ts.clock.Advance(10 * time.Second)
		require.Equal(t, true, ts.deviceDo(200, "POST", "/api/mitra/status/heartbeat", tok, "tablet", nil)["online"])
		require.Equal(t, map[string]bool{"phone": false, "tablet": false}, ts.devices(tok))
		require.Equal(t, float64(2), ts.must(200, "GET", "/api/internal/mitras/"+id.String(), ts.op, nil)["device_count"])

		ts.clock.Advance(10 * time.Second)
		ts.deviceDo(200, "POST", "/api/mitra/status/heartbeat", tok, "phone", nil)
		require.Equal(t, true, ts.must(200, "POST", "/api/mitra/status/offline", tok, map[string]any{"device_id": "phone"})["online"],
			"the tablet keeps the mitra online")
		st := ts.must(200, "GET", "/api/mitra/status", tok, nil)
		require.Equal(t, true, st["online"])
		require.Equal(t, true, st["reachable"])
		require.Equal(t, map[string]bool{"tablet": false}, ts.devices(tok))
		require.Equal(t, float64(1), ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)["available_count"])
		require.Equal(t, float64(1), ts.must(200, "GET", "/api/internal/mitras/"+id.String(), ts.op, nil)["device_count"])

		// The tablet goes silent: stale as of its own lease, and auto-offlined.
		ts.clock.Advance(availability.DefaultStaleThreshold - 9*time.Second)
		require.Equal(t, false, ts.must(200, "GET", "/api/mitra/status", tok, nil)["reachable"])
		ts.autoOffline()
		require.Equal(t, false, ts.must(200, "GET", "/api/mitra/status", tok, nil)["online"])
		require.Equal(t, false, ts.deviceDo(200, "POST", "/api/mitra/status/heartbeat", tok, "tablet", nil)["online"])

		// The last device signing off takes it offline; no body is every device's offline.
		ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
		require.Equal(t, false, ts.must(200, "POST", "/api/mitra/status/offline", tok, map[string]any{"device_id": "phone"})["online"])
		ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
		ts.deviceDo(200, "POST", "/api/mitra/status/heartbeat", tok, "tablet", nil)
		require.Equal(t, false, ts.must(200, "POST", "/api/mitra/status/offline", tok, nil)["online"])
		require.Empty(t, ts.devices(tok))
		require.Equal(t, float64(0), ts.must(200, "GET", "/api/internal/mitras/"+id.String(), ts.op, nil)["device_count"])
	})
}

func TestPresence_ManyDistinctDeviceIDsAreBounded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memoryBackend)
	_, tok := ts.newMitra("Ayu")
	ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
	for i := range 300 {
		ts.deviceDo(200, "POST", "/api/mitra/status/heartbeat", tok, fmt.Sprintf("d%03d", i), nil)
	}
	require.Len(t, ts.devices(tok), availability.DefaultMaxDevices)
}

// presenceWatch is what the console and the beacon show of a mitra, read at once.
type presenceWatch struct {
	online, reachable         any
	onlineCount, availableCnt any
	beacon                    any
	updatedAt                 any
}

func (ts *testServer) watch(id uuid.UUID, mitraTok, clientTok string) presenceWatch {
	ts.t.Helper()
	st := ts.must(200, "GET", "/api/mitra/status", mitraTok, nil)
	d := ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)
	m := ts.must(200, "GET", "/api/internal/mitras/"+id.String(), ts.op, nil)
	b := ts.must(200, "GET", "/api/client/mitra-availability", clientTok, nil)
	return presenceWatch{online: st["online"], reachable: st["reachable"], onlineCount: d["online_count"],
		availableCnt: d["available_count"], beacon: b["available_count"], updatedAt: m["updated_at"]}
}

// requireStreaming waits until the mitra's device shows streaming (or not): the server
// learns that a client went away when its request ends.
func (ts *testServer) requireStreaming(tok, dev string, want bool) {
	ts.t.Helper()
	require.Eventually(ts.t, func() bool {
		streaming, ok := ts.devices(tok)[dev]
		return ok && streaming == want
	}, 10*time.Second, 10*time.Millisecond, "%s streaming %t", dev, want)
}

func TestPresence_AStreamIsALeaseAndAReconnectWithinTheGraceChangesNothing(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		id, tok := ts.newMitra("Ayu")
		_, clientTok := ts.newClient("Dewi")
		url := ts.http.URL + "/api/mitra/events"
		ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
		s := openStream(t, ts.http.Client(), url, tok, device("phone")...)
		s.requireEvent(t, 5*time.Second, `"online":true`)

		// No heartbeat for four minutes: the open stream holds the mitra.
		for range 24 {
			ts.clock.Advance(10 * time.Second)
			ts.autoOffline()
		}
		require.Equal(t, map[string]bool{"phone": true}, ts.devices(tok))
		before := ts.watch(id, tok, clientTok)
		require.Equal(t, presenceWatch{online: true, reachable: true, onlineCount: float64(1), availableCnt: float64(1),
			beacon: float64(1), updatedAt: before.updatedAt}, before)

		// The stream drops: reachable through the grace, then a reconnect.
		s.stop()
		ts.requireStreaming(tok, "phone", false)
		for range 3 {
			ts.clock.Advance(5 * time.Second)
			ts.autoOffline()
			require.Equal(t, before, ts.watch(id, tok, clientTok), "during the grace")
		}
		again := openStream(t, ts.http.Client(), url, tok, device("phone")...)
		again.requireEvent(t, 5*time.Second, `"online":true`)
		for range 6 { // past the first stream's grace, and on
			ts.clock.Advance(10 * time.Second)
			ts.autoOffline()
			require.Equal(t, before, ts.watch(id, tok, clientTok), "after the reconnect")
		}
		require.Equal(t, map[string]bool{"phone": true}, ts.devices(tok))

		// Dropped again, and past the grace: offline, without waiting for a sweep.
		again.stop()
		ts.requireStreaming(tok, "phone", false)
		ts.clock.Advance(availability.DefaultReconnectGrace)
		st := ts.must(200, "GET", "/api/mitra/status", tok, nil)
		require.Equal(t, false, st["online"])
		require.Equal(t, float64(0), ts.must(200, "GET", "/api/internal/dashboard", ts.op, nil)["online_count"])
		late := openStream(t, ts.http.Client(), url, tok, device("phone")...)
		late.requireEvent(t, 5*time.Second, `"online":false`)
	})
}

func TestPresence_DuringTheGraceTheMitraKeepsItsOffers(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		ts.tiers()
		_, tok := ts.newMitra("Ayu")
		ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
		s := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", tok, device("phone")...)
		ts.clock.Advance(2 * time.Minute) // the stream alone holds the mitra
		_, clientTok := ts.newClient("Dewi")
		start := ts.must(201, "POST", "/api/client/chat/start", clientTok, map[string]any{"minutes": 30})
		require.Equal(t, 200, ts.webhook(obj(start, "payment")["id"], "paid").Status)
		pairingID := obj(start, "pairing")["id"].(string)
		s.requireEvent(t, 5*time.Second, pairingID)

		s.stop() // the phone loses its network
		ts.requireStreaming(tok, "phone", false)
		ts.clock.Advance(availability.DefaultReconnectGrace / 2)
		offers := ts.must(200, "GET", "/api/mitra/pairing-offers", tok, nil)["offers"].([]any)
		require.Len(t, offers, 1, "the offer stays")
		ts.must(200, "POST", "/api/mitra/pairing-offers/"+pairingID+"/accept", tok, nil)
	})
}

func TestPresence_ADeviceThatSignedOffIsToldOnItsStreamAndStaysOff(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, realBackend)
	_, tok := ts.newMitra("Ayu")
	ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
	ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "tablet", nil)
	phone := openStream(t, ts.http.Client(), ts.http.URL+"/api/mitra/events", tok, device("phone")...)
	phone.requireEvent(t, 5*time.Second, `"online":true`)
	require.Equal(t, true, ts.must(200, "POST", "/api/mitra/status/offline", tok, map[string]any{"device_id": "phone"})["online"])
	ts.clock.Advance(20 * time.Second) // a refresh of the phone's stream
	phone.requireEvent(t, 5*time.Second, `{"device_id":"phone","online":false}`)
	require.Equal(t, map[string]bool{"tablet": false}, ts.devices(tok), "the stream, kept open, did not bring the phone back")
}

func TestMultiInstance_AStreamOnOneInstanceAndHeartbeatsOnAnotherAgree(t *testing.T) {
	t.Parallel()
	forFleets(t, func(t *testing.T, cluster bool) {
		f := newFleet(t, fleetOptions{Cluster: cluster, Configure: func(c *Config) { c.ReconnectGrace = time.Second }})
		_, tok := f.newMitra(0, "Ayu")
		ctx := context.Background()
		phone := []string{deviceHeader, "phone"}
		status := func(i int) map[string]any {
			r, err := f.node(i).call(ctx, "GET", "/api/mitra/status", tok, nil)
			require.NoError(t, err)
			require.Equal(t, 200, r.Status, "%s", r.Raw)
			return r.Body
		}
		// agree waits until every instance says the same: online, and the phone streaming or not.
		agree := func(online, streaming bool) {
			t.Helper()
			require.Eventually(t, func() bool {
				for i := range 3 {
					st := status(i)
					devs, _ := st["devices"].([]any)
					if st["online"] != online || len(devs) != 1 {
						return false
					}
					d := devs[0].(map[string]any)
					if d["device_id"] != "phone" || d["streaming"] != streaming {
						return false
					}
				}
				return true
			}, 10*time.Second, 20*time.Millisecond, "online %t, the phone streaming %t, on every instance", online, streaming)
		}
		r, err := f.node(2).call(ctx, "POST", "/api/mitra/status/online", tok, nil, phone...)
		require.NoError(t, err)
		require.Equal(t, 200, r.Status, "%s", r.Raw)

		// The phone streams on instance 0 and pings instance 1: one lease, seen alike.
		stream, err := http.NewRequestWithContext(ctx, "GET", f.node(0).srv.URL+"/api/mitra/events", nil)
		require.NoError(t, err)
		streamCtx, dropStream := context.WithCancel(ctx)
		stream = stream.WithContext(streamCtx)
		stream.Header.Set("Authorization", "Bearer "+tok)
		stream.Header.Set(deviceHeader, "phone")
		resp, err := f.node(0).srv.Client().Do(stream)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		t.Cleanup(func() { dropStream(); resp.Body.Close() })
		var wg sync.WaitGroup
		pinging, stopPings := context.WithCancel(ctx)
		t.Cleanup(stopPings)
		wg.Go(func() {
			for pinging.Err() == nil {
				_, _ = f.node(1).call(pinging, "POST", "/api/mitra/status/heartbeat", tok, nil, phone...)
				select {
				case <-pinging.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		})
		agree(true, true)

		// Pings stop: the stream alone holds the mitra, through three stale thresholds
		// (2 s each) of sweeps racing on every instance.
		stopPings()
		wg.Wait()
		for until := time.Now().Add(3 * f.cfg.HeartbeatStale); time.Now().Before(until); {
			for i := range 3 {
				require.Equal(t, true, status(i)["online"], "instance %d", i)
			}
		}
		agree(true, true)

		// The stream drops on instance 0: its grace ends there (1 s), and with no other
		// lease left the mitra goes offline on every instance.
		dropStream()
		resp.Body.Close()
		require.Eventually(t, func() bool {
			for i := range 3 {
				if status(i)["online"] != false {
					return false
				}
			}
			return true
		}, 10*time.Second, 20*time.Millisecond, "offline everywhere once the grace passed")
	})
}

// POST /api/mitra/status/offline (and online) sends the mitra's streams their presence
// event with the write. The test servers' clock is fake and never advanced here, so no
// refresh pass of the streams' leases runs: the event cannot come from one.
func TestPresence_GoingOfflineOrOnlineSendsThePresenceEventAtOnce(t *testing.T) {
	t.Parallel()
	bothBackends(t, func(t *testing.T, ts *testServer) {
		_, tok := ts.newMitra("Ayu")
		url := ts.http.URL + "/api/mitra/events"
		ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
		ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "tablet", nil)
		phone := openStream(t, ts.http.Client(), url, tok, device("phone")...)
		phone.requireEvent(t, 5*time.Second, `{"device_id":"phone","online":true}`)
		tablet := openStream(t, ts.http.Client(), url, tok, device("tablet")...)
		tablet.requireEvent(t, 5*time.Second, `{"device_id":"tablet","online":true}`)

		// The phone signs off: its stream is told, with the tablet holding the mitra.
		require.Equal(t, true, ts.must(200, "POST", "/api/mitra/status/offline", tok, map[string]any{"device_id": "phone"})["online"])
		phone.requireEvent(t, 2*time.Second, `{"device_id":"phone","online":false}`)

		// Every device's offline: the tablet's stream is told.
		require.Equal(t, false, ts.must(200, "POST", "/api/mitra/status/offline", tok, nil)["online"])
		tablet.requireEvent(t, 2*time.Second, `{"device_id":"tablet","online":false}`)

		// Online again from the phone: its stream is told.
		ts.deviceDo(200, "POST", "/api/mitra/status/online", tok, "phone", nil)
		phone.requireEvent(t, 2*time.Second, `{"device_id":"phone","online":true}`)
	})
}

// The mitra's stream is on one instance, its app goes offline through another: the
// stream's instance hears of it on the bus. The refresh passes run every 30 s here (a
// stale threshold of 90 s, a grace of 60 s), far after the event is due.
func TestMultiInstance_GoingOfflineOnOneInstanceReachesTheStreamOnAnother(t *testing.T) {
	t.Parallel()
	f := newFleet(t, fleetOptions{Instances: 2, Configure: func(c *Config) {
		c.HeartbeatStale, c.ReconnectGrace = 90*time.Second, time.Minute
	}})
	_, tok := f.newMitra(0, "Ayu")
	f.must(1, 200, "POST", "/api/mitra/status/online", tok, nil)
	s := openStream(t, f.node(0).srv.Client(), f.node(0).srv.URL+"/api/mitra/events", tok)
	s.requireEvent(t, 5*time.Second, `"online":true`)
	f.must(1, 200, "POST", "/api/mitra/status/offline", tok, nil)
	s.requireEvent(t, 3*time.Second, `"online":false`)
}
