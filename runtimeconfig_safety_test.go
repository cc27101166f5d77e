package curhat_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability"
	"github.com/curhat/curhat/chat"
	"github.com/curhat/curhat/internal/testenv"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
	"github.com/curhat/curhat/safety"
)

// The string and list kinds of runtime settings, and the safety keys that use them.

// jsonOf is v's JSON.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

func TestRuntimeConfig_ValidatesStringAndListValues(t *testing.T) {
	t.Parallel()
	terms := func(n int, term string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = term
		}
		raw, _ := json.Marshal(items)
		return string(raw)
	}
	long := strings.Repeat("a", 2000)
	cases := []struct {
		name, key, value string
		stored           string // "" = refused on "value"
	}{
		{"list", "safety_crisis_terms", `["bunuh diri", "suicide"]`, `["bunuh diri","suicide"]`},
		{"list items trimmed", "safety_crisis_terms", ` [" ingin mati ", "x"] `, `["ingin mati","x"]`},
		{"list of one", "safety_crisis_terms", `["mati"]`, `["mati"]`},
		{"list of 200", "safety_crisis_terms", terms(200, "mati"), terms(200, "mati")},
		{"list of 201", "safety_crisis_terms", terms(201, "mati"), ""},
		{"empty list", "safety_crisis_terms", `[]`, ""},
		{"item of 100", "safety_crisis_terms", terms(1, strings.Repeat("é", 100)), terms(1, strings.Repeat("é", 100))},
		{"item of 101", "safety_crisis_terms", terms(1, strings.Repeat("é", 101)), ""},
		{"blank item", "safety_crisis_terms", `["mati", "  "]`, ""},
		{"empty item", "safety_crisis_terms", `[""]`, ""},
		{"item without a word", "safety_crisis_terms", `["!!!"]`, ""},
		{"null item", "safety_crisis_terms", `["mati", null]`, ""},
		{"number item", "safety_crisis_terms", `["mati", 1]`, ""},
		{"NUL in an item", "safety_crisis_terms", `["ma\u0000ti"]`, ""},
		{"string for a list", "safety_crisis_terms", `"bunuh diri"`, ""},
		{"object for a list", "safety_crisis_terms", `{"a":"b"}`, ""},
		{"null list", "safety_crisis_terms", `null`, ""},
		{"list escapes kept as text", "safety_crisis_terms", `["<b>&mati"]`, `["<b>&mati"]`},
		{"string", "safety_resources_text", `"Hubungi 119 ext 8."`, `"Hubungi 119 ext 8."`},
		{"string with a newline", "safety_resources_text", `"Kamu tidak sendirian.\nHubungi 112."`, `"Kamu tidak sendirian.\nHubungi 112."`},
		{"string of 2000", "safety_resources_text", jsonOf(t, long), jsonOf(t, long)},
		{"string of 2001", "safety_resources_text", jsonOf(t, long+"a"), ""},
		{"empty string", "safety_resources_text", `""`, ""},
		{"blank string", "safety_resources_text", `"   "`, ""},
		{"NUL in a string", "safety_resources_text", `"a\u0000b"`, ""},
		{"number for a string", "safety_resources_text", `112`, ""},
		{"list for a string", "safety_resources_text", `["a"]`, ""},
		{"null string", "safety_resources_text", `null`, ""},
		{"bare word", "safety_resources_text", `halo`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireConfigWrite(t, tc.key, tc.value, tc.stored, "")
		})
	}
}

// A refused item's reason reads once, with the item it is about.
func TestRuntimeConfig_ARefusedListItemSaysWhichAndWhy(t *testing.T) {
	t.Parallel()
	rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), nil, nil)
	require.NoError(t, err)
	_, err = rc.Set(context.Background(), "safety_crisis_terms", json.RawMessage(`["bunuh diri", "!!!"]`), "op")
	require.EqualError(t, err, `invalid value: safety_crisis_terms item 2: the crisis term "!!!" holds no word (letters or digits)`)
}

// Postgres keeps the value as jsonb (reformatted): the getters and List read it back.
func TestRuntimeConfig_ListAndStringRoundTripThroughPostgres(t *testing.T) {
	t.Parallel()
	rc, err := curhat.NewRuntimeConfig(curhat.NewPostgresConfigStore(testenv.Postgres(t).Pool), nil, nil)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = rc.Set(ctx, "safety_crisis_terms", json.RawMessage(`["putus asa", "ｓｕｉｃｉｄｅ"]`), "op")
	require.NoError(t, err)
	_, err = rc.Set(ctx, "safety_resources_text", json.RawMessage(`"Hubungi <112> & SEJIWA"`), "op")
	require.NoError(t, err)
	require.Equal(t, []string{"putus asa", "ｓｕｉｃｉｄｅ"}, rc.SafetyCrisisTerms(ctx))
	require.Equal(t, "Hubungi <112> & SEJIWA", rc.SafetyResourcesText(ctx))
	items, err := rc.List(ctx)
	require.NoError(t, err)
	for _, it := range items {
		switch it.Key {
		case curhat.KeySafetyCrisisTerms:
			require.Equal(t, `["putus asa","ｓｕｉｃｉｄｅ"]`, string(it.Value))
		case curhat.KeySafetyResourcesText:
			require.Equal(t, `"Hubungi <112> & SEJIWA"`, string(it.Value))
		}
	}
}

