package safety_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/check"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/memdb"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// recorder is the host's notifier: it keeps the events and the alerts told to operators.
type recorder struct {
	mu     sync.Mutex
	events []pairing.Event
	alerts []safety.Alert
}

func (r *recorder) Notify(_ context.Context, e pairing.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) NotifyAlert(_ context.Context, a safety.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
}

// resources returns the SafetyResourcesEvents sent, each with its recipient client.
func (r *recorder) resources() (out []safety.SafetyResourcesEvent, to []uuid.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if p, ok := e.Payload.(safety.SafetyResourcesEvent); ok {
			out = append(out, p)
			to = append(to, *e.ClientID)
		}
	}
	return out, to
}

func (r *recorder) told() []safety.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]safety.Alert(nil), r.alerts...)
}

// failingAlerts fails its raises while fail is set.
type failingAlerts struct {
	safety.AlertStore
	mu   sync.Mutex
	fail bool
}

func (f *failingAlerts) Raise(ctx context.Context, a safety.Alert) (safety.Alert, bool, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return safety.Alert{}, false, fmt.Errorf("raise: %w", core.ErrUnavailable)
	}
	return f.AlertStore.Raise(ctx, a)
}

func (f *failingAlerts) setFail(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = v
}

// alertsBundle is a chat service screening with the Screener and acting with Alerts, over
// memory stores sharing one database.
type alertsBundle struct {
	chat     *chat.Service
	alerts   *safety.Alerts
	store    *failingAlerts
	notes    *recorder
	session  pairing.ChatSession
	settings *settings
	clock    *clock.Fake
}

func newAlertsBundle(t *testing.T) alertsBundle {
	t.Helper()
	db := memdb.New()
	chats := chat.NewMemoryStoreIn(db)
	b := alertsBundle{store: &failingAlerts{AlertStore: safety.NewMemoryAlertStoreIn(db)}, notes: &recorder{},
		settings: &settings{terms: safety.DefaultCrisisTerms(), text: "Hubungi 119 ext 8."},
		clock:    clock.NewFake(time.Date(2026, 5, 4, 21, 0, 0, 0, time.UTC))}
	var err error
	b.alerts, err = safety.NewAlerts(b.store, safety.AlertsDeps{Settings: b.settings, Notifier: b.notes},
		&safety.AlertsConfig{Clock: b.clock})
	require.NoError(t, err)
	b.chat, err = chat.NewService(chats, chat.Deps{Notifier: b.notes, Screener: safety.NewScreener(b.settings), Flagged: b.alerts},
		&chat.Config{Clock: b.clock})
	require.NoError(t, err)
	now := b.clock.Now()
	b.session = pairing.ChatSession{ID: uuid.New(), ClientID: uuid.New(), MitraID: uuid.New(), Status: pairing.SessionActive,
		Minutes: 30, StartedAt: &now, EndsAt: new(now.Add(30 * time.Minute))}
	chats.PutSession(b.session)
	return b
}

func (b alertsBundle) send(t *testing.T, party pairing.Party, clientMsgID, text string) (chat.Message, error) {
	t.Helper()
	sender := b.session.ClientID
	if party == pairing.PartyMitra {
		sender = b.session.MitraID
	}
	return b.chat.Send(context.Background(), chat.SendParams{ChatSessionID: b.session.ID, Sender: party, SenderID: sender,
		ClientMsgID: clientMsgID, Text: text})
}

func (b alertsBundle) list(t *testing.T, status safety.AlertStatus) []safety.Alert {
	t.Helper()
	items, _, err := b.alerts.List(context.Background(), safety.AlertQuery{Status: status})
	require.NoError(t, err)
	return items
}

func TestAlerts_ACrisisMessageGetsResourcesOneAlertAndTheOperatorsTold(t *testing.T) {
	t.Parallel()
	b := newAlertsBundle(t)
	m, err := b.send(t, pairing.PartyClient, "c-1", "Aku ingin mati. WA aku 0812-3456-7890")
	require.NoError(t, err)
	require.Equal(t, "Aku ingin mati. WA aku [hidden]", m.Text)
	require.Equal(t, []chat.Flag{safety.FlagContact, safety.FlagCrisis}, m.Flags)

	res, to := b.notes.resources()
	require.Equal(t, []safety.SafetyResourcesEvent{{ChatSessionID: b.session.ID, MessageID: m.ID, Text: "Hubungi 119 ext 8."}}, res)
	require.Equal(t, []uuid.UUID{b.session.ClientID}, to, "to the client who wrote it")
	want := safety.Alert{MessageID: m.ID, ChatSessionID: b.session.ID, ClientID: b.session.ClientID, MitraID: b.session.MitraID,
		Terms: []string{"ingin mati"}, Status: safety.AlertOpen, CreatedAt: b.clock.Now()}
	open := b.list(t, safety.AlertOpen)
	require.Len(t, open, 1)
	want.ID = open[0].ID
	require.Equal(t, want, open[0])
	require.Equal(t, []safety.Alert{want}, b.notes.told())

	// Sent again (a lost answer): the same message, the resources again, no second alert.
	again, err := b.send(t, pairing.PartyClient, "c-1", "Aku ingin mati. WA aku 0812-3456-7890")
	require.NoError(t, err)
	require.Equal(t, m.ID, again.ID)
	res, _ = b.notes.resources()
	require.Len(t, res, 2)
	require.Len(t, b.list(t, ""), 1)
	require.Len(t, b.notes.told(), 1, "the operators are told of a new alert only")
}

