package availability

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/core"
)

// Profile edits: what operators change of a mitra (display name, maximum of concurrent
// sessions, labels), locked on Mitra.ProfileUpdatedAt. Presence (online, offline,
// heartbeats, away) and capacity recomputes never move ProfileUpdatedAt, so an operator's
// edit is never stale because the mitra pinged meanwhile.

// Genders of Labels.Gender.
const (
	GenderFemale = "female"
	GenderMale   = "male"
	GenderOther  = "other"
)

// Limits of Labels.
const (
	MaxLabelLanguages   = 10
	MaxLabelTopics      = 20
	MaxLabelTopicLength = 50
)

// Labels are what routing matches a client's preferences against, set by operators.
// Every field is optional: nil or "" when unset.
type Labels struct {
	// Languages the mitra chats in: ISO 639-1 codes ("id", "en", "jv"), lower case,
	// each once, at most MaxLabelLanguages.
	Languages []string
	// Topics the mitra listens to ("relationships", "work"): each 1 to
	// MaxLabelTopicLength characters, each once ignoring case, at most MaxLabelTopics.
	Topics []string
	// Gender is GenderFemale, GenderMale, GenderOther or "" (unset).
	Gender string
}

// Normalize returns l with codes in lower case, topics trimmed and empty lists nil.
func (l Labels) Normalize() Labels {
	out := Labels{Gender: strings.TrimSpace(l.Gender)}
	for _, lang := range l.Languages {
		out.Languages = append(out.Languages, strings.ToLower(strings.TrimSpace(lang)))
	}
	for _, t := range l.Topics {
		out.Topics = append(out.Topics, strings.TrimSpace(t))
	}
	return out
}

// Validate checks normalised labels (Normalize) against their limits.
func (l Labels) Validate() error {
	if len(l.Languages) > MaxLabelLanguages {
		return core.Invalid("labels.languages", "must list at most %d languages", MaxLabelLanguages)
	}
	for i, lang := range l.Languages {
		if !isISO6391(lang) {
			return core.Invalid("labels.languages", "%q is not an ISO 639-1 code", lang)
		}
		if slices.Contains(l.Languages[:i], lang) {
			return core.Invalid("labels.languages", "%q is listed twice", lang)
		}
	}
	if len(l.Topics) > MaxLabelTopics {
		return core.Invalid("labels.topics", "must list at most %d topics", MaxLabelTopics)
	}
	for i, t := range l.Topics {
		if n := utf8.RuneCountInString(t); n == 0 || n > MaxLabelTopicLength {
			return core.Invalid("labels.topics", "each topic must be 1 to %d characters", MaxLabelTopicLength)
		}
		if !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
			return core.Invalid("labels.topics", "each topic must be UTF-8 text without NUL characters")
		}
		if slices.ContainsFunc(l.Topics[:i], func(o string) bool { return strings.EqualFold(o, t) }) {
			return core.Invalid("labels.topics", "%q is listed twice", t)
		}
	}
	switch l.Gender {
	case "", GenderFemale, GenderMale, GenderOther:
	default:
		return core.Invalid("labels.gender", "must be %s, %s or %s", GenderFemale, GenderMale, GenderOther)
	}
	return nil
}

// clone returns a copy of l that shares no slice with it.
func (l Labels) clone() Labels {
	return Labels{Languages: slices.Clone(l.Languages), Topics: slices.Clone(l.Topics), Gender: l.Gender}
}

func isISO6391(code string) bool { return core.IsISO6391(code) }

// ProfileUpdate is an operator's edit of a mitra's profile. Nil fields stay as they are.
type ProfileUpdate struct {
	ID uuid.UUID
	// ExpectedProfileUpdatedAt is the Mitra.ProfileUpdatedAt the edit was made from: when
	// the profile changed since, nothing is written and the error is a
	// *StaleProfileError carrying the mitra as it is now.
	ExpectedProfileUpdatedAt time.Time
	// DisplayName: 1 to MaxDisplayNameLength characters once trimmed.
	DisplayName *string
	// ChangeMax writes MaxConcurrentSessions: nil clears the mitra's own maximum (the
	// runtime default applies), else 1 to MaxSessionsLimit.
	ChangeMax             bool
	MaxConcurrentSessions *int
	// Labels replace the mitra's labels as a whole.
	Labels *Labels
}

