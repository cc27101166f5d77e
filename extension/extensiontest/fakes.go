package extensiontest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/pairing"
)

// Sessions is an in-memory extension.Sessions: a table of chat sessions the test fills
// with Add, which records every SessionExtended call. Its Extend method is what
// Store.ExtendSession needs.
type Sessions struct {
	mu       sync.Mutex
	sessions map[uuid.UUID]pairing.ChatSession
	extended []Extended
}

// Extended is one SessionExtended call.
type Extended struct {
	ChatSessionID uuid.UUID
	EndsAt        time.Time
	Minutes       int
}

var _ extension.Sessions = (*Sessions)(nil)

// NewSessions returns an empty table.
func NewSessions() *Sessions { return &Sessions{sessions: map[uuid.UUID]pairing.ChatSession{}} }

// Add stores (or replaces) a chat session.
func (s *Sessions) Add(info pairing.ChatSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[info.ID] = cloneInfo(info)
}

// StartActive adds an active session between client and mitra that ends in minutes from
// now and returns it.
func (s *Sessions) StartActive(clientID, mitraID uuid.UUID, now time.Time, minutes int) pairing.ChatSession {
	start := normalTime(now)
	info := pairing.ChatSession{
		ID: uuid.New(), ClientID: clientID, MitraID: mitraID, Status: pairing.SessionActive,
		StartedAt: new(start), EndsAt: new(normalTime(now.Add(time.Duration(minutes) * time.Minute))), Minutes: minutes,
		PairingID: uuid.New(), CreatedAt: start, UpdatedAt: start,
	}
	s.Add(info)
	return info
}

// SetStatus changes a session's status (for example to "ended").
func (s *Sessions) SetStatus(id uuid.UUID, status pairing.SessionStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if info, ok := s.sessions[id]; ok {
		info.Status = status
		s.sessions[id] = info
	}
}

// GetChatSession returns the session, or ErrNotFound.
func (s *Sessions) GetChatSession(_ context.Context, id uuid.UUID) (pairing.ChatSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.sessions[id]
	if !ok {
		return pairing.ChatSession{}, fmt.Errorf("chat session %s: %w", id, core.ErrNotFound)
	}
	return cloneInfo(info), nil
}

// SessionExtended records the call.
func (s *Sessions) SessionExtended(_ context.Context, id uuid.UUID, endsAt time.Time, minutes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extended = append(s.extended, Extended{ChatSessionID: id, EndsAt: endsAt, Minutes: minutes})
}

// ExtendedCalls returns the SessionExtended calls so far, oldest first.
func (s *Sessions) ExtendedCalls() []Extended {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Extended(nil), s.extended...)
}

// Extend grows the ends_at and minutes of a session that is active and ends after at
// (Store.ExtendSession). Any other session, or an unknown one, is left alone with
// ok=false.
func (s *Sessions) Extend(_ context.Context, id uuid.UUID, minutes int, at time.Time) (pairing.ChatSession, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.sessions[id]
	if !ok || info.Status != pairing.SessionActive || info.EndsAt == nil || !info.EndsAt.After(at) {
		return pairing.ChatSession{}, false, nil
	}
	info.EndsAt = new(info.EndsAt.Add(time.Duration(minutes) * time.Minute))
	info.Minutes += minutes
	info.UpdatedAt = normalTime(at)
	s.sessions[id] = info
	return cloneInfo(info), true, nil
}

func cloneInfo(info pairing.ChatSession) pairing.ChatSession {
	for _, t := range []**time.Time{&info.StartedAt, &info.EndsAt, &info.EndedAt} {
		if *t != nil {
			*t = new(**t)
		}
	}
	return info
}

// Reachability is a fake extension.Reachability: every mitra is unreachable until Set
// says otherwise, and Fail makes it answer with an error.
type Reachability struct {
	mu        sync.Mutex
	reachable map[uuid.UUID]bool
	err       error
	calls     int
}

var _ extension.Reachability = (*Reachability)(nil)

// NewReachability returns a fake where no mitra is reachable.
func NewReachability() *Reachability { return &Reachability{reachable: map[uuid.UUID]bool{}} }

// Set makes the mitra reachable or not.
func (r *Reachability) Set(mitraID uuid.UUID, reachable bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reachable[mitraID] = reachable
}

// Fail makes IsReachable return err (nil: answer again).
func (r *Reachability) Fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// Calls returns how many times IsReachable was asked.
func (r *Reachability) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func (r *Reachability) IsReachable(_ context.Context, mitraID uuid.UUID) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return false, r.err
	}
	return r.reachable[mitraID], nil
}

// Settings is a fake extension.Settings, starting at the runtime defaults (auto-approve
// on, 20 s decision timeout).
type Settings struct {
	mu          sync.Mutex
	autoApprove bool
	timeout     time.Duration
}

var _ extension.Settings = (*Settings)(nil)

// NewSettings returns settings at the runtime defaults.
func NewSettings() *Settings {
	return &Settings{autoApprove: core.DefaultExtensionAutoApprove, timeout: core.DefaultPairingTargetedTimeout}
}

// SetAutoApprove switches extension_auto_approve.
func (s *Settings) SetAutoApprove(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoApprove = on
}

// SetTargetedTimeout sets pairing_targeted_timeout_seconds.
func (s *Settings) SetTargetedTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeout = d
}

func (s *Settings) ExtensionAutoApprove(context.Context) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.autoApprove
}

func (s *Settings) TargetedTimeout(context.Context) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeout
}

// normalTime is t as Postgres keeps a timestamptz: UTC, microseconds.
func normalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
