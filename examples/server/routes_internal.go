package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
)

type uuidT = uuid.UUID

// Token lifetimes accepted by POST /api/internal/tokens.
const (
	defaultTokenTTL = 24 * time.Hour
	maxTokenTTL     = 90 * 24 * time.Hour
)

func (s *Server) internalRoutes() {
	s.handle("POST", "/api/internal/mitras", roleSupport, s.createMitra)
	s.handle("GET", "/api/internal/mitras/{id}", roleViewer, s.getMitra)
	s.handle("PATCH", "/api/internal/mitras/{id}/status", roleSupport, s.setMitraStatus)
	s.handle("POST", "/api/internal/clients", roleSupport, s.createClient)
	s.handle("POST", "/api/internal/tokens", roleSupport, s.createToken)
	s.handle("GET", "/api/internal/config", roleViewer, s.listConfig)
	s.handle("PUT", "/api/internal/config/{key}", roleAdmin, s.putConfig)
	s.handle("GET", "/api/internal/dashboard", roleViewer, s.dashboard)
}

// mitraJSON is the API shape of a mitra.
type mitraJSON struct {
	ID                    uuid.UUID  `json:"id"`
	DisplayName           string     `json:"display_name"`
	IsActive              bool       `json:"is_active"`
	IsOnline              bool       `json:"is_online"`
	LastHeartbeatAt       *time.Time `json:"last_heartbeat_at"`
	MaxConcurrentSessions *int       `json:"max_concurrent_sessions"`
	// AwayReason is why the system took the mitra offline (missed_offers); null when it
	// did not, or the mitra went online since.
	AwayReason *string   `json:"away_reason"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// DeviceCount is the devices holding a live lease (GET /api/internal/mitras/{id} only).
	DeviceCount *int `json:"device_count,omitempty"`
	// ProfileUpdatedAt is the token of a profile edit (PATCH /api/internal/mitras/{id},
	// routes_mitra_profile.go); presence never moves it. Labels are set by the same edit.
	ProfileUpdatedAt time.Time  `json:"profile_updated_at"`
	Labels           labelsJSON `json:"labels"`
	// WarningsCount is how many of the reports against the mitra were resolved "warned"
	// (routes_reports.go): filled by mitraWarnings where an answer reads it.
	WarningsCount int `json:"warnings_count"`
}

func toMitraJSON(m availability.Mitra) mitraJSON {
	return mitraJSON{ID: m.ID, DisplayName: m.DisplayName, IsActive: m.IsActive, IsOnline: m.IsOnline,
		LastHeartbeatAt: utcPtr(m.LastHeartbeatAt), MaxConcurrentSessions: m.MaxConcurrentSessions,
		AwayReason: strPtr(m.AwayReason), CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
		ProfileUpdatedAt: m.ProfileUpdatedAt.UTC(), Labels: toLabelsJSON(m.Labels)}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func validDisplayName(name string) error {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return curhat.Invalid("display_name", "must be 1..200 characters")
	}
	return validText("display_name", name)
}

func (s *Server) createMitra(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		DisplayName           string `json:"display_name"`
		MaxConcurrentSessions *int   `json:"max_concurrent_sessions"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := validDisplayName(body.DisplayName); err != nil {
		return err
	}
	if m := body.MaxConcurrentSessions; m != nil && (*m < 1 || *m > 100) {
		return curhat.Invalid("max_concurrent_sessions", "must be 1..100")
	}
	m, err := s.app.mirror.CreateMitra(r.Context(), availability.CreateMitraParams{
		DisplayName: strings.TrimSpace(body.DisplayName), MaxConcurrentSessions: body.MaxConcurrentSessions})
	if err != nil {
		return err
	}
	s.audit(r, c, "mitra.create", "mitra", m.ID.String(), nil, toMitraJSON(m))
	writeJSON(w, http.StatusCreated, toMitraJSON(m))
	return nil
}

