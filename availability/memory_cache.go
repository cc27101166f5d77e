package availability

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ErrMemoryCacheDown is returned by every call of a MemoryCache set down (SetDown), like a Valkey outage.
var ErrMemoryCacheDown = errors.New("availability: the in-memory cache is down")

// MemoryCache is an in-memory Cache with the same keys and rules as the Valkey one:
// a seed marker (reads answer ErrNotSeeded without it), online/deactivated/at-capacity
// sets, heartbeats only for online mitras and never moved back, a heartbeat index, device
// leases (bounded per mitra, kept alive by streams, ended by a device or a grace), the
// sync journal and a beacon snapshot with a TTL. SetDown and Flush simulate an outage and
// a data loss.
//
// Unlike a fresh Valkey, a new MemoryCache is seeded: see NewMemoryCache.
type MemoryCache struct {
	mu sync.Mutex

	down   bool
	runID  string
	marker *markerValue

	online, deactivated, atCapacity map[uuid.UUID]bool
	heartbeats                      map[uuid.UUID]time.Time
	index                           map[uuid.UUID]int64
	capacity                        map[uuid.UUID]int
	journal                         map[uuid.UUID]time.Time
	devices                         map[uuid.UUID]map[string]*lease

	snapshot        *Snapshot
	snapshotExpires time.Time
}

// lease is one device's lease, as mitra:devices:<id> holds it.
type lease struct {
	heartbeat, stream time.Time // zero: none
	open              bool
}

// signedOff: the empty lease of a device that signed off while its mitra stays online.
func (l *lease) signedOff() bool { return l.heartbeat.IsZero() && l.stream.IsZero() }

func (l *lease) at() time.Time {
	if l.stream.After(l.heartbeat) {
		return l.stream
	}
	return l.heartbeat
}

type markerValue struct {
	at time.Time
	// defaultMax is the default capacity the at-capacity set was built with (0: none yet,
	// for a cache seeded empty).
	defaultMax  int
	recoveredAt *time.Time
}

// NewMemoryCache returns an empty MemoryCache that mirrors an empty MemoryStore: it holds a seed marker, so a
// Mirror over it serves reads from it at once, with no SeedFromPostgres and no fallback to
// the MemoryStore. A host that puts mitras into its MemoryStore before building the Mirror must call
// Mirror.SeedFromPostgres, as with Valkey: until then the MemoryCache knows none of them.
//
// For the state of a fresh or emptied Valkey — no seed marker, every read answering
// ErrNotSeeded and the Mirror falling back to the MemoryStore until a seed — call
// Flush on the new MemoryCache.
func NewMemoryCache() *MemoryCache {
	c := &MemoryCache{runID: uuid.NewString()}
	c.clear()
	c.marker = &markerValue{at: atMillis(time.Now())}
	return c
}

var _ Cache = (*MemoryCache)(nil)

func (c *MemoryCache) clear() {
	c.marker = nil
	c.online, c.deactivated, c.atCapacity = map[uuid.UUID]bool{}, map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
	c.heartbeats = map[uuid.UUID]time.Time{}
	c.index = map[uuid.UUID]int64{}
	c.capacity = map[uuid.UUID]int{}
	c.journal = map[uuid.UUID]time.Time{}
	c.devices = map[uuid.UUID]map[string]*lease{}
	c.snapshot = nil
}

// SetDown makes every call fail with ErrMemoryCacheDown (true) or work again (false); the data is
// kept, like a network outage.
func (c *MemoryCache) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// Flush loses every key, seed marker included, like FLUSHALL.
func (c *MemoryCache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
}

// Restart loses every key and changes the run id, like a restart without persistence.
func (c *MemoryCache) Restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	c.runID = uuid.NewString()
}

// lock takes the lock and reports a down cache or an expired context.
func (c *MemoryCache) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.down {
		c.mu.Unlock()
		return ErrMemoryCacheDown
	}
	return nil
}

func (c *MemoryCache) lockSeeded(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	if c.marker == nil {
		c.mu.Unlock()
		return ErrNotSeeded
	}
	return nil
}

// atMillis is t at the millisecond precision Valkey keeps.
func atMillis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func (c *MemoryCache) Probe(ctx context.Context) (Probe, error) {
	if err := c.lock(ctx); err != nil {
		return Probe{}, err
	}
	defer c.mu.Unlock()
	p := Probe{RunID: c.runID}
	if c.marker != nil {
		p.Seeded, p.SeededAt, p.DefaultMax = true, c.marker.at, c.marker.defaultMax
		if r := c.marker.recoveredAt; r != nil {
			at := *r
			p.RecoveredAt = &at
		}
	}
	return p, nil
}