func TestAlerts_OnlyAClientsCrisisMessageRaisesOne(t *testing.T) {
	t.Parallel()
	b := newAlertsBundle(t)
	for i, c := range []struct {
		party pairing.Party
		text  string
	}{
		{pairing.PartyMitra, "apa kamu ingin mati? ceritakan ya"}, // a mitra's words are not matched
		{pairing.PartyClient, "WA aku 0812-3456-7890"},            // flagged contact only
		{pairing.PartyClient, "halo kak"},
	} {
		_, err := b.send(t, c.party, fmt.Sprint("m-", i), c.text)
		require.NoError(t, err)
	}
	res, _ := b.notes.resources()
	require.Empty(t, res)
	require.Empty(t, b.list(t, ""))
	require.Empty(t, b.notes.told())
}

func TestAlerts_AFailedRaiseFailsTheSendAndTheResendRaisesIt(t *testing.T) {
	t.Parallel()
	b := newAlertsBundle(t)
	b.store.setFail(true)
	_, err := b.send(t, pairing.PartyClient, "c-1", "aku mau bunuh diri")
	require.ErrorIs(t, err, core.ErrUnavailable)
	res, _ := b.notes.resources()
	require.Len(t, res, 1, "the resources go first, whatever happens to the alert")
	require.Empty(t, b.list(t, ""))

	b.store.setFail(false)
	m, err := b.send(t, pairing.PartyClient, "c-1", "aku mau bunuh diri")
	require.NoError(t, err)
	require.Equal(t, int64(1), m.Seq, "the message was stored the first time")
	open := b.list(t, safety.AlertOpen)
	require.Len(t, open, 1)
	require.Equal(t, m.ID, open[0].MessageID)
	require.Equal(t, []string{"bunuh diri"}, open[0].Terms)
}

func TestAlerts_AckIsIdempotentAndNamesWhoAcknowledgedFirst(t *testing.T) {
	t.Parallel()
	b := newAlertsBundle(t)
	_, err := b.send(t, pairing.PartyClient, "c-1", "I want to end my life")
	require.NoError(t, err)
	a := b.list(t, safety.AlertOpen)[0]
	ctx := context.Background()

	_, _, err = b.alerts.Ack(ctx, a.ID, "")
	check.Invalid(t, err, "by")
	b.clock.Advance(time.Minute)
	acked, changed, err := b.alerts.Ack(ctx, a.ID, "op-1")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, safety.AlertAcknowledged, acked.Status)
	require.Equal(t, "op-1", acked.AcknowledgedBy)
	require.Equal(t, b.clock.Now(), *acked.AcknowledgedAt)
	b.clock.Advance(time.Minute)
	again, changed, err := b.alerts.Ack(ctx, a.ID, "op-2")
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, acked, again)
	require.Empty(t, b.list(t, safety.AlertOpen))
	require.Equal(t, []safety.Alert{acked}, b.list(t, safety.AlertAcknowledged))

	_, _, err = b.alerts.Ack(ctx, uuid.New(), "op-1")
	require.ErrorIs(t, err, safety.ErrNotFound)
	got, err := b.alerts.Get(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, acked, got)
}

func TestAlerts_ListValidatesItsQuery(t *testing.T) {
	t.Parallel()
	b := newAlertsBundle(t)
	for _, c := range []struct {
		q     safety.AlertQuery
		field string
	}{
		{safety.AlertQuery{Status: "closed"}, "status"},
		{safety.AlertQuery{Page: -1}, "page"},
		{safety.AlertQuery{PageSize: safety.MaxAlertPageSize + 1}, "page_size"},
		{safety.AlertQuery{PageSize: -1}, "page_size"},
	} {
		_, _, err := b.alerts.List(context.Background(), c.q)
		check.Invalid(t, err, c.field)
	}
}

func TestNewAlerts_RefusesNoStoreAndWorksWithoutDeps(t *testing.T) {
	t.Parallel()
	_, err := safety.NewAlerts(nil, safety.AlertsDeps{}, nil)
	check.Invalid(t, err, "store")
	a, err := safety.NewAlerts(safety.NewMemoryAlertStore(), safety.AlertsDeps{}, nil)
	require.NoError(t, err)
	// No notifier: the alert is stored, nothing is told.
	m := chat.Message{ID: uuid.New(), ChatSessionID: uuid.New(), Sender: pairing.PartyClient, Text: "suicide",
		Flags: []chat.Flag{safety.FlagCrisis}}
	require.NoError(t, a.MessageFlagged(context.Background(), chat.Flagged{Message: m, ClientID: uuid.New(), MitraID: uuid.New()}))
	items, total, err := a.List(context.Background(), safety.AlertQuery{})
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, []string{"suicide"}, items[0].Terms)
}
