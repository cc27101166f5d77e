package availability

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/lifecycle"
)

// Event streams as leases: an open stream of a device keeps that device's lease alive, so
// an app with its stream open needs no heartbeat. The Mirror refreshes the leases of the
// streams open on this instance, every stream of the instance in one pipeline per pass;
// when the last stream of a device closes, its lease is kept for ReconnectGrace: a
// reconnect within it (on any instance) changes nothing anybody sees, and past it the
// stream's lease ends (the mitra goes offline if it was the last).

// StreamParams describe the event stream of Mirror.OpenStream.
type StreamParams struct {
	MitraID uuid.UUID
	// Device is the stream's device ("": DefaultDevice).
	Device string
	// OnPresence, when set, is called with Stream.Online each time a refresh finds it
	// changed — the mitra was taken offline (auto-offline, another device, an operator),
	// or the device signed off, or it went online again — so that the host can tell the
	// app through its stream. A refresh is a pass of Start's (every StaleThreshold/3 or
	// half ReconnectGrace at most), or Mirror.RefreshStreams, which a host calls after a
	// change it made, so that the app hears of it at once. It runs on the refresher's
	// goroutine: it must not block.
	OnPresence func(online bool)
}

// Stream is an open event stream's hold on its device's lease. Close it when the stream
// ends.
type Stream struct {
	m          *Mirror
	key        streamKey
	onPresence func(bool)
	online     atomic.Bool
	closed     atomic.Bool
}

// Device is the stream's device id.
func (s *Stream) Device() string { return s.key.device }

// Online reports whether, at the stream's last lease write, the mitra was online with the
// stream's device holding a lease. It is false for a mitra that is offline (the app goes
// online to come back: a stream does not bring it), and for a device that signed off
// (EndDevice) while the mitra stays online on others, until the device sends a heartbeat
// or goes online again.
func (s *Stream) Online() bool { return s.online.Load() }

func (s *Stream) setOnline(online bool) {
	if s.online.Swap(online) != online && s.onPresence != nil && !s.closed.Load() {
		s.onPresence(online)
	}
}

// streamKey is one device of one mitra.
type streamKey struct {
	mitra  uuid.UUID
	device string
}

// grace is the pending end of a closed stream's lease; closedAt is the close it follows
// (zero until the close is written).
type grace struct {
	t        clock.Timer
	closedAt time.Time
}

// streamRegistry is the event streams open on this instance.
type streamRegistry struct {
	mu   sync.Mutex
	open map[streamKey]map[*Stream]struct{}
	// devices are the devices of each mitra in open: RefreshStreams finds a mitra's
	// streams without a scan of every stream of the instance.
	devices map[uuid.UUID]map[string]struct{}
	graces  map[streamKey]*grace
	refresh clock.Timer // the next refresh pass; nil before Start
	started bool
	stopped bool
	// inflight counts the refresh passes and grace ends running, for Stop.
	inflight *lifecycle.InFlight
}

func newStreamRegistry() streamRegistry {
	return streamRegistry{open: map[streamKey]map[*Stream]struct{}{}, devices: map[uuid.UUID]map[string]struct{}{},
		graces: map[streamKey]*grace{}, inflight: lifecycle.NewInFlight()}
}

// grace is the reconnect grace in effect: a stream's lease lasts the stale threshold at
// most, whatever the grace.
func (m *Mirror) grace() time.Duration { return min(m.cfg.ReconnectGrace, m.cfg.StaleThreshold) }

// streamRefreshEvery is the cadence of the refresh passes: well within the stale
// threshold, and twice per grace, so that a stream reconnected on another instance has
// refreshed its device's lease before the grace of the closed one ends.
func (m *Mirror) streamRefreshEvery() time.Duration {
	return max(min(m.grace()/2, m.cfg.StaleThreshold/3), 10*time.Millisecond)
}

