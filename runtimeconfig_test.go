package curhat_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/safety"
)

// countingStore counts Gets and can be made to fail or to block.
type countingStore struct {
	curhat.ConfigStore
	gets  atomic.Int64
	mu    sync.Mutex
	fail  error
	block chan struct{}
}

func (s *countingStore) Get(ctx context.Context, key curhat.ConfigKey) (curhat.ConfigEntry, error) {
	s.gets.Add(1)
	s.mu.Lock()
	fail, block := s.fail, s.block
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return curhat.ConfigEntry{}, ctx.Err()
		}
	}
	if fail != nil {
		return curhat.ConfigEntry{}, fail
	}
	return s.ConfigStore.Get(ctx, key)
}

func (s *countingStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

type rcBundle struct {
	store *countingStore
	bus   *curhat.MemoryBus
	clock *clock.Fake
	rc    *curhat.RuntimeConfig
}

// setupRC returns a started RuntimeConfig on memory implementations and a fake clock, with
// its subscription established.
func setupRC(t *testing.T) rcBundle {
	t.Helper()
	b := rcBundle{
		store: &countingStore{ConfigStore: curhat.NewMemoryConfigStore()},
		bus:   curhat.NewMemoryBus(),
		clock: clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)),
	}
	var err error
	b.rc, err = curhat.NewRuntimeConfig(b.store, b.bus, &curhat.RuntimeConfigOptions{Clock: b.clock})
	require.NoError(t, err)
	startRC(t, b.rc)
	return b
}

func startRC(t *testing.T, rc *curhat.RuntimeConfig) {
	t.Helper()
	require.NoError(t, rc.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, rc.Stop(ctx))
	})
	waitFor(t, 5*time.Second, "subscribed", rc.Subscribed)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

func TestRuntimeConfig_ServesDefaultsWhileUnset(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	ctx := context.Background()
	require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx))
	require.Equal(t, 20*time.Second, b.rc.TargetedTimeout(ctx))
	require.Equal(t, 900*time.Second, b.rc.PaymentSessionTTL(ctx))
	require.True(t, b.rc.ExtensionAutoApprove(ctx))
	require.Equal(t, 1, b.rc.MitraMaxConcurrentSessions(ctx))
	require.False(t, b.rc.QueueEnabled(ctx), "every pairing policy is off by default")
	require.Equal(t, 300*time.Second, b.rc.QueueMaxWait(ctx))
	require.Equal(t, 100, b.rc.QueueMaxLength(ctx))
	require.Equal(t, "blast", b.rc.OfferPolicy(ctx))
	require.Equal(t, 3, b.rc.RingSize(ctx))
	require.Equal(t, 10*time.Second, b.rc.RingInterval(ctx))
	require.Zero(t, b.rc.MissedOffersBeforeAway(ctx))
	require.Equal(t, 30, b.rc.PlatformFeePercent(ctx))
	require.Equal(t, 72*time.Hour, b.rc.EarningsClearance(ctx))
	require.Equal(t, 60, b.rc.ChatMessageRatePerMinute(ctx))
	require.Zero(t, b.rc.MitraFirstReplyTimeout(ctx), "the no-show rule is off by default")
	require.Equal(t, 90*24*time.Hour, b.rc.ChatMessageRetention(ctx))
	require.Equal(t, safety.DefaultCrisisTerms(), b.rc.SafetyCrisisTerms(ctx))
	require.Equal(t, safety.DefaultResourcesText, b.rc.SafetyResourcesText(ctx))

	items, err := b.rc.List(ctx)
	require.NoError(t, err)
	require.Len(t, items, 23)
	want := map[curhat.ConfigKey]string{
		curhat.KeyPairingBlastTimeout:         `60`,
		curhat.KeyPairingTargetedTimeout:      `20`,
		curhat.KeyPaymentSessionTTL:           `900`,
		curhat.KeyExtensionAutoApprove:        `true`,
		curhat.KeyMitraMaxConcurrentSessions:  `1`,
		curhat.KeyPairingQueueEnabled:         `false`,
		curhat.KeyPairingQueueMaxWait:         `300`,
		curhat.KeyPairingQueueMaxLength:       `100`,
		curhat.KeyPairingOfferPolicy:          `"blast"`,
		curhat.KeyPairingRingSize:             `3`,
		curhat.KeyPairingRingInterval:         `10`,
		curhat.KeyMitraMissedOffersBeforeAway: `0`,
		curhat.KeyPlatformFeePercent:          `30`,
		curhat.KeyEarningsClearanceHours:      `72`,
		curhat.KeyPayoutMinimumAmount:         `50000`,
		curhat.KeyChatMessageRatePerMinute:    `60`,
		curhat.KeyMitraFirstReplySeconds:      `0`,
		curhat.KeyChatMessageRetentionDays:    `90`,
		curhat.KeySafetyCrisisTerms:           jsonOf(t, safety.DefaultCrisisTerms()),
		curhat.KeySafetyResourcesText:         jsonOf(t, safety.DefaultResourcesText),
		curhat.KeyPairingRoutingSteps:         `[{"match":"all","seconds":20},{"match":"language","seconds":20},{"match":"any"}]`,
		curhat.KeyPairingRankWeights:          `{"rating":0,"accept":0,"idle":1}`,
		curhat.KeyMitraWrapupSeconds:          `0`,
	}
	for i, it := range items {
		require.Equal(t, curhat.ConfigKeys()[i], it.Key)
		require.JSONEq(t, want[it.Key], string(it.Value), it.Key)
		require.True(t, it.Default, it.Key)
		require.Nil(t, it.UpdatedAt, it.Key)
	}
}

