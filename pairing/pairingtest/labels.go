package pairingtest

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
)

// Labels is a fake pairing.Labels: the labels of mitras set by Set, every read counted.
type Labels struct {
	mu     sync.Mutex
	labels map[uuid.UUID]MitraLabels
	reads  int
}

// MitraLabels are one mitra's routing labels.
type MitraLabels struct {
	Languages, Topics []string
	Gender            string
}

var _ pairing.Labels = (*Labels)(nil)

// NewLabels returns a fake with no labels.
func NewLabels() *Labels { return &Labels{labels: map[uuid.UUID]MitraLabels{}} }

// Set gives the mitra its labels.
func (l *Labels) Set(id uuid.UUID, m MitraLabels) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.labels[id] = m
}

// Reads counts the calls of MatchingMitras.
func (l *Labels) Reads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads
}

func (l *Labels) MatchingMitras(_ context.Context, p pairing.Preferences, match pairing.RouteMatch, ids []uuid.UUID, limit int) ([]uuid.UUID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		m := l.labels[id]
		if p.Matches(match, m.Languages, m.Topics, m.Gender) {
			out = append(out, id)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}