func (c *MemoryCache) Heartbeat(ctx context.Context, p HeartbeatParams) (bool, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return false, err
	}
	defer c.mu.Unlock()
	id := p.MitraID
	if c.deactivated[id] {
		return false, ErrDeactivated
	}
	if !c.online[id] {
		return false, nil
	}
	at := atMillis(p.At)
	c.ping(id, at)
	ls := c.devices[id]
	if ls == nil {
		ls = map[string]*lease{}
		c.devices[id] = ls
	}
	switch l := ls[p.Device]; {
	case l == nil:
		ls[p.Device] = &lease{heartbeat: at}
		evict(ls, p.Device, p.MaxDevices)
	case l.heartbeat.Before(at):
		l.heartbeat = at
	}
	return true, nil
}

// ping moves an online mitra's heartbeat and index forward to at; c.mu is held.
func (c *MemoryCache) ping(id uuid.UUID, at time.Time) {
	if cur, ok := c.heartbeats[id]; !ok || cur.Before(at) {
		c.heartbeats[id] = at
	}
	if cur, ok := c.index[id]; !ok || cur < at.UnixMilli() {
		c.index[id] = at.UnixMilli()
	}
}

// named counts the leases of named devices: the unnamed lease a seed gives is kept aside
// (in Valkey, in a hash shared by every mitra) and counts for no bound.
func named(ls map[string]*lease) int {
	if _, ok := ls[UnnamedDevice]; ok {
		return len(ls) - 1
	}
	return len(ls)
}

// evict drops the leases of named devices that end first (open streams' last) until
// limit are left (DefaultMaxDevices when limit is 0), never keep's.
func evict(ls map[string]*lease, keep string, limit int) {
	if limit <= 0 {
		limit = DefaultMaxDevices
	}
	n := named(ls)
	if n <= limit {
		return
	}
	type cand struct {
		device string
		open   bool
		at     time.Time
	}
	var cs []cand
	for device, l := range ls {
		if device != keep && device != UnnamedDevice {
			cs = append(cs, cand{device, l.open, l.at()})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.open != b.open {
			if a.open {
				return 1
			}
			return -1
		}
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.device, b.device))
	})
	for _, x := range cs[:n-limit] {
		delete(ls, x.device)
	}
}

func (c *MemoryCache) Streams(ctx context.Context, p StreamsParams) ([]StreamResult, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	at := atMillis(p.At)
	out := make([]StreamResult, len(p.Writes))
	for i, w := range p.Writes {
		id := w.MitraID
		if !c.online[id] {
			out[i].Deactivated = c.deactivated[id]
			continue
		}
		ls := c.devices[id]
		if ls == nil {
			ls = map[string]*lease{}
			c.devices[id] = ls
		}
		l := ls[w.Device]
		if (l == nil && w.Closed) || (l != nil && l.signedOff()) {
			continue
		}
		if l == nil {
			l = &lease{}
			ls[w.Device] = l
			defer evict(ls, w.Device, p.MaxDevices)
		}
		c.ping(id, at)
		if l.stream.Before(at) {
			l.stream = at
		}
		l.open = !w.Closed
		out[i].Online = true
		if w.Closed {
			out[i].ClosedAt = l.stream
		}
	}
	return out, nil
}

func (c *MemoryCache) EndDevice(ctx context.Context, p EndDeviceParams) (DeviceEnd, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return DeviceEnd{}, err
	}
	defer c.mu.Unlock()
	id := p.MitraID
	cur, online := c.index[id]
	if !online {
		return DeviceEnd{}, nil
	}
	ls := c.devices[id]
	l := ls[p.Device]
	if p.StreamClosedAt != nil && (l == nil || l.open || !l.stream.Equal(atMillis(*p.StreamClosedAt))) {
		return DeviceEnd{Online: true, Reconnected: true}, nil
	}
	var before, after int64
	for device, x := range ls {
		at := msOf(x.at())
		before = max(before, at)
		if device != p.Device {
			after = max(after, at)
		}
	}
	fresh := msOf(atMillis(p.FreshAfter))
	limit := p.MaxDevices
	if limit <= 0 {
		limit = DefaultMaxDevices
	}
	switch {
	case p.Device == UnnamedDevice:
		delete(ls, p.Device) // named only here: it is no device that could sign in again
	case p.StreamClosedAt == nil && (l != nil || named(ls) < limit):
		if ls == nil {
			ls = map[string]*lease{}
			c.devices[id] = ls
		}
		ls[p.Device] = &lease{} // signed off: its stream does not bring it back
	}
	if l != nil && p.Device != UnnamedDevice {
		switch {
		case p.StreamClosedAt == nil:
		case msOf(l.heartbeat) < fresh:
			delete(ls, p.Device)
		default:
			l.stream, l.open = time.Time{}, false
			after = max(after, msOf(l.heartbeat))
		}
	}
	if cur > before { // a heartbeat no lease explains: some device's, unnamed
		after = cur
	}
	if after < fresh || after == 0 {
		return DeviceEnd{Online: true, Last: true}, nil
	}
	if after < cur {
		c.index[id] = after
		c.heartbeats[id] = time.UnixMilli(after).UTC()
	}
	return DeviceEnd{Online: true, Heartbeat: time.UnixMilli(after).UTC()}, nil
}