func TestRuntimeConfig_SetIsReadBackByGettersAndList(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	ctx := context.Background()
	require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx)) // cached now

	sets := []struct {
		key, value string
	}{
		{"pairing_blast_timeout_seconds", `120`},
		{"pairing_targeted_timeout_seconds", `30`},
		{"payment_session_ttl_seconds", `600`},
		{"extension_auto_approve", `false`},
		{"mitra_max_concurrent_sessions", `3`},
		{"pairing_queue_enabled", `true`},
		{"pairing_queue_max_wait_seconds", `120`},
		{"pairing_queue_max_length", `7`},
		{"pairing_offer_policy", `"ring"`},
		{"pairing_ring_size", `2`},
		{"pairing_ring_interval_seconds", `5`},
		{"mitra_missed_offers_before_away", `3`},
		{"platform_fee_percent", `15`},
		{"earnings_clearance_hours", `336`},
		{"payout_minimum_amount", `75000`},
		{"chat_message_rate_per_minute", `20`},
		{"mitra_first_reply_seconds", `45`},
		{"chat_message_retention_days", `30`},
		{"safety_crisis_terms", `["putus asa","ingin mati"]`},
		{"safety_resources_text", `"Hubungi 119 ext 8."`},
		{"pairing_routing_steps", `[{"match":"all","seconds":30},{"match":"any"}]`},
		{"pairing_rank_weights", `{"rating":0.5,"accept":0.5,"idle":0}`},
		{"mitra_wrapup_seconds", `60`},
	}
	for _, s := range sets {
		it, err := b.rc.Set(ctx, s.key, json.RawMessage(s.value), "op-7")
		require.NoError(t, err)
		require.Equal(t, curhat.ConfigKey(s.key), it.Key)
		require.JSONEq(t, s.value, string(it.Value))
		require.False(t, it.Default)
		require.NotNil(t, it.UpdatedAt)
		require.Equal(t, "op-7", it.UpdatedBy)
	}
	require.Equal(t, 120*time.Second, b.rc.BlastTimeout(ctx), "own write drops the cached copy at once")
	require.Equal(t, 30*time.Second, b.rc.TargetedTimeout(ctx))
	require.Equal(t, 600*time.Second, b.rc.PaymentSessionTTL(ctx))
	require.False(t, b.rc.ExtensionAutoApprove(ctx))
	require.Equal(t, 3, b.rc.MitraMaxConcurrentSessions(ctx))
	require.True(t, b.rc.QueueEnabled(ctx))
	require.Equal(t, 120*time.Second, b.rc.QueueMaxWait(ctx))
	require.Equal(t, 7, b.rc.QueueMaxLength(ctx))
	require.Equal(t, "ring", b.rc.OfferPolicy(ctx))
	require.Equal(t, 2, b.rc.RingSize(ctx))
	require.Equal(t, 5*time.Second, b.rc.RingInterval(ctx))
	require.Equal(t, 3, b.rc.MissedOffersBeforeAway(ctx))
	require.Equal(t, 15, b.rc.PlatformFeePercent(ctx))
	require.Equal(t, 336*time.Hour, b.rc.EarningsClearance(ctx))
	require.Equal(t, int64(75000), b.rc.PayoutMinimum(ctx))
	require.Equal(t, 20, b.rc.ChatMessageRatePerMinute(ctx))
	require.Equal(t, 45*time.Second, b.rc.MitraFirstReplyTimeout(ctx))
	require.Equal(t, 30*24*time.Hour, b.rc.ChatMessageRetention(ctx))
	require.Equal(t, []string{"putus asa", "ingin mati"}, b.rc.SafetyCrisisTerms(ctx))
	require.Equal(t, "Hubungi 119 ext 8.", b.rc.SafetyResourcesText(ctx))
	require.Equal(t, []pairing.RoutingStep{{Match: pairing.MatchAll, Seconds: 30}, {Match: pairing.MatchAny}}, b.rc.RoutingSteps(ctx))
	require.Equal(t, pairing.RankWeights{Rating: 0.5, Accept: 0.5}, b.rc.RankWeights(ctx))
	require.Equal(t, time.Minute, b.rc.MitraWrapup(ctx))

	items, err := b.rc.List(ctx)
	require.NoError(t, err)
	for i, it := range items {
		require.JSONEq(t, sets[i].value, string(it.Value))
		require.False(t, it.Default)
		require.Equal(t, "op-7", it.UpdatedBy)
	}
}

