package pairing

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/curhat/curhat/internal/core"
)

// RouteMatch is what a routing step asks of a mitra's labels against a client's
// preferences (SPEC §26).
type RouteMatch string

const (
	// MatchAll: every preference the client gave (language, gender, any topic in common).
	MatchAll RouteMatch = "all"
	// MatchLanguage: the client's language, when it gave one.
	MatchLanguage RouteMatch = "language"
	// MatchAny: every available mitra.
	MatchAny RouteMatch = "any"
)

// RoutingStep is one step of the runtime setting pairing_routing_steps: offer a blast to
// the mitras matching Match for Seconds, then widen to the next step. The last step is
// MatchAny with no Seconds.
type RoutingStep struct {
	Match   RouteMatch
	Seconds int
}

// DefaultRoutingSteps is pairing_routing_steps while unset: 20 s to the mitras matching
// every preference, 20 s to those speaking the client's language, then everyone.
func DefaultRoutingSteps() []RoutingStep {
	return []RoutingStep{{Match: MatchAll, Seconds: 20}, {Match: MatchLanguage, Seconds: 20}, {Match: MatchAny}}
}

// MaxRoutingSteps bounds pairing_routing_steps.
const MaxRoutingSteps = 10

// ValidateRoutingSteps checks a value of pairing_routing_steps: 1..MaxRoutingSteps steps,
// each match one of all|language|any, every step but the last timed (seconds ≥ 1) and
// not any, the last any without seconds, and the timed steps together shorter than
// blastTimeout (0: not checked). The error names the step (1-based) at fault.
func ValidateRoutingSteps(steps []RoutingStep, blastTimeout time.Duration) error {
	if len(steps) == 0 || len(steps) > MaxRoutingSteps {
		return fmt.Errorf("must hold 1 to %d steps, not %d", MaxRoutingSteps, len(steps))
	}
	total := 0
	for i, s := range steps {
		last := i == len(steps)-1
		switch {
		case s.Match != MatchAll && s.Match != MatchLanguage && s.Match != MatchAny:
			return fmt.Errorf("step %d: match must be all, language or any, not %q", i+1, s.Match)
		case last && s.Match != MatchAny:
			return fmt.Errorf("step %d: the last step must be any", i+1)
		case last && s.Seconds != 0:
			return fmt.Errorf("step %d: the last step (any) has no seconds", i+1)
		case !last && s.Match == MatchAny:
			return fmt.Errorf("step %d: only the last step may be any", i+1)
		case !last && (s.Seconds < 1 || s.Seconds > 3600):
			return fmt.Errorf("step %d: seconds must be 1..3600, not %d", i+1, s.Seconds)
		}
		total += s.Seconds
	}
	if blastTimeout > 0 && time.Duration(total)*time.Second >= blastTimeout {
		return fmt.Errorf("the timed steps last %d s together, which must be shorter than the blast timeout (%d s)",
			total, int(blastTimeout/time.Second))
	}
	return nil
}

// RankWeights is the runtime setting pairing_rank_weights: how a ring, and the choice of
// which free mitra gets the head of the queue, order the candidates (SPEC §26):
// score = Rating × rating/5 + Accept × acceptance_rate + Idle × idle_rank.
type RankWeights struct {
	Rating float64
	Accept float64
	Idle   float64
}

// DefaultRankWeights is pairing_rank_weights while unset: longest idle first, exactly
// the order before ranking existed.
var DefaultRankWeights = RankWeights{Rating: 0, Accept: 0, Idle: 1}

// IdleOnly reports weights that order exactly as longest idle first: no rating or
// acceptance weight (any positive idle weight, or none at all, keeps the idle order).
func (w RankWeights) IdleOnly() bool { return w.Rating == 0 && w.Accept == 0 }

// Validate checks each weight is within 0..1.
func (w RankWeights) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"rating", w.Rating}, {"accept", w.Accept}, {"idle", w.Idle}} {
		if !(f.v >= 0 && f.v <= 1) { // also refuses NaN
			return fmt.Errorf("%s must be 0..1, not %v", f.name, f.v)
		}
	}
	return nil
}

// Defaults of routing quality (SPEC §26).
const (
	// DefaultMitraWrapup: no pause after a session ends.
	DefaultMitraWrapup = 0 * time.Second
	// MaxMitraWrapup bounds mitra_wrapup_seconds.
	MaxMitraWrapup = 600 * time.Second
	// RatingPrior (m) and RatingPriorWeight (C) of a mitra's Bayesian average rating:
	// (C × m + Σ stars) / (C + n).
	RatingPrior       = 4.0
	RatingPriorWeight = 10
)

// BayesianRating is a mitra's rating from n ratings summing to sum stars.
func BayesianRating(n int, sum int64) float64 {
	return (RatingPriorWeight*RatingPrior + float64(sum)) / float64(RatingPriorWeight+n)
}

// Preferences are what a client asks of the mitra on chat/start (SPEC §26); every field is
// optional. Topics match when any of them is one of the mitra's (ignoring case).
type Preferences struct {
	Language string
	Topics   []string
	Gender   string
}

// Limits of Preferences.
const (
	MaxPreferenceTopics      = 10
	MaxPreferenceTopicLength = 50
)

// Empty reports preferences that ask nothing.
func (p Preferences) Empty() bool { return p.Language == "" && len(p.Topics) == 0 && p.Gender == "" }

// Normalize returns p with the language in lower case, topics trimmed and blanks dropped.
func (p Preferences) Normalize() Preferences {
	out := Preferences{Language: strings.ToLower(strings.TrimSpace(p.Language)), Gender: strings.TrimSpace(p.Gender)}
	for _, t := range p.Topics {
		if t = strings.TrimSpace(t); t != "" {
			out.Topics = append(out.Topics, t)
		}
	}
	return out
}

// Validate checks normalised preferences: an ISO 639-1 language, at most
// MaxPreferenceTopics topics of 1..MaxPreferenceTopicLength characters, a gender of
// female|male|other.
func (p Preferences) Validate() error {
	if p.Language != "" && !core.IsISO6391(p.Language) {
		return core.Invalid("preferences.language", "%q is not an ISO 639-1 code", p.Language)
	}
	if len(p.Topics) > MaxPreferenceTopics {
		return core.Invalid("preferences.topics", "must list at most %d topics", MaxPreferenceTopics)
	}
	for _, t := range p.Topics {
		if n := utf8.RuneCountInString(t); n > MaxPreferenceTopicLength || !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
			return core.Invalid("preferences.topics", "each topic must be UTF-8 text of 1 to %d characters", MaxPreferenceTopicLength)
		}
	}
	switch p.Gender {
	case "", "female", "male", "other":
	default:
		return core.Invalid("preferences.gender", "must be female, male or other")
	}
	return nil
}

// Matches reports whether a mitra with these labels fits the step's match of p:
// MatchAny everyone; MatchLanguage the mitras speaking p.Language (everyone when p has
// none); MatchAll the mitras fitting every preference p gives.
func (p Preferences) Matches(m RouteMatch, languages, topics []string, gender string) bool {
	switch m {
	case MatchAny:
		return true
	case MatchLanguage:
		return p.Language == "" || slices.Contains(languages, p.Language)
	case MatchAll:
		if p.Language != "" && !slices.Contains(languages, p.Language) {
			return false
		}
		if p.Gender != "" && p.Gender != gender {
			return false
		}
		if len(p.Topics) > 0 && !slices.ContainsFunc(p.Topics, func(t string) bool {
			return slices.ContainsFunc(topics, func(o string) bool { return strings.EqualFold(o, t) })
		}) {
			return false
		}
		return true
	}
	return false
}