// normalize trims and validates p, naming the field at fault.
func (p ProfileUpdate) normalize() (ProfileUpdate, error) {
	if p.ID == uuid.Nil {
		return p, core.Invalid("id", "is required")
	}
	if p.ExpectedProfileUpdatedAt.IsZero() {
		return p, core.Invalid("expected_profile_updated_at", "is required")
	}
	if p.DisplayName != nil {
		name := strings.TrimSpace(*p.DisplayName)
		if n := utf8.RuneCountInString(name); n == 0 || n > MaxDisplayNameLength {
			return p, core.Invalid("display_name", "must be 1 to %d characters", MaxDisplayNameLength)
		}
		if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			return p, core.Invalid("display_name", "must be UTF-8 text without NUL characters")
		}
		p.DisplayName = &name
	}
	if !p.ChangeMax && p.MaxConcurrentSessions != nil {
		return p, core.Invalid("max_concurrent_sessions", "is given without ChangeMax")
	}
	if m := p.MaxConcurrentSessions; m != nil && (*m < 1 || *m > MaxSessionsLimit) {
		return p, core.Invalid("max_concurrent_sessions", "must be between 1 and %d", MaxSessionsLimit)
	}
	if p.Labels != nil {
		l := p.Labels.Normalize()
		if err := l.Validate(); err != nil {
			return p, err
		}
		p.Labels = &l
	}
	return p, nil
}

// StaleProfileError is the error of an UpdateProfile whose ExpectedProfileUpdatedAt is
// not the mitra's ProfileUpdatedAt any more: someone edited the profile meanwhile.
// errors.Is(err, ErrStaleWrite) holds; Current is the mitra as it is now.
type StaleProfileError struct {
	Current Mitra
}

func (e *StaleProfileError) Error() string {
	return fmt.Sprintf("mitra %s: the profile changed at %s: %v", e.Current.ID,
		e.Current.ProfileUpdatedAt.Format(time.RFC3339Nano), ErrStaleWrite)
}

// Unwrap makes errors.Is(err, ErrStaleWrite) hold.
func (e *StaleProfileError) Unwrap() error { return ErrStaleWrite }

// CurrentValue returns Current, for error handlers that serve stale writes of several
// packages through one interface (the reference server's 409 body).
func (e *StaleProfileError) CurrentValue() any { return e.Current }

// ProfileStore is the Store's side of profile edits.
type ProfileStore interface {
	// UpdateProfile writes the fields p sets, when the mitra's profile_updated_at is
	// p.ExpectedProfileUpdatedAt, and moves profile_updated_at (and updated_at) forward;
	// it returns the mitra as written. Else nothing is written: ErrNotFound for an
	// unknown mitra, a *StaleProfileError with the current row otherwise. p is normalised
	// already.
	UpdateProfile(ctx context.Context, p ProfileUpdate) (Mitra, error)
}

// UpdateProfile is an operator's edit of a mitra's profile, locked on ProfileUpdatedAt
// (see ProfileUpdate and StaleProfileError). A change of the maximum is mirrored to
// Valkey after the commit (capacity and availability, under the mitra's lock, as every
// mirror write); the caller offers the mitra what waits for it when the maximum grew.
func (m *Mirror) UpdateProfile(ctx context.Context, p ProfileUpdate) (Mitra, error) {
	p, err := p.normalize()
	if err != nil {
		return Mitra{}, err
	}
	mitra, err := m.store.UpdateProfile(ctx, p)
	if err != nil {
		return Mitra{}, fmt.Errorf("update the profile of mitra %s: %w", p.ID, err)
	}
	if p.ChangeMax {
		m.afterCommit(ctx, "update_profile", p.ID)
	}
	if p.Labels != nil {
		m.invalidateLabels()
	}
	return mitra, nil
}