func TestRuntimeConfig_SetValidatesKeyAndValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		key     string
		value   string
		field   string // "" = accepted
		unknown bool
		stored  string
	}{
		{name: "unknown key", key: "pricing_session_tiers_json", value: `1`, field: "key", unknown: true},
		{name: "empty key", key: "", value: `1`, field: "key", unknown: true},
		{name: "int accepted", key: "pairing_blast_timeout_seconds", value: `90`, stored: `90`},
		{name: "int padded accepted", key: "pairing_blast_timeout_seconds", value: " 90\n", stored: `90`},
		{name: "int lower bound", key: "pairing_blast_timeout_seconds", value: `1`, stored: `1`},
		{name: "int upper bound", key: "pairing_blast_timeout_seconds", value: `3600`, stored: `3600`},
		{name: "int below range", key: "pairing_blast_timeout_seconds", value: `0`, field: "value"},
		{name: "int above range", key: "pairing_blast_timeout_seconds", value: `3601`, field: "value"},
		{name: "negative", key: "pairing_targeted_timeout_seconds", value: `-5`, field: "value"},
		{name: "targeted above range", key: "pairing_targeted_timeout_seconds", value: `601`, field: "value"},
		{name: "ttl below range", key: "payment_session_ttl_seconds", value: `29`, field: "value"},
		{name: "ttl above range", key: "payment_session_ttl_seconds", value: `86401`, field: "value"},
		{name: "capacity above range", key: "mitra_max_concurrent_sessions", value: `101`, field: "value"},
		{name: "capacity zero", key: "mitra_max_concurrent_sessions", value: `0`, field: "value"},
		{name: "int as string", key: "pairing_blast_timeout_seconds", value: `"60"`, field: "value"},
		{name: "fraction", key: "pairing_blast_timeout_seconds", value: `60.5`, field: "value"},
		{name: "exponent", key: "pairing_blast_timeout_seconds", value: `6e1`, field: "value"},
		{name: "huge", key: "pairing_blast_timeout_seconds", value: `99999999999999999999999`, field: "value"},
		{name: "null int", key: "pairing_blast_timeout_seconds", value: `null`, field: "value"},
		{name: "bool for int", key: "pairing_blast_timeout_seconds", value: `true`, field: "value"},
		{name: "empty value", key: "pairing_blast_timeout_seconds", value: ``, field: "value"},
		{name: "object", key: "pairing_blast_timeout_seconds", value: `{"v":60}`, field: "value"},
		{name: "bool true", key: "extension_auto_approve", value: `true`, stored: `true`},
		{name: "bool false", key: "extension_auto_approve", value: `false`, stored: `false`},
		{name: "bool as string", key: "extension_auto_approve", value: `"true"`, field: "value"},
		{name: "int for bool", key: "extension_auto_approve", value: `1`, field: "value"},
		{name: "null bool", key: "extension_auto_approve", value: `null`, field: "value"},
		{name: "not json", key: "extension_auto_approve", value: `tru`, field: "value"},
		{name: "queue wait lower bound", key: "pairing_queue_max_wait_seconds", value: `10`, stored: `10`},
		{name: "queue wait below range", key: "pairing_queue_max_wait_seconds", value: `9`, field: "value"},
		{name: "queue wait above range", key: "pairing_queue_max_wait_seconds", value: `3601`, field: "value"},
		{name: "queue length upper bound", key: "pairing_queue_max_length", value: `100000`, stored: `100000`},
		{name: "queue length zero", key: "pairing_queue_max_length", value: `0`, field: "value"},
		{name: "queue length above range", key: "pairing_queue_max_length", value: `100001`, field: "value"},
		{name: "queue enabled as int", key: "pairing_queue_enabled", value: `1`, field: "value"},
		{name: "policy ring", key: "pairing_offer_policy", value: `"ring"`, stored: `"ring"`},
		{name: "policy blast padded", key: "pairing_offer_policy", value: " \"blast\"\n", stored: `"blast"`},
		{name: "policy unknown", key: "pairing_offer_policy", value: `"round_robin"`, field: "value"},
		{name: "policy case", key: "pairing_offer_policy", value: `"Ring"`, field: "value"},
		{name: "policy bare word", key: "pairing_offer_policy", value: `ring`, field: "value"},
		{name: "policy null", key: "pairing_offer_policy", value: `null`, field: "value"},
		{name: "policy int", key: "pairing_offer_policy", value: `1`, field: "value"},
		{name: "policy escaped", key: "pairing_offer_policy", value: `"\u0072ing"`, stored: `"ring"`},
		{name: "ring size zero", key: "pairing_ring_size", value: `0`, field: "value"},
		{name: "ring size above range", key: "pairing_ring_size", value: `101`, field: "value"},
		{name: "ring interval lower bound", key: "pairing_ring_interval_seconds", value: `1`, stored: `1`},
		{name: "ring interval above range", key: "pairing_ring_interval_seconds", value: `301`, field: "value"},
		{name: "missed offers off", key: "mitra_missed_offers_before_away", value: `0`, stored: `0`},
		{name: "missed offers above range", key: "mitra_missed_offers_before_away", value: `101`, field: "value"},
		{name: "missed offers negative", key: "mitra_missed_offers_before_away", value: `-1`, field: "value"},
		{name: "chat rate lower bound", key: "chat_message_rate_per_minute", value: `1`, stored: `1`},
		{name: "chat rate upper bound", key: "chat_message_rate_per_minute", value: `600`, stored: `600`},
		{name: "chat rate zero", key: "chat_message_rate_per_minute", value: `0`, field: "value"},
		{name: "chat rate above range", key: "chat_message_rate_per_minute", value: `601`, field: "value"},
		{name: "first reply off", key: "mitra_first_reply_seconds", value: `0`, stored: `0`},
		{name: "first reply upper bound", key: "mitra_first_reply_seconds", value: `1800`, stored: `1800`},
		{name: "first reply above range", key: "mitra_first_reply_seconds", value: `1801`, field: "value"},
		{name: "first reply negative", key: "mitra_first_reply_seconds", value: `-1`, field: "value"},
		{name: "retention lower bound", key: "chat_message_retention_days", value: `1`, stored: `1`},
		{name: "retention upper bound", key: "chat_message_retention_days", value: `3650`, stored: `3650`},
		{name: "retention zero", key: "chat_message_retention_days", value: `0`, field: "value"},
		{name: "retention above range", key: "chat_message_retention_days", value: `3651`, field: "value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := curhat.NewMemoryConfigStore()
			rc, err := curhat.NewRuntimeConfig(store, nil, nil)
			require.NoError(t, err)
			it, err := rc.Set(context.Background(), tc.key, json.RawMessage(tc.value), "op")
			if tc.field == "" {
				require.NoError(t, err)
				require.Equal(t, tc.stored, string(it.Value))
				e, err := store.Get(context.Background(), curhat.ConfigKey(tc.key))
				require.NoError(t, err)
				require.Equal(t, tc.stored, string(e.Value), "stored canonically")
				return
			}
			var ve *curhat.ValidationError
			require.True(t, errors.As(err, &ve), "want a ValidationError, got %v", err)
			require.Equal(t, tc.field, ve.Field)
			require.Equal(t, tc.unknown, errors.Is(err, curhat.ErrUnknownConfigKey))
			list, err := store.List(context.Background())
			require.NoError(t, err)
			require.Empty(t, list, "nothing written")
		})
	}
}