// msOf is t in unix milliseconds, 0 for the zero time.
func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (c *MemoryCache) Devices(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]DeviceLease, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	out := map[uuid.UUID][]DeviceLease{}
	for _, id := range ids {
		if ls := c.leases(id); len(ls) > 0 {
			out[id] = ls
		}
	}
	return out, nil
}

// leases copies a mitra's device leases; c.mu is held.
func (c *MemoryCache) leases(id uuid.UUID) []DeviceLease {
	var out []DeviceLease
	for device, l := range c.devices[id] {
		out = append(out, DeviceLease{Device: device, Heartbeat: l.heartbeat, Stream: l.stream, StreamOpen: l.open})
	}
	return out
}

// applyOne writes one mitra's mirror; c.mu is held.
func (c *MemoryCache) applyOne(st MitraState, defaultMax int) {
	id := st.ID
	switch {
	case !st.IsActive:
		c.deactivated[id] = true
		c.dropOnline(id)
	case st.IsOnline:
		delete(c.deactivated, id)
		c.online[id] = true
		c.moveHeartbeat(id, st.LastHeartbeatAt)
		score := int64(0)
		if hb, ok := c.heartbeats[id]; ok {
			score = hb.UnixMilli()
		}
		if cur, ok := c.index[id]; !ok || cur < score {
			c.index[id] = score
		}
	default:
		delete(c.deactivated, id)
		c.dropOnline(id)
	}
	c.capacity[id] = st.OpenSessions
	if st.AtCapacity(defaultMax) {
		c.atCapacity[id] = true
	} else {
		delete(c.atCapacity, id)
	}
}

func (c *MemoryCache) dropOnline(id uuid.UUID) {
	delete(c.online, id)
	delete(c.index, id)
	delete(c.heartbeats, id)
	delete(c.devices, id)
}

// moveHeartbeat sets the heartbeat to pg when that is later than what is held.
func (c *MemoryCache) moveHeartbeat(id uuid.UUID, pg *time.Time) {
	if pg == nil {
		return
	}
	at := atMillis(*pg)
	if cur, ok := c.heartbeats[id]; !ok || cur.Before(at) {
		c.heartbeats[id] = at
	}
}

func (c *MemoryCache) Apply(ctx context.Context, p ApplyParams) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if c.marker != nil && c.marker.defaultMax == 0 {
		// Seeded empty: the first write fixes the default capacity the at-capacity set
		// follows, so that the watchdog reseeds when it changes, as after a real seed.
		c.marker.defaultMax = p.DefaultMax
	}
	for _, st := range p.States {
		c.applyOne(st, p.DefaultMax)
		c.journal[st.ID] = atMillis(p.At)
	}
	for id, at := range c.journal {
		if at.Before(p.At.Add(-journalRetention)) {
			delete(c.journal, id)
		}
	}
	return nil
}

func (c *MemoryCache) Replace(ctx context.Context, seed SeedData) ([]uuid.UUID, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	online, deactivated, atCapacity := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
	index := map[uuid.UUID]int64{}
	for _, st := range seed.States {
		id := st.ID
		if !st.IsActive {
			deactivated[id] = true
		}
		if st.IsActive && st.IsOnline {
			online[id] = true
			if hb, ok := c.heartbeats[id]; st.LastHeartbeatAt != nil && (!ok || hb.Before(atMillis(*st.LastHeartbeatAt))) {
				// A ping only Postgres saw: some device's, unnamed.
				if c.devices[id] == nil {
					c.devices[id] = map[string]*lease{}
				}
				c.devices[id][UnnamedDevice] = &lease{heartbeat: atMillis(*st.LastHeartbeatAt)}
			}
			c.moveHeartbeat(id, st.LastHeartbeatAt)
			index[id] = 0
			if hb, ok := c.heartbeats[id]; ok {
				index[id] = hb.UnixMilli()
			}
		} else {
			delete(c.heartbeats, id)
			delete(c.devices, id)
		}
		if st.AtCapacity(seed.DefaultMax) {
			atCapacity[id] = true
		}
		c.capacity[id] = st.OpenSessions
	}
	c.online, c.deactivated, c.atCapacity, c.index = online, deactivated, atCapacity, index
	recovered := &seed.At // the data was lost (or never seeded)
	if c.marker != nil {
		recovered = c.marker.recoveredAt
	}
	c.marker = &markerValue{at: seed.At, defaultMax: seed.DefaultMax, recoveredAt: recovered}
	c.snapshot = nil
	var changed []uuid.UUID
	for id, at := range c.journal {
		if !at.Before(atMillis(seed.Started)) {
			changed = append(changed, id)
		}
	}
	return changed, nil
}