// OpenStream records that an event stream of the mitra's device is open on this instance,
// and refreshes the device's lease now (one Valkey round trip). While it is open, the
// refresh passes of Start keep the lease alive; Close ends the hold. A deactivated mitra
// gets ErrDeactivated; an invalid device id a *ValidationError.
func (m *Mirror) OpenStream(ctx context.Context, p StreamParams) (*Stream, error) {
	device := cmp.Or(p.Device, DefaultDevice)
	if err := ValidateDeviceID(device); err != nil {
		return nil, err
	}
	s := &Stream{m: m, key: streamKey{mitra: p.MitraID, device: device}, onPresence: p.OnPresence}
	r := &m.streams
	r.mu.Lock()
	set := r.open[s.key]
	if set == nil {
		set = map[*Stream]struct{}{}
		r.open[s.key] = set
		devs := r.devices[s.key.mitra]
		if devs == nil {
			devs = map[string]struct{}{}
			r.devices[s.key.mitra] = devs
		}
		devs[s.key.device] = struct{}{}
	}
	set[s] = struct{}{}
	if g := r.graces[s.key]; g != nil { // a reconnect on this instance
		g.t.Stop()
		delete(r.graces, s.key)
	}
	r.mu.Unlock()
	res, err := m.writeStreams(ctx, []StreamWrite{{MitraID: p.MitraID, Device: device}}, false)
	if err == nil && res[0].Deactivated {
		err = ErrDeactivated
	}
	if err != nil {
		m.forget(s)
		return nil, err
	}
	s.online.Store(res[0].Online)
	return s, nil
}

// forget removes s from the registry; it reports whether s was its device's last stream
// on this instance.
func (m *Mirror) forget(s *Stream) bool {
	r := &m.streams
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.open[s.key]
	if _, ok := set[s]; !ok {
		return false
	}
	delete(set, s)
	if len(set) > 0 {
		return false
	}
	delete(r.open, s.key)
	if devs := r.devices[s.key.mitra]; devs != nil {
		delete(devs, s.key.device)
		if len(devs) == 0 {
			delete(r.devices, s.key.mitra)
		}
	}
	return true
}

// Close ends the stream's hold on its device's lease. When it was the device's last
// stream on this instance, the lease is marked closed and kept for the reconnect grace
// (one Valkey round trip): a stream of the device that opens within it, on any instance,
// carries on as if nothing happened; past it the stream's lease ends, and the mitra goes
// offline if that was its last lease. If this instance stops before the grace ends (or
// Valkey cannot be written), the lease lasts until it goes stale instead. Close is
// idempotent.
func (s *Stream) Close() {
	if s.closed.Swap(true) {
		return
	}
	m := s.m
	if !m.forget(s) || m.cache == nil || m.skippingValkey() {
		return
	}
	// The grace's timer is set before the close is written: whoever sees the close sees
	// the grace running. It ends nothing until the write tells which close it follows.
	r := &m.streams
	g := &grace{}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		g = nil
	} else {
		if old := r.graces[s.key]; old != nil {
			old.t.Stop()
		}
		r.graces[s.key] = g
		key := s.key
		g.t = m.cfg.Clock.AfterFunc(m.grace(), func() { m.endGrace(key, g) })
		r.mu.Unlock()
	}
	ctx, cancel := m.valkeyCtx(context.Background())
	defer cancel()
	res, err := m.cache.Streams(ctx, StreamsParams{Writes: []StreamWrite{{MitraID: s.key.mitra, Device: s.key.device, Closed: true}},
		At: m.now(), MaxDevices: m.cfg.MaxDevices})
	m.noteValkeyError(context.Background(), err)
	written := err == nil && res[0].Online
	r.mu.Lock()
	reopened := r.open[s.key] != nil
	if g != nil {
		switch {
		case written && !reopened:
			g.closedAt = res[0].ClosedAt
		case r.graces[s.key] == g: // nothing to keep, or a stream reopened: no grace
			g.t.Stop()
			delete(r.graces, s.key)
		}
	}
	r.mu.Unlock()
	if reopened { // a stream of the device opened meanwhile; its write may have come first
		m.refreshLocal(ctx, s.key)
	}
}