func TestRuntimeConfig_ReadsAreServedFromTheCache(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	ctx := context.Background()
	for range 100 {
		require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx))
	}
	require.EqualValues(t, 1, b.store.gets.Load())
}

func TestRuntimeConfig_ConcurrentMissesShareOneStoreRead(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	block := make(chan struct{})
	b.store.mu.Lock()
	b.store.block = block
	b.store.mu.Unlock()

	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.Equal(t, 1, b.rc.MitraMaxConcurrentSessions(context.Background()))
		}()
	}
	waitFor(t, 5*time.Second, "the first read to start", func() bool { return b.store.gets.Load() == 1 })
	close(block)
	wg.Wait()
	require.EqualValues(t, 1, b.store.gets.Load())
}

func TestRuntimeConfig_MaxAgeBoundsStalenessWithoutInvalidation(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	ctx := context.Background()
	require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx))
	// A write around the service (no publish): the cache keeps serving the old value...
	_, err := b.store.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPairingBlastTimeout, Value: json.RawMessage(`45`)})
	require.NoError(t, err)
	b.clock.Advance(curhat.DefaultConfigMaxAge - time.Second)
	require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx))
	// ...until MaxAge passes.
	b.clock.Advance(time.Second)
	require.Equal(t, 45*time.Second, b.rc.BlastTimeout(ctx))
}