func (s *Server) getMitra(w http.ResponseWriter, r *http.Request, _ caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := s.app.mirror.GetMitra(r.Context(), id)
	if err != nil {
		return err
	}
	devices, err := s.app.mirror.Devices(r.Context(), id)
	if err != nil {
		return err
	}
	out := toMitraJSON(m)
	out.DeviceCount = new(len(devices))
	if err := s.app.mitraWarnings(r.Context(), &out); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) setMitraStatus(w http.ResponseWriter, r *http.Request, c caller) error {
	id, active, err := activeRequest(w, r)
	if err != nil {
		return err
	}
	before, err := s.app.mirror.GetMitra(r.Context(), id)
	if err != nil {
		return err
	}
	prev := toMitraJSON(before)
	if err := s.app.mitraWarnings(r.Context(), &prev); err != nil {
		return err
	}
	m, err := s.app.setMitraActive(r.Context(), id, active)
	if err != nil {
		return err
	}
	if active {
		// Every instance forgets that the mitra's tokens were refused as deactivated: the
		// ones minted since answer at once, the ones the deactivation revoked say 401.
		s.app.auth.revoked(r.Context(), SubjectMitra, id)
	}
	out := toMitraJSON(m)
	out.WarningsCount = prev.WarningsCount // a status change warns nobody
	s.audit(r, c, "mitra.status", "mitra", id.String(), prev, out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request, op caller) error {
	var body struct {
		DisplayName string `json:"display_name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := validDisplayName(body.DisplayName); err != nil {
		return err
	}
	c, err := s.app.registerClient(r.Context(), strings.TrimSpace(body.DisplayName))
	if err != nil {
		return err
	}
	s.audit(r, op, "client.create", "client", c.ID.String(), nil, c)
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		SubjectKind string `json:"subject_kind"`
		SubjectID   string `json:"subject_id"`
		TTLSeconds  *int64 `json:"ttl_seconds"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	kind := SubjectKind(body.SubjectKind)
	if kind != SubjectClient && kind != SubjectMitra && kind != SubjectOperator {
		return curhat.Invalid("subject_kind", "must be client, mitra or operator")
	}
	if kind == SubjectOperator && c.Role < roleAdmin {
		return errNeedsRole(roleAdmin, c.Role) // only an admin makes operators' tokens
	}
	id, err := bodyID("subject_id", body.SubjectID)
	if err != nil {
		return err
	}
	ttl := defaultTokenTTL
	if body.TTLSeconds != nil {
		// Compared in seconds: a huge value times time.Second would overflow into a
		// negative duration and slip past a comparison of durations.
		if *body.TTLSeconds < 1 || *body.TTLSeconds > int64(maxTokenTTL/time.Second) {
			return curhat.Invalid("ttl_seconds", "must be 1..%d", int64(maxTokenTTL/time.Second))
		}
		ttl = time.Duration(*body.TTLSeconds) * time.Second
	}
	if err := s.app.subjectExists(r, kind, id); err != nil {
		return err
	}
	token, exp, err := s.app.auth.issue(r.Context(), kind, id, ttl)
	if err != nil {
		return err
	}
	// The token itself is never recorded: the row says whose it is and until when.
	s.audit(r, c, "token.mint", string(kind), id.String(), nil,
		map[string]any{"subject_kind": kind, "subject_id": id, "expires_at": exp.UTC()})
	writeJSON(w, http.StatusCreated, map[string]any{"token": token, "expires_at": exp.UTC()})
	return nil
}

func (s *Server) listConfig(w http.ResponseWriter, r *http.Request, _ caller) error {
	items, err := s.app.runtime.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, map[string]any{"key": it.Key, "value": it.Value, "updated_at": utcPtr(it.UpdatedAt)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		Value json.RawMessage `json:"value"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if len(body.Value) == 0 {
		return curhat.Invalid("value", "is required")
	}
	key := r.PathValue("key")
	var before any
	if items, err := s.app.runtime.List(r.Context()); err == nil {
		for _, it := range items {
			if string(it.Key) == key {
				before = map[string]any{"key": it.Key, "value": it.Value, "updated_at": utcPtr(it.UpdatedAt)}
			}
		}
	}
	it, err := s.app.runtime.Set(r.Context(), key, body.Value, c.changedBy())
	if err != nil {
		return err
	}
	s.audit(r, c, "config.set", "config", string(it.Key), before, map[string]any{"key": it.Key, "value": it.Value, "updated_at": utcPtr(it.UpdatedAt)})
	writeJSON(w, http.StatusOK, map[string]any{"key": it.Key, "value": it.Value, "updated_at": utcPtr(it.UpdatedAt)})
	return nil
}

// activeRequest reads the {id} and the body {is_active} of a request that suspends or
// reinstates an account (a mitra's, a client's).
func activeRequest(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return uuid.Nil, false, err
	}
	var body struct {
		IsActive *bool `json:"is_active"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return uuid.Nil, false, err
	}
	if body.IsActive == nil {
		return uuid.Nil, false, curhat.Invalid("is_active", "is required")
	}
	return id, *body.IsActive, nil
}