func (c *MemoryCache) IsReachable(ctx context.Context, id uuid.UUID, freshAfter time.Time) (bool, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return false, err
	}
	defer c.mu.Unlock()
	hb, ok := c.heartbeats[id]
	return ok && c.online[id] && !c.deactivated[id] && !hb.Before(atMillis(freshAfter)), nil
}

// available lists the fresh, available members of the index, freshest first; c.mu is held.
func (c *MemoryCache) available(freshAfter time.Time) []uuid.UUID {
	cutoff := atMillis(freshAfter).UnixMilli()
	var out []uuid.UUID
	for id, score := range c.index {
		if score >= cutoff && !c.deactivated[id] && !c.atCapacity[id] {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int {
		return cmp.Or(cmp.Compare(c.index[b], c.index[a]), cmp.Compare(b.String(), a.String()))
	})
	return out
}

func (c *MemoryCache) FindAvailable(ctx context.Context, q AvailableQuery) ([]uuid.UUID, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var out []uuid.UUID
	for _, id := range c.available(q.FreshAfter) {
		if slices.Contains(q.Exclude, id) {
			continue
		}
		out = append(out, id)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (c *MemoryCache) CountAvailable(ctx context.Context, freshAfter time.Time) (int, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return 0, err
	}
	defer c.mu.Unlock()
	return len(c.available(freshAfter)), nil
}

func (c *MemoryCache) OnlineCount(ctx context.Context) (int, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return 0, err
	}
	defer c.mu.Unlock()
	return len(c.online), nil
}

func (c *MemoryCache) Snapshot(ctx context.Context) (Snapshot, bool, error) {
	if err := c.lock(ctx); err != nil {
		return Snapshot{}, false, err
	}
	defer c.mu.Unlock()
	if c.snapshot == nil || !time.Now().Before(c.snapshotExpires) {
		return Snapshot{}, false, nil
	}
	return *c.snapshot, true, nil
}

func (c *MemoryCache) StoreSnapshot(ctx context.Context, s Snapshot, ttl time.Duration) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	s.AsOf = atMillis(s.AsOf)
	c.snapshot = &s
	c.snapshotExpires = time.Now().Add(ttl)
	return nil
}

func (c *MemoryCache) StaleOnline(ctx context.Context, staleBefore time.Time) ([]uuid.UUID, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	cutoff := atMillis(staleBefore).UnixMilli()
	var out []uuid.UUID
	for id, score := range c.index {
		if score < cutoff {
			out = append(out, id)
		}
	}
	return out, nil
}

func (c *MemoryCache) Offline(ctx context.Context, p OfflineParams) (revived, failed []uuid.UUID, err error) {
	if err := c.lock(ctx); err != nil {
		return nil, p.IDs, err
	}
	defer c.mu.Unlock()
	fresh := atMillis(p.StaleBefore)
	for _, id := range p.IDs {
		if hb, ok := c.heartbeats[id]; ok && !hb.Before(fresh) {
			revived = append(revived, id)
			continue
		}
		c.dropOnline(id)
		c.journal[id] = atMillis(p.At)
	}
	return revived, nil, nil
}

func (c *MemoryCache) Heartbeats(ctx context.Context) ([]HeartbeatAt, error) {
	if err := c.lockSeeded(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	out := make([]HeartbeatAt, 0, len(c.index))
	for id, score := range c.index {
		if score > 0 {
			out = append(out, HeartbeatAt{MitraID: id, At: time.UnixMilli(score).UTC()})
		}
	}
	return out, nil
}

func (c *MemoryCache) Dump(ctx context.Context, ids []uuid.UUID) (Dump, error) {
	if err := c.lock(ctx); err != nil {
		return Dump{}, err
	}
	defer c.mu.Unlock()
	d := Dump{
		Seeded: c.marker != nil,
		Online: copyMap(c.online), Deactivated: copyMap(c.deactivated), AtCapacity: copyMap(c.atCapacity),
		Index: copyMap(c.index), Available: map[uuid.UUID]int64{},
		Heartbeats: copyMap(c.heartbeats), Capacity: copyMap(c.capacity),
		Devices: map[uuid.UUID][]DeviceLease{},
	}
	for id := range c.devices {
		if ls := c.leases(id); len(ls) > 0 {
			d.Devices[id] = ls
		}
	}
	// The available index is derived in place here, as Valkey keeps it.
	for id, score := range c.index {
		if !c.atCapacity[id] && !c.deactivated[id] {
			d.Available[id] = score
		}
	}
	return d, nil
}

func copyMap[V any](m map[uuid.UUID]V) map[uuid.UUID]V {
	out := make(map[uuid.UUID]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