func TestRuntimeConfig_LostSubscriptionDropsTheCacheAndShortensTrust(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	ctx := context.Background()
	require.Equal(t, 60*time.Second, b.rc.BlastTimeout(ctx))
	_, err := b.store.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPairingBlastTimeout, Value: json.RawMessage(`45`)})
	require.NoError(t, err)

	b.bus.Disconnect()
	waitFor(t, 5*time.Second, "unsubscribed", func() bool { return !b.rc.Subscribed() })
	require.Equal(t, 45*time.Second, b.rc.BlastTimeout(ctx), "the whole cache was dropped")

	// While unsubscribed, a cached value is trusted for UnsubscribedMaxAge only.
	_, err = b.store.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPairingBlastTimeout, Value: json.RawMessage(`50`)})
	require.NoError(t, err)
	require.Equal(t, 45*time.Second, b.rc.BlastTimeout(ctx))
	b.clock.Advance(curhat.DefaultConfigUnsubscribedMaxAge)
	require.Equal(t, 50*time.Second, b.rc.BlastTimeout(ctx))

	// Resubscribing drops the cache again (messages were lost meanwhile).
	_, err = b.store.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPairingBlastTimeout, Value: json.RawMessage(`55`)})
	require.NoError(t, err)
	b.bus.Reconnect()
	waitFor(t, 5*time.Second, "resubscribed and reread", func() bool {
		return b.rc.Subscribed() && b.rc.BlastTimeout(ctx) == 55*time.Second
	})
	// Subscribed again: the long bound applies.
	_, err = b.store.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPairingBlastTimeout, Value: json.RawMessage(`56`)})
	require.NoError(t, err)
	b.clock.Advance(curhat.DefaultConfigUnsubscribedMaxAge)
	require.Equal(t, 55*time.Second, b.rc.BlastTimeout(ctx))
}

