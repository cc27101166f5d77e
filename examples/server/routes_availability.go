package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
)

func (s *Server) availabilityRoutes() {
	s.handle("POST", "/api/mitra/status/online", roleMitra, s.mitraOnline)
	s.handle("POST", "/api/mitra/status/offline", roleMitra, s.mitraOffline)
	s.handle("POST", "/api/mitra/status/heartbeat", roleMitra, s.mitraHeartbeat)
	s.handle("GET", "/api/mitra/status", roleMitra, s.mitraStatus)
	s.handle("GET", "/api/client/mitra-availability", roleClient, s.beacon)
}

// deviceHeader names the mitra's device on a heartbeat, going online and an event stream; without it
// the request is the default device's.
const deviceHeader = "X-Device-Id"

// deviceOf returns the device a mitra's request names: availability.DefaultDevice without
// the header; 400 VALIDATION_FAILED for a header sent twice, empty, or not 1–64 characters
// of [A-Za-z0-9._-]. It allocates nothing for a valid header (the heartbeat's hot path).
func deviceOf(r *http.Request) (string, error) {
	switch vs := r.Header[deviceHeader]; {
	case len(vs) == 0:
		return availability.DefaultDevice, nil
	case len(vs) > 1:
		return "", curhat.Invalid(deviceHeader, "must be sent once")
	case availability.ValidateDeviceID(vs[0]) != nil:
		return "", curhat.Invalid(deviceHeader, "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'", availability.MaxDeviceIDLength)
	default:
		return vs[0], nil
	}
}

func (s *Server) mitraOnline(w http.ResponseWriter, r *http.Request, c caller) error {
	device, err := deviceOf(r)
	if err != nil {
		return err
	}
	if err := s.app.client.SetMitraOnlineDevice(r.Context(), c.ID, device); err != nil {
		return err
	}
	s.app.presenceChanged(context.WithoutCancel(r.Context()), c.ID) // presence.go
	writeJSON(w, http.StatusOK, map[string]bool{"online": true})
	return nil
}

// mitraOffline ends one device's lease with {"device_id": "…"} (the mitra stays online
// while another device's lease is fresh), or, without a body, takes the mitra offline on
// every device. The mitra's event streams, on whichever instance, get their presence
// event at once (presence.go).
func (s *Server) mitraOffline(w http.ResponseWriter, r *http.Request, c caller) error {
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	var body struct {
		DeviceID *string `json:"device_id"`
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := unmarshalBody(raw, &body, true); err != nil {
			return err
		}
	}
	online := false
	if body.DeviceID == nil {
		err = s.app.mirror.SetOffline(r.Context(), c.ID)
	} else {
		online, err = s.app.mirror.EndDevice(r.Context(), c.ID, *body.DeviceID)
	}
	if err != nil {
		return err
	}
	s.app.presenceChanged(context.WithoutCancel(r.Context()), c.ID)
	writeJSON(w, http.StatusOK, map[string]bool{"online": online})
	return nil
}

// onlineTrue and onlineFalse are pre-encoded heartbeat answers: the hot path allocates less.
var (
	onlineTrue  = []byte("{\"online\":true}\n")
	onlineFalse = []byte("{\"online\":false}\n")
	// jsonContentType is set as is on the hot paths (Header.Set allocates its slice).
	jsonContentType = []string{"application/json"}
)

func (s *Server) mitraHeartbeat(w http.ResponseWriter, r *http.Request, c caller) error {
	device, err := deviceOf(r)
	if err != nil {
		return err
	}
	online, err := s.app.mirror.HeartbeatDevice(r.Context(), c.ID, device)
	if err != nil {
		return err
	}
	w.Header()["Content-Type"] = jsonContentType
	if online {
		_, _ = w.Write(onlineTrue)
	} else {
		_, _ = w.Write(onlineFalse)
	}
	return nil
}

func (s *Server) mitraStatus(w http.ResponseWriter, r *http.Request, c caller) error {
	st, err := s.app.mirror.Status(r.Context(), c.ID)
	if err != nil {
		return err
	}
	devices := make([]deviceJSON, len(st.Devices))
	for i, d := range st.Devices {
		devices[i] = deviceJSON{DeviceID: d.ID, LastSeenAt: d.LastSeenAt.UTC(), Streaming: d.Streaming}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"online": st.Online, "is_active": st.IsActive, "reachable": st.Reachable,
		"active_sessions": st.ActiveSessions, "max_concurrent_sessions": st.MaxConcurrentSessions,
		"devices":     devices,
		"away_reason": strPtr(st.AwayReason),
	})
	return nil
}

// deviceJSON is one device holding a live lease of the mitra (GET /api/mitra/status).
type deviceJSON struct {
	DeviceID   string    `json:"device_id"`
	LastSeenAt time.Time `json:"last_seen_at"`
	Streaming  bool      `json:"streaming"`
}

// encodedBeacon is a beacon answer encoded once for every request that gets the same
// snapshot (the snapshot changes at most once per SnapshotTTL).
type encodedBeacon struct {
	snap availability.Snapshot
	body []byte
}

func (s *Server) beacon(w http.ResponseWriter, r *http.Request, _ caller) error {
	snap, err := s.app.mirror.CountAvailable(r.Context())
	if err != nil {
		return err
	}
	b := s.beaconBody.Load()
	if b == nil || b.snap.AvailableCount != snap.AvailableCount || !b.snap.AsOf.Equal(snap.AsOf) {
		raw, err := json.Marshal(map[string]any{
			"available": snap.AvailableCount > 0, "available_count": snap.AvailableCount,
			"as_of": snap.AsOf.UTC().Format(time.RFC3339Nano),
		})
		if err != nil {
			return err
		}
		b = &encodedBeacon{snap: snap, body: append(raw, '\n')}
		s.beaconBody.Store(b)
	}
	w.Header()["Content-Type"] = jsonContentType
	_, _ = w.Write(b.body)
	return nil
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, _ caller) error {
	d, err := s.app.dashboard(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}
