package safetytest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// AlertStoreHarness is one safety.AlertStore under test, with the chat sessions the pairing
// side owns. RunAlertStoreContract calls the harness constructor once per subtest, from
// parallel subtests.
type AlertStoreHarness struct {
	// Store is the store under test; Twin, when set, another store over the same data (a
	// second instance), for the races between instances.
	Store, Twin safety.AlertStore
	// StartSession starts an active chat session between a new client and a new mitra,
	// started at now.
	StartSession func(t *testing.T, now time.Time) pairing.ChatSession
}

// a0 is the base time of the alerts' suite.
var a0 = time.Date(2026, 5, 4, 9, 30, 15, 0, time.UTC)

// newAlert is an open alert of a new message of s's client, raised at at.
func newAlert(s pairing.ChatSession, at time.Time, terms ...string) safety.Alert {
	return safety.Alert{ID: uuid.New(), MessageID: uuid.New(), ChatSessionID: s.ID, ClientID: s.ClientID, MitraID: s.MitraID,
		Terms: append([]string{}, terms...), Status: safety.AlertOpen, CreatedAt: at}
}

func raise(t *testing.T, st safety.AlertStore, a safety.Alert) (safety.Alert, bool) {
	t.Helper()
	out, created, err := st.Raise(check.Context(t), a)
	check.NoError(t, err, "raise alert %s", a.ID)
	return out, created
}