func TestRuntimeConfig_StoreFailureServesLastKnownValueThenDefault(t *testing.T) {
	t.Parallel()
	// No bus: the echo of our own publish would drop the cache at a moment of its choosing.
	b := rcBundle{
		store: &countingStore{ConfigStore: curhat.NewMemoryConfigStore()},
		clock: clock.NewFake(time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC)),
	}
	var err error
	b.rc, err = curhat.NewRuntimeConfig(b.store, nil, &curhat.RuntimeConfigOptions{Clock: b.clock})
	require.NoError(t, err)
	ctx := context.Background()

	// Never read successfully: the default.
	b.store.setFail(curhat.ErrUnavailable)
	require.Equal(t, 1, b.rc.MitraMaxConcurrentSessions(ctx))

	b.store.setFail(nil)
	b.clock.Advance(curhat.DefaultConfigErrorRetry)
	_, err = b.rc.Set(ctx, string(curhat.KeyMitraMaxConcurrentSessions), json.RawMessage(`4`), "op")
	require.NoError(t, err)
	require.Equal(t, 4, b.rc.MitraMaxConcurrentSessions(ctx))

	// Read once, then the store fails: the last value read, not the default.
	b.store.setFail(curhat.ErrUnavailable)
	b.clock.Advance(curhat.DefaultConfigMaxAge)
	require.Equal(t, 4, b.rc.MitraMaxConcurrentSessions(ctx))
	// A failure is retried after ErrorRetry, not on every call.
	gets := b.store.gets.Load()
	for range 10 {
		require.Equal(t, 4, b.rc.MitraMaxConcurrentSessions(ctx))
	}
	require.Equal(t, gets, b.store.gets.Load())
	b.store.setFail(nil)
	b.clock.Advance(curhat.DefaultConfigErrorRetry)
	require.Equal(t, 4, b.rc.MitraMaxConcurrentSessions(ctx))
	require.Equal(t, gets+1, b.store.gets.Load())
}

func TestRuntimeConfig_InvalidStoredValueServesTheDefault(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	ctx := context.Background()
	_, err := b.store.Put(ctx, curhat.ConfigEntry{Key: curhat.KeyPaymentSessionTTL, Value: json.RawMessage(`"soon"`)})
	require.NoError(t, err)
	require.Equal(t, curhat.DefaultPaymentSessionTTL, b.rc.PaymentSessionTTL(ctx))
	items, err := b.rc.List(ctx)
	require.NoError(t, err)
	require.True(t, items[2].Default)
	require.JSONEq(t, `900`, string(items[2].Value))
}

