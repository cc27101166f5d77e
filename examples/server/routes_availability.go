package main

import (
	"net/http"
	"time"
)

func (s *Server) availabilityRoutes() {
	s.handle("POST", "/api/mitra/status/online", roleMitra, s.mitraOnline)
	s.handle("POST", "/api/mitra/status/offline", roleMitra, s.mitraOffline)
	s.handle("POST", "/api/mitra/status/heartbeat", roleMitra, s.mitraHeartbeat)
	s.handle("GET", "/api/mitra/status", roleMitra, s.mitraStatus)
	s.handle("GET", "/api/client/mitra-availability", roleClient, s.beacon)
}

func (s *Server) mitraOnline(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := s.app.mirror.SetOnline(r.Context(), c.ID); err != nil {
		return err
	}
	s.app.mitraBecameAvailable(r.Context(), c.ID)
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
)

func (s *Server) mitraHeartbeat(w http.ResponseWriter, r *http.Request, c caller) error {
	online, err := s.app.mirror.Heartbeat(r.Context(), c.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
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
	})
	return nil
}

func (s *Server) beacon(w http.ResponseWriter, r *http.Request, _ caller) error {
	snap, err := s.app.mirror.CountAvailable(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"available": snap.AvailableCount > 0, "available_count": snap.AvailableCount,
		"as_of": snap.AsOf.UTC().Format(time.RFC3339Nano),
	})
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
