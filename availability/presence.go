package availability

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The devices of a mitra (see the package documentation, "Devices"): each device holds
// its own lease, created by a heartbeat or by going online from it, kept alive by its
// heartbeats and its open event streams, ended when it signs off, when its stream's
// reconnect grace passes, or when it goes stale.

// HeartbeatDevice records a ping from one device of the mitra: Heartbeat, with the
// device's own lease moved forward too. It is one Valkey round trip and no Postgres
// query; a device id that ValidateDeviceID refuses is a *ValidationError. When Valkey
// fails the ping goes to Postgres as Heartbeat's does, the device ignored.
func (m *Mirror) HeartbeatDevice(ctx context.Context, id uuid.UUID, device string) (bool, error) {
	if err := ValidateDeviceID(device); err != nil {
		return false, err
	}
	at := m.now()
	if m.cache != nil {
		// callValkey, inlined: the hot path allocates no closure.
		err := errSkipped
		var online bool
		if !m.skippingValkey() {
			vctx, cancel := m.valkeyCtx(ctx)
			online, err = m.cache.Heartbeat(vctx, HeartbeatParams{MitraID: id, Device: device, At: at, MaxDevices: m.cfg.MaxDevices})
			cancel()
			m.noteValkeyError(ctx, err)
		}
		switch {
		case err == nil:
			return online, nil
		case errors.Is(err, ErrDeactivated):
			return false, ErrDeactivated
		case ctx.Err() != nil:
			return false, ctx.Err()
		}
		m.fallback("heartbeat", err)
	}
	online, err := m.store.Heartbeat(ctx, id, at)
	if err != nil {
		return false, fmt.Errorf("heartbeat of mitra %s: %w", id, err)
	}
	return online, nil
}

// SetOnlineDevice is SetOnline from one device: the mitra goes online (Postgres first),
// then the device gets its lease, and the device's event streams open on this instance
// start holding it at once (those on other instances at their next refresh).
func (m *Mirror) SetOnlineDevice(ctx context.Context, id uuid.UUID, device string) error {
	if err := ValidateDeviceID(device); err != nil {
		return err
	}
	at := m.now()
	if _, err := m.store.SetOnline(ctx, id, at); err != nil {
		return fmt.Errorf("set mitra %s online: %w", id, err)
	}
	m.afterCommit(ctx, "set_online", id)
	if m.cache == nil || m.skippingValkey() {
		return nil // no leases without Valkey (the seed that follows an outage keeps the mitra's heartbeat)
	}
	ctx = context.WithoutCancel(ctx) // the mitra is online: its lease must follow
	vctx, cancel := m.valkeyCtx(ctx)
	_, err := m.cache.Heartbeat(vctx, HeartbeatParams{MitraID: id, Device: device, At: at, MaxDevices: m.cfg.MaxDevices})
	cancel()
	m.noteValkeyError(ctx, err)
	if err != nil {
		m.log.Warn("valkey: the lease of a device going online was not written; the mitra's heartbeat holds it until it goes stale",
			"mitra", id, "device", device, "err", err)
		return nil
	}
	m.refreshLocal(ctx, streamKey{mitra: id, device: device})
	return nil
}

// EndDevice ends one device's lease: the device signed off. The mitra stays online while
// another lease is fresh — its heartbeat becomes the freshest lease left, so it stops
// being reachable when that one goes stale, and the auto-offline sweep takes it offline —
// and goes offline now (Postgres first) when no live lease is left: this was the last, or
// the others are stale. It reports whether the mitra is still online. The device keeps an
// empty lease while the mitra stays online, so that its event stream, if left open, does
// not bring it back; its next heartbeat, or going online, does.
//
// When the mirror cannot tell which leases are left — Valkey down or unseeded, or no
// Valkey at all — it is the seed's offline (the device ignored): the other devices learn
// it at their next heartbeat, as from any offline, and come back with SetOnline.
func (m *Mirror) EndDevice(ctx context.Context, id uuid.UUID, device string) (bool, error) {
	if err := ValidateDeviceID(device); err != nil {
		return false, err
	}
	if m.cache != nil {
		var end DeviceEnd
		err := m.callValkey(ctx, func(ctx context.Context) error {
			var err error
			end, err = m.cache.EndDevice(ctx, EndDeviceParams{MitraID: id, Device: device,
				FreshAfter: m.freshAfter(), MaxDevices: m.cfg.MaxDevices})
			return err
		})
		switch {
		case err == nil && end.Online && !end.Last:
			m.heartbeatMovedBack(ctx, id, end.Heartbeat)
			return true, nil
		case err != nil && ctx.Err() != nil:
			return false, ctx.Err()
		case err != nil:
			m.fallback("end_device", err)
		}
	}
	if err := m.SetOffline(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// Devices returns the devices holding a live lease of the mitra (fresh within the stale
// threshold), most recently seen first. One Valkey round trip; none when Valkey cannot
// answer (Postgres knows no devices).
func (m *Mirror) Devices(ctx context.Context, id uuid.UUID) ([]Device, error) {
	all, err := m.DevicesOf(ctx, []uuid.UUID{id})
	return all[id], err
}

// DevicesOf is Devices for several mitras in one Valkey round trip (an operator's list).
func (m *Mirror) DevicesOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]Device, error) {
	if m.cache == nil || len(ids) == 0 {
		return map[uuid.UUID][]Device{}, nil
	}
	var leases map[uuid.UUID][]DeviceLease
	err := m.callValkey(ctx, func(ctx context.Context) error {
		var err error
		leases, err = m.cache.Devices(ctx, ids)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.fallback("devices", err)
		return map[uuid.UUID][]Device{}, nil
	}
	fresh, now := m.freshAfter(), m.now()
	streamFresh := now.Add(-m.grace())
	out := make(map[uuid.UUID][]Device, len(leases))
	for id, ls := range leases {
		var devs []Device
		for _, l := range ls {
			seen := l.Lease()
			if seen.Before(fresh) || l.Device == UnnamedDevice {
				continue
			}
			// A stream open for longer than a grace without a refresh belongs to an
			// instance that stopped without closing it: its lease lasts, its stream not.
			streaming := l.StreamOpen && !l.Stream.Before(streamFresh)
			devs = append(devs, Device{ID: l.Device, LastSeenAt: seen, Streaming: streaming})
		}
		slices.SortFunc(devs, func(a, b Device) int {
			if c := b.LastSeenAt.Compare(a.LastSeenAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		if len(devs) > 0 {
			out[id] = devs
		}
	}
	return out, nil
}

// heartbeatMovedBack follows, in Postgres, the mitra's heartbeat back to its freshest lease
// left after one ended: a later re-sync or reseed would otherwise raise Valkey's again from
// Postgres, and the lease that ended would hold the mitra until it went stale. A failure
// is logged: the lease then ends when it goes stale.
func (m *Mirror) heartbeatMovedBack(ctx context.Context, id uuid.UUID, at time.Time) {
	if at.IsZero() {
		return
	}
	if _, err := m.store.LowerHeartbeat(context.WithoutCancel(ctx), id, at); err != nil {
		m.log.Warn("a device's lease ended: move last_heartbeat_at back in postgres", "mitra", id, "err", err)
	}
}