// endGrace ends the lease of a closed stream whose grace passed, unless a stream of its
// device refreshed it since (a reconnect, here or elsewhere).
func (m *Mirror) endGrace(key streamKey, g *grace) {
	r := &m.streams
	r.mu.Lock()
	if r.graces[key] != g {
		r.mu.Unlock()
		return
	}
	delete(r.graces, key)
	closedAt := g.closedAt
	if r.stopped || r.open[key] != nil || closedAt.IsZero() {
		r.mu.Unlock()
		return
	}
	r.inflight.Add()
	r.mu.Unlock()
	defer r.inflight.Done()

	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	var end DeviceEnd
	err := m.callValkey(ctx, func(ctx context.Context) error {
		var err error
		end, err = m.cache.EndDevice(ctx, EndDeviceParams{MitraID: key.mitra, Device: key.device,
			StreamClosedAt: &closedAt, FreshAfter: m.freshAfter(), MaxDevices: m.cfg.MaxDevices})
		return err
	})
	if err != nil {
		m.log.Debug("end of a stream's reconnect grace: valkey failed; the lease lasts until it goes stale",
			"mitra", key.mitra, "device", key.device, "err", err)
		return
	}
	if !end.Last {
		if end.Online && !end.Reconnected {
			m.heartbeatMovedBack(ctx, key.mitra, end.Heartbeat)
		}
		return
	}
	if err := m.SetOffline(ctx, key.mitra); err != nil {
		m.log.Warn("end of a stream's reconnect grace: set the mitra offline", "mitra", key.mitra, "err", err)
		return
	}
	m.log.Info("mitra offline: its last lease, an event stream's, ended with its reconnect grace",
		"mitra", key.mitra, "device", key.device)
}

// refreshLocal refreshes the lease of the streams of one device open on this instance.
func (m *Mirror) refreshLocal(ctx context.Context, key streamKey) {
	r := &m.streams
	r.mu.Lock()
	streams := make([]*Stream, 0, len(r.open[key]))
	for s := range r.open[key] {
		streams = append(streams, s)
	}
	r.mu.Unlock()
	if len(streams) == 0 {
		return
	}
	res, err := m.writeStreams(ctx, []StreamWrite{{MitraID: key.mitra, Device: key.device}}, false)
	if err != nil {
		return
	}
	for _, s := range streams {
		s.setOnline(res[0].Online)
	}
}

// RefreshStreams refreshes now, as a refresh pass would, the leases of the mitra's event
// streams open on this instance, every device's: a stream whose Online changed — the
// mitra went offline or online, a device signed off — reports it through OnPresence now
// rather than at the next pass. Call it after such a change on every instance (the change
// happened on one, the mitra's streams may be on others: the reference server sends the
// mitra's id on its bus). It costs nothing when no stream of the mitra is open here, one
// Valkey round trip otherwise (Postgres when Valkey fails, as a pass does).
func (m *Mirror) RefreshStreams(ctx context.Context, mitraID uuid.UUID) error {
	r := &m.streams
	r.mu.Lock()
	if r.stopped || len(r.devices[mitraID]) == 0 {
		r.mu.Unlock()
		return nil
	}
	var writes []StreamWrite
	var streams [][]*Stream
	for device := range r.devices[mitraID] {
		set := r.open[streamKey{mitra: mitraID, device: device}]
		ss := make([]*Stream, 0, len(set))
		for s := range set {
			ss = append(ss, s)
		}
		writes = append(writes, StreamWrite{MitraID: mitraID, Device: device})
		streams = append(streams, ss)
	}
	r.inflight.Add()
	r.mu.Unlock()
	defer r.inflight.Done()
	res, err := m.writeStreams(ctx, writes, false)
	if err != nil {
		return fmt.Errorf("refresh the event streams of mitra %s: %w", mitraID, err)
	}
	for i, ss := range streams {
		for _, s := range ss {
			s.setOnline(res[i].Online)
		}
	}
	return nil
}