func TestRuntimeConfig_GetterReturnsWhenCallerContextEnds(t *testing.T) {
	t.Parallel()
	b := setupRC(t)
	block := make(chan struct{})
	defer close(block)
	b.store.mu.Lock()
	b.store.block = block
	b.store.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Equal(t, curhat.DefaultPairingTargetedTimeout, b.rc.TargetedTimeout(ctx))
}

func TestRuntimeConfig_OnChangeFiresForLocalAndRemoteWrites(t *testing.T) {
	t.Parallel()
	store := curhat.NewMemoryConfigStore()
	bus := curhat.NewMemoryBus()
	a, err := curhat.NewRuntimeConfig(store, bus, nil)
	require.NoError(t, err)
	b, err := curhat.NewRuntimeConfig(store, bus, nil)
	require.NoError(t, err)
	startRC(t, a)
	startRC(t, b)

	var mu sync.Mutex
	seen := map[curhat.ConfigKey]int{}
	b.OnChange(func(k curhat.ConfigKey) {
		mu.Lock()
		defer mu.Unlock()
		seen[k]++
	})
	count := func(k curhat.ConfigKey) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[k]
	}
	_, err = a.Set(context.Background(), string(curhat.KeyMitraMaxConcurrentSessions), json.RawMessage(`2`), "op")
	require.NoError(t, err)
	waitFor(t, time.Second, "B notified of A's write", func() bool { return count(curhat.KeyMitraMaxConcurrentSessions) >= 1 })
	require.Zero(t, count(curhat.KeyPairingBlastTimeout))

	// A resubscription may hide changes: every key is announced.
	bus.Disconnect()
	waitFor(t, time.Second, "B unsubscribed", func() bool { return !b.Subscribed() })
	bus.Reconnect()
	waitFor(t, time.Second, "every key announced", func() bool {
		for _, k := range curhat.ConfigKeys() {
			if count(k) == 0 {
				return false
			}
		}
		return true
	})
}

func TestRuntimeConfig_Lifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("StopBeforeStart", func(t *testing.T) {
		t.Parallel()
		rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), curhat.NewMemoryBus(), nil)
		require.NoError(t, err)
		require.NoError(t, rc.Stop(ctx))
		require.NoError(t, rc.Stop(ctx))
		<-rc.Stopped()
		require.Error(t, rc.Start(ctx), "a stopped service does not start")
	})

	t.Run("StartTwiceFailsStopIsIdempotent", func(t *testing.T) {
		t.Parallel()
		rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), curhat.NewMemoryBus(), nil)
		require.NoError(t, err)
		require.NoError(t, rc.Start(ctx))
		require.Error(t, rc.Start(ctx))
		require.NoError(t, rc.Stop(ctx))
		require.NoError(t, rc.Stop(ctx))
		<-rc.Stopped()
	})

	t.Run("CancellingTheStartContextStops", func(t *testing.T) {
		t.Parallel()
		rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), curhat.NewMemoryBus(), nil)
		require.NoError(t, err)
		runCtx, cancel := context.WithCancel(ctx)
		require.NoError(t, rc.Start(runCtx))
		cancel()
		select {
		case <-rc.Stopped():
		case <-time.After(5 * time.Second):
			t.Fatal("not stopped after its context ended")
		}
		require.False(t, rc.Subscribed())
	})

	t.Run("WithoutBus", func(t *testing.T) {
		t.Parallel()
		rc, err := curhat.NewRuntimeConfig(curhat.NewMemoryConfigStore(), nil, nil)
		require.NoError(t, err)
		require.NoError(t, rc.Start(ctx))
		_, err = rc.Set(ctx, "pairing_blast_timeout_seconds", json.RawMessage(`61`), "op")
		require.NoError(t, err)
		require.Equal(t, 61*time.Second, rc.BlastTimeout(ctx))
		require.NoError(t, rc.Stop(ctx))
	})
}
