package main

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
)

// Mitra profile edits: PATCH /api/internal/mitras/{id} {expected_profile_updated_at,
// display_name?, max_concurrent_sessions?, labels?} (support; audited mitra.profile),
// locked on profile_updated_at. A stale token is 409 STALE_WRITE with the mitra as it is
// now in error.current; presence (online, offline, heartbeats) never moves the token, so
// only another edit makes one stale. A change of the maximum goes through the
// availability mirror (Valkey's capacity and availability follow at once) and the mitra is
// offered what waits for it when that freed a slot.

func (s *Server) mitraProfileRoutes() {
	s.handle("PATCH", "/api/internal/mitras/{id}", roleSupport, s.updateMitraProfile)
}

// labelsJSON is the API shape of a mitra's labels (availability.Labels): both lists
// always present, gender null when unset.
type labelsJSON struct {
	Languages []string `json:"languages"`
	Topics    []string `json:"topics"`
	Gender    *string  `json:"gender"`
}

func toLabelsJSON(l availability.Labels) labelsJSON {
	out := labelsJSON{Languages: l.Languages, Topics: l.Topics, Gender: strPtr(l.Gender)}
	if out.Languages == nil {
		out.Languages = []string{}
	}
	if out.Topics == nil {
		out.Topics = []string{}
	}
	return out
}

// labelsInput is the labels of a profile edit: they replace the mitra's as a whole, an
// absent list or a null gender unset.
type labelsInput struct {
	Languages []string `json:"languages"`
	Topics    []string `json:"topics"`
	Gender    *string  `json:"gender"`
}

func (s *Server) updateMitraProfile(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		ExpectedProfileUpdatedAt *string `json:"expected_profile_updated_at"`
		DisplayName              *string `json:"display_name"`
		// Absent: unchanged; null: the runtime default applies; else 1..100.
		MaxConcurrentSessions json.RawMessage `json:"max_concurrent_sessions"`
		Labels                *labelsInput    `json:"labels"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.ExpectedProfileUpdatedAt == nil {
		return curhat.Invalid("expected_profile_updated_at", "is required")
	}
	expected, err := parseTime("expected_profile_updated_at", *body.ExpectedProfileUpdatedAt)
	if err != nil {
		return err
	}
	p := availability.ProfileUpdate{ID: id, ExpectedProfileUpdatedAt: expected, DisplayName: body.DisplayName}
	if body.DisplayName != nil {
		if err := validDisplayName(*body.DisplayName); err != nil {
			return err
		}
	}
	if len(body.MaxConcurrentSessions) > 0 {
		p.ChangeMax = true
		if string(body.MaxConcurrentSessions) != "null" {
			var n int
			if err := json.Unmarshal(body.MaxConcurrentSessions, &n); err != nil {
				return curhat.Invalid("max_concurrent_sessions", "must be an integer 1..%d or null", availability.MaxSessionsLimit)
			}
			p.MaxConcurrentSessions = &n
		}
	}
	if l := body.Labels; l != nil {
		labels := availability.Labels{Languages: l.Languages, Topics: l.Topics}
		if l.Gender != nil {
			labels.Gender = *l.Gender
		}
		for _, t := range labels.Topics {
			if err := validText("labels.topics", t); err != nil {
				return err
			}
		}
		p.Labels = &labels
	}
	if p.DisplayName == nil && !p.ChangeMax && p.Labels == nil {
		return curhat.Invalid("body", "must change display_name, max_concurrent_sessions or labels")
	}
	before, err := s.app.mirror.GetMitra(r.Context(), id)
	if err != nil {
		return err
	}
	prev := toMitraJSON(before)
	if err := s.app.mitraWarnings(r.Context(), &prev); err != nil {
		return err
	}
	m, err := s.app.mirror.UpdateProfile(r.Context(), p)
	var stale *availability.StaleProfileError
	if errors.As(err, &stale) {
		return &apiError{Status: http.StatusConflict, Code: "STALE_WRITE",
			Message: "the mitra's profile changed since it was read; retry with its current profile_updated_at",
			Details: map[string]any{"current": toMitraJSON(stale.Current)}}
	}
	if err != nil {
		return err
	}
	if p.ChangeMax {
		// A larger maximum may have freed a slot: offer it what waits (nothing happens
		// unless the mitra is reachable and under its maximum). The edit is committed
		// whatever this says.
		if err := s.app.pairer.MitraAvailable(r.Context(), id); err != nil {
			s.app.log.WarnContext(r.Context(), "offer a mitra whose maximum changed what waits", "mitra", id, "err", err)
		}
	}
	out := toMitraJSON(m)
	out.WarningsCount = prev.WarningsCount // a profile edit warns nobody
	s.audit(r, c, "mitra.profile", "mitra", id.String(), prev, out)
	writeJSON(w, http.StatusOK, out)
	return nil
}