// startStreams starts the refresh passes.
func (m *Mirror) startStreams() {
	r := &m.streams
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return
	}
	r.started = true
	r.refresh = m.cfg.Clock.AfterFunc(m.streamRefreshEvery(), m.refreshStreams)
}

// stopStreams ends the refresh passes and the pending grace ends (those leases last until
// they go stale), and waits for the ones running.
func (m *Mirror) stopStreams(ctx context.Context) error {
	r := &m.streams
	r.mu.Lock()
	r.stopped = true
	if r.refresh != nil {
		r.refresh.Stop()
	}
	for key, g := range r.graces {
		g.t.Stop()
		delete(r.graces, key)
	}
	r.mu.Unlock()
	return r.inflight.Drain(ctx)
}

// refreshStreams is one refresh pass: the lease of every stream open on this instance, in
// pipelines of ChunkSize writes, then the next pass is scheduled.
func (m *Mirror) refreshStreams() {
	r := &m.streams
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.inflight.Add()
	keys := make([]streamKey, 0, len(r.open))
	streams := make([][]*Stream, 0, len(r.open))
	for key, set := range r.open {
		keys = append(keys, key)
		ss := make([]*Stream, 0, len(set))
		for s := range set {
			ss = append(ss, s)
		}
		streams = append(streams, ss)
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if !r.stopped {
			r.refresh = m.cfg.Clock.AfterFunc(m.streamRefreshEvery(), m.refreshStreams)
		}
		r.mu.Unlock()
		r.inflight.Done()
	}()
	if len(keys) == 0 {
		return
	}
	writes := make([]StreamWrite, len(keys))
	for i, k := range keys {
		writes[i] = StreamWrite{MitraID: k.mitra, Device: k.device}
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ValkeyBulkTimeout)
	res, err := m.writeStreams(ctx, writes, true)
	cancel()
	if err != nil {
		m.log.Warn("refresh of the event streams' leases failed; they last until they go stale", "streams", len(keys), "err", err)
		return
	}
	for i, ss := range streams {
		for _, s := range ss {
			s.setOnline(res[i].Online)
		}
	}
}

// writeStreams writes stream leases to Valkey, or, when Valkey fails or is absent, moves
// the mitras' heartbeats forward in Postgres (one statement; the devices ignored) and reads
// whether they are online (another).
func (m *Mirror) writeStreams(ctx context.Context, writes []StreamWrite, bulk bool) ([]StreamResult, error) {
	at := m.now()
	if m.cache != nil && !m.skippingValkey() {
		// ValkeyTimeout per round trip (a pass sends DefaultChunkSize writes per round
		// trip): a Valkey that hangs costs the pass that much, then Postgres answers.
		bound := m.cfg.ValkeyTimeout
		if bulk {
			bound = min(bound*time.Duration(1+len(writes)/DefaultChunkSize), m.cfg.ValkeyBulkTimeout)
		}
		vctx, cancel := context.WithTimeout(ctx, bound)
		res, err := m.cache.Streams(vctx, StreamsParams{Writes: writes, At: at, MaxDevices: m.cfg.MaxDevices})
		cancel()
		m.noteValkeyError(ctx, err)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.fallback("streams", err)
	}
	out := make([]StreamResult, len(writes))
	var hbs []HeartbeatAt
	var ids []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, w := range writes {
		if !w.Closed && !seen[w.MitraID] {
			seen[w.MitraID] = true
			hbs = append(hbs, HeartbeatAt{MitraID: w.MitraID, At: at})
			ids = append(ids, w.MitraID)
		}
	}
	if len(hbs) == 0 {
		return out, nil
	}
	if _, err := m.store.MirrorHeartbeats(ctx, hbs); err != nil {
		return nil, err
	}
	states, err := m.store.States(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]MitraState, len(states))
	for _, st := range states {
		byID[st.ID] = st
	}
	for i, w := range writes {
		if st, ok := byID[w.MitraID]; ok && !w.Closed {
			out[i] = StreamResult{Online: st.IsActive && st.IsOnline, Deactivated: !st.IsActive}
		}
	}
	return out, nil
}