func alertIDs(as []safety.Alert) []uuid.UUID {
	out := make([]uuid.UUID, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// RunAlertStoreContract runs the conformance suite of safety.AlertStore:
// safety.NewPostgresAlertStore and safety.NewMemoryAlertStoreIn pass it.
func RunAlertStoreContract(t *testing.T, newHarness func(t *testing.T) AlertStoreHarness) {
	t.Run("RaiseStoresAnOpenAlertThatGetReads", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, a0)
		a := newAlert(s, a0.Add(time.Second), "ingin mati", "bunuh diri")
		got, created := raise(t, h.Store, a)
		check.True(t, created)
		check.Equal(t, a, got)
		read, err := h.Store.Get(check.Context(t), a.ID)
		check.NoError(t, err)
		check.Equal(t, a, read)

		none := newAlert(s, a0.Add(2*time.Second))
		got, created = raise(t, h.Store, none)
		check.True(t, created)
		check.Equal(t, []string{}, got.Terms, "no terms is [], never nil")

		_, err = h.Store.Get(check.Context(t), uuid.New())
		check.ErrorIs(t, err, safety.ErrNotFound)
	})

	t.Run("OneAlertPerMessage", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, a0)
		first := newAlert(s, a0, "suicide")
		raise(t, h.Store, first)
		again := newAlert(s, a0.Add(time.Minute), "other")
		again.MessageID = first.MessageID
		got, created := raise(t, h.Store, again)
		check.False(t, created, "the message has its alert")
		check.Equal(t, first, got, "the first, unchanged")
		items, total, err := h.Store.List(check.Context(t), safety.AlertQuery{Page: 1, PageSize: 10})
		check.NoError(t, err)
		check.Equal(t, 1, total)
		check.Equal(t, []uuid.UUID{first.ID}, alertIDs(items))
	})

	t.Run("ConcurrentRaisesOfOneMessageCreateOne", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, a0)
		message := uuid.New()
		var mu sync.Mutex
		created, ids := 0, map[uuid.UUID]bool{}
		errs := check.Concurrently(8, func(i int) error {
			st := h.Store
			if h.Twin != nil && i%2 == 1 {
				st = h.Twin
			}
			a := newAlert(s, a0)
			a.MessageID = message
			got, c, err := st.Raise(check.Context(t), a)
			mu.Lock()
			defer mu.Unlock()
			if c {
				created++
			}
			ids[got.ID] = true
			return err
		})
		for _, err := range errs {
			check.NoError(t, err)
		}
		check.Equal(t, 1, created, "one raise creates it")
		check.Len(t, ids, 1, "every raise answers that one")
	})

	t.Run("RaiseRefusesAnUnknownSession", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := newAlert(pairing.ChatSession{ID: uuid.New(), ClientID: uuid.New(), MitraID: uuid.New()}, a0)
		_, _, err := h.Store.Raise(check.Context(t), a)
		check.ErrorIs(t, err, safety.ErrNotFound)
	})

	t.Run("ListIsNewestFirstByStatusAPageAtATime", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, a0)
		var all []safety.Alert // newest first
		for i := range 5 {
			a, _ := raise(t, h.Store, newAlert(s, a0.Add(time.Duration(i)*time.Minute)))
			all = append([]safety.Alert{a}, all...)
		}
		// Two alerts in the same microsecond: the greater id first.
		tieA, tieB := newAlert(s, a0.Add(10*time.Minute)), newAlert(s, a0.Add(10*time.Minute))
		if tieA.ID.String() < tieB.ID.String() {
			tieA, tieB = tieB, tieA
		}
		raise(t, h.Store, tieB)
		raise(t, h.Store, tieA)
		for _, id := range []uuid.UUID{all[1].ID, all[3].ID} {
			_, changed, err := h.Store.Ack(check.Context(t), id, "op-1", a0.Add(time.Hour))
			check.NoError(t, err)
			check.True(t, changed)
		}
		list := func(q safety.AlertQuery) ([]uuid.UUID, int) {
			t.Helper()
			items, total, err := h.Store.List(check.Context(t), q)
			check.NoError(t, err)
			check.NotNil(t, items, "[] when none")
			return alertIDs(items), total
		}
		got, total := list(safety.AlertQuery{Page: 1, PageSize: 10})
		check.Equal(t, []uuid.UUID{tieA.ID, tieB.ID, all[0].ID, all[1].ID, all[2].ID, all[3].ID, all[4].ID}, got)
		check.Equal(t, 7, total)
		got, total = list(safety.AlertQuery{Status: safety.AlertOpen, Page: 1, PageSize: 10})
		check.Equal(t, []uuid.UUID{tieA.ID, tieB.ID, all[0].ID, all[2].ID, all[4].ID}, got)
		check.Equal(t, 5, total)
		got, total = list(safety.AlertQuery{Status: safety.AlertAcknowledged, Page: 1, PageSize: 10})
		check.Equal(t, []uuid.UUID{all[1].ID, all[3].ID}, got)
		check.Equal(t, 2, total)
		got, total = list(safety.AlertQuery{Status: safety.AlertOpen, Page: 2, PageSize: 2})
		check.Equal(t, []uuid.UUID{all[0].ID, all[2].ID}, got)
		check.Equal(t, 5, total)
		got, total = list(safety.AlertQuery{Status: safety.AlertOpen, Page: 4, PageSize: 2})
		check.Equal(t, []uuid.UUID{}, got, "past the last page")
		check.Equal(t, 5, total, "still counted")
	})

	t.Run("AckIsOnceAndIdempotent", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, a0)
		a, _ := raise(t, h.Store, newAlert(s, a0, "suicide"))
		at := a0.Add(3 * time.Minute)
		got, changed, err := h.Store.Ack(check.Context(t), a.ID, "op-1", at)
		check.NoError(t, err)
		check.True(t, changed)
		want := a
		want.Status, want.AcknowledgedAt, want.AcknowledgedBy = safety.AlertAcknowledged, &at, "op-1"
		check.Equal(t, want, got)
		// Again, by another operator: the first acknowledgement stands.
		got, changed, err = h.Store.Ack(check.Context(t), a.ID, "op-2", at.Add(time.Minute))
		check.NoError(t, err)
		check.False(t, changed)
		check.Equal(t, want, got)
		read, err := h.Store.Get(check.Context(t), a.ID)
		check.NoError(t, err)
		check.Equal(t, want, read)

		_, _, err = h.Store.Ack(check.Context(t), uuid.New(), "op-1", at)
		check.ErrorIs(t, err, safety.ErrNotFound)
	})

	t.Run("ConcurrentAcksChangeItOnce", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.StartSession(t, a0)
		a, _ := raise(t, h.Store, newAlert(s, a0))
		var mu sync.Mutex
		changed := 0
		errs := check.Concurrently(8, func(i int) error {
			st := h.Store
			if h.Twin != nil && i%2 == 1 {
				st = h.Twin
			}
			got, c, err := st.Ack(check.Context(t), a.ID, "op", a0.Add(time.Minute))
			if err == nil && got.Status != safety.AlertAcknowledged {
				t.Errorf("ack %d answered %s", i, got.Status)
			}
			mu.Lock()
			defer mu.Unlock()
			if c {
				changed++
			}
			return err
		})
		for _, err := range errs {
			check.NoError(t, err)
		}
		check.Equal(t, 1, changed)
	})
}