// A new list of crisis terms written on one instance screens the next client message on
// another as soon as the invalidation arrives.
func TestScreening_ANewListOfTermsAppliesOnEveryInstance(t *testing.T) {
	t.Parallel()
	store, bus := curhat.NewMemoryConfigStore(), curhat.NewMemoryBus()
	a, err := curhat.NewRuntimeConfig(store, bus, noExpiry)
	require.NoError(t, err)
	startRC(t, a)
	b, err := curhat.NewRuntimeConfig(store, bus, noExpiry)
	require.NoError(t, err)
	startRC(t, b)
	screener := safety.NewScreener(b)
	flags := func(text string) []chat.Flag {
		out, err := screener.Screen(context.Background(), chat.Screening{ChatSessionID: uuid.New(), Sender: pairing.PartyClient,
			Text: text, Flags: []chat.Flag{}})
		require.NoError(t, err)
		return out.Flags
	}
	require.Empty(t, flags("aku putus asa"), "not a default term")
	require.Equal(t, []chat.Flag{safety.FlagCrisis}, flags("aku ingin mati"))

	_, err = a.Set(context.Background(), "safety_crisis_terms", json.RawMessage(`["putus asa"]`), "op")
	require.NoError(t, err)
	waitFor(t, 5*time.Second, "the new terms on the other instance", func() bool { return len(flags("aku putus asa")) == 1 })
	require.Empty(t, flags("aku ingin mati"), "the old list is gone")
}

func TestClient_ScreensByDefaultAndScreeningOffTurnsItOff(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		screener chat.Screener
		text     string
		flags    []chat.Flag
		alerts   int
	}{
		{"default", nil, "aku ingin mati, WA 0812-3456-7890", []chat.Flag{safety.FlagContact, safety.FlagCrisis}, 1},
		{"off", curhat.ScreeningOff, "aku ingin mati, WA 0812-3456-7890", []chat.Flag{}, 0},
		{"the host's", flagAll{}, "anything", []chat.Flag{safety.FlagCrisis}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client, sess := memoryChat(t, &curhat.Config{Screener: c.screener})
			m, err := client.Chat().Send(context.Background(), chat.SendParams{ChatSessionID: sess.ID, Sender: pairing.PartyClient,
				SenderID: sess.ClientID, ClientMsgID: "m-1", Text: c.text})
			require.NoError(t, err)
			require.Equal(t, c.flags, m.Flags)
			_, total, err := client.SafetyAlerts().List(context.Background(), safety.AlertQuery{})
			require.NoError(t, err)
			require.Equal(t, c.alerts, total, "the alerts follow the crisis flag, whoever set it")
		})
	}
}

// flagAll is a host's screener that flags every message crisis.
type flagAll struct{}

func (flagAll) Screen(_ context.Context, s chat.Screening) (chat.Screening, error) {
	s.Flags = append(s.Flags, safety.FlagCrisis)
	return s, nil
}

// memoryChat starts a memory Client built with cfg (its gateway, clock and sweeps set
// here) and an active 30-minute chat session in it.
func memoryChat(t *testing.T, cfg *curhat.Config) (*curhat.Client, pairing.ChatSession) {
	t.Helper()
	base, gw, _, _ := testConfig()
	cfg.Gateway, cfg.Clock, cfg.Sweeps = gw, base.Clock, base.Sweeps
	c, err := curhat.NewMemoryClient(cfg)
	require.NoError(t, err)
	startClient(t, c)
	ctx := context.Background()
	_, err = c.Pricing().CreateTier(ctx, pricing.CreateTierParams{Mode: pricing.ModeSession, Minutes: 30, Price: 25000,
		Label: "30 menit", ChangedBy: "op"})
	require.NoError(t, err)
	m, err := c.Availability().CreateMitra(ctx, availability.CreateMitraParams{DisplayName: "Ayu"})
	require.NoError(t, err)
	require.NoError(t, c.SetMitraOnline(ctx, m.ID))
	client, err := c.RegisterClient(ctx, pairing.RegisterClientParams{DisplayName: "Dewi"})
	require.NoError(t, err)
	pr, pay, err := c.Pairing().StartBlast(ctx, pairing.StartParams{ClientID: client.ID, Minutes: 30})
	require.NoError(t, err)
	_, err = c.Payments().MarkPaid(ctx, pay.ID, pay.ProviderRef)
	require.NoError(t, err)
	sess, err := c.Pairing().Accept(ctx, m.ID, pr.ID)
	require.NoError(t, err)
	return c, sess
}
