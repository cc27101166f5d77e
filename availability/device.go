package availability

import (
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Devices: a mitra may be signed in on several devices (a phone and a tablet). Each device
// holds its own lease; the mitra is online while one of them is fresh, and its heartbeat
// (mitra:heartbeat:<id> and the heartbeat index) is its freshest lease. See the package
// documentation, "Devices".

const (
	// DefaultDevice is the device of a call that names none (a heartbeat without
	// X-Device-Id in the reference server; Mirror.Heartbeat, Mirror.SetOnline).
	DefaultDevice = "default"
	// MaxDeviceIDLength is the longest device id.
	MaxDeviceIDLength = 64
	// DefaultMaxDevices is how many device leases one mitra holds at most (the unnamed
	// one aside): a new device beyond it evicts the lease that ends first (an open
	// stream's last), so that a client inventing ids cannot grow a mitra's leases without
	// bound.
	DefaultMaxDevices = 10
	// UnnamedDevice holds the lease a seed gives an online mitra whose heartbeat in
	// Postgres is fresher than every lease Valkey holds (after Valkey lost its data, or
	// pings that fell back to Postgres during an outage): some device sent that ping, and
	// Postgres knows no devices. It is no valid device id, Devices does not list it, it
	// counts for no bound on the devices, and it ends when it goes stale, so that a device
	// signing off meanwhile cannot take the mitra offline under its other devices' feet.
	UnnamedDevice = "*"
	// DefaultReconnectGrace is how long a mitra whose last event stream dropped stays
	// reachable on that stream's lease: a reconnect within it changes nothing anybody sees
	// (MITRA_RECONNECT_GRACE_SECONDS).
	DefaultReconnectGrace = 20 * time.Second
)

// ValidateDeviceID checks a device id: 1 to MaxDeviceIDLength characters of
// [A-Za-z0-9._-]. It allocates nothing (it runs on every heartbeat).
func ValidateDeviceID(device string) error {
	if len(device) == 0 || len(device) > MaxDeviceIDLength {
		return core.Invalid("device_id", "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'", MaxDeviceIDLength)
	}
	for i := 0; i < len(device); i++ {
		switch c := device[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return core.Invalid("device_id", "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'", MaxDeviceIDLength)
		}
	}
	return nil
}

// Device is one device holding a live lease of its mitra (GET /api/mitra/status).
type Device struct {
	ID string
	// LastSeenAt is the device's last heartbeat or the last contact of its event stream,
	// whichever is later.
	LastSeenAt time.Time
	// Streaming: an event stream of the device is open (on any instance).
	Streaming bool
}

// DeviceLease is one device's lease as a Cache stores it.
type DeviceLease struct {
	Device string
	// Heartbeat is the device's last heartbeat (zero: none since the mitra went online).
	Heartbeat time.Time
	// Stream is the last contact of the device's event stream: its last refresh while it
	// is open, the time it closed during its reconnect grace (zero: none).
	Stream time.Time
	// StreamOpen: the stream has not closed (or its instance stopped without saying so).
	StreamOpen bool
}

// Lease is the lease as a heartbeat time: the later of Heartbeat and Stream. It is fresh
// while it is within the stale threshold.
func (l DeviceLease) Lease() time.Time {
	if l.Stream.After(l.Heartbeat) {
		return l.Stream
	}
	return l.Heartbeat
}

// HeartbeatParams are the ping of Cache.Heartbeat.
type HeartbeatParams struct {
	MitraID uuid.UUID
	// Device is the pinging device (a valid device id).
	Device string
	At     time.Time
	// MaxDevices bounds the mitra's device leases (0: DefaultMaxDevices).
	MaxDevices int
}

// StreamWrite is one event stream's lease write of Cache.Streams.
type StreamWrite struct {
	MitraID uuid.UUID
	Device  string
	// Closed: the stream closed at StreamsParams.At (its reconnect grace begins); else it
	// is open and refreshes its device's lease.
	Closed bool
}

// StreamsParams are the stream lease writes of Cache.Streams.
type StreamsParams struct {
	Writes []StreamWrite
	At     time.Time
	// MaxDevices bounds each mitra's device leases (0: DefaultMaxDevices).
	MaxDevices int
}

// StreamResult is what Cache.Streams did with one write.
type StreamResult struct {
	// Online: the mitra is online and the write refreshed the device's lease (an open
	// stream creates it if the device had none). Otherwise nothing is written: the mitra
	// is offline (or unknown, or deactivated), or the device signed off (EndDevice) and
	// has not sent a heartbeat since, or a closing stream's device holds no lease.
	Online bool
	// Deactivated: the mitra is deactivated.
	Deactivated bool
	// ClosedAt is the stream contact a close recorded (the reconnect grace checks it).
	ClosedAt time.Time
}

// EndDeviceParams are a lease's end for Cache.EndDevice.
type EndDeviceParams struct {
	MitraID uuid.UUID
	Device  string
	// StreamClosedAt, when set, ends only the lease of the device's event stream that
	// closed then (its reconnect grace passed), and only if no stream of the device
	// refreshed it since (a reconnect). Unset, the device's whole lease ends (the device
	// signed off).
	StreamClosedAt *time.Time
	// FreshAfter: a lease older than this is stale, it keeps nobody online.
	FreshAfter time.Time
	// MaxDevices bounds the mitra's device leases (0: DefaultMaxDevices): the empty lease
	// a signed-off device keeps is not kept beyond it.
	MaxDevices int
}

// DeviceEnd is what Cache.EndDevice found.
type DeviceEnd struct {
	// Online: the mitra is still online in the mirror (false when it was not).
	Online bool
	// Last: no live lease of the mitra is left, every one ended or went stale (the caller
	// sets it offline, Postgres first).
	Last bool
	// Reconnected: a stream of the device refreshed its lease since StreamClosedAt:
	// nothing ended.
	Reconnected bool
	// Heartbeat is the mitra's heartbeat now (its freshest lease left) when Online and not
	// Last.
	Heartbeat time.Time
}
