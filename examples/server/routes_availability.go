package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/curhat/curhat/availability"
)

func (s *Server) availabilityRoutes() {
	s.handle("POST", "/api/mitra/status/online", roleMitra, s.mitraOnline)
	s.handle("POST", "/api/mitra/status/offline", roleMitra, s.mitraOffline)
	s.handle("POST", "/api/mitra/status/heartbeat", roleMitra, s.mitraHeartbeat)
	s.handle("GET", "/api/mitra/status", roleMitra, s.mitraStatus)
	s.handle("GET", "/api/client/mitra-availability", roleClient, s.beacon)
}

func (s *Server) mitraOnline(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.app.client.SetMitraOnline(r.Context(), c.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"online": true})
	return nil
}

func (s *Server) mitraOffline(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.app.mirror.SetOffline(r.Context(), c.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"online": false})
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
	online, err := s.app.mirror.Heartbeat(r.Context(), c.ID)
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
	writeJSON(w, http.StatusOK, map[string]any{
		"online": st.Online, "is_active": st.IsActive, "reachable": st.Reachable,
		"active_sessions": st.ActiveSessions, "max_concurrent_sessions": st.MaxConcurrentSessions,
		"away_reason": strPtr(st.AwayReason),
	})
	return nil
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
