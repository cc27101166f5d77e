package curhat

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
	"github.com/curhat/curhat/internal/lifecycle"
)

// Defaults of RuntimeConfigOptions.
const (
	// DefaultConfigMaxAge bounds how long a cached setting is served without rereading the
	// store, even when no invalidation arrived (a safety net for lost messages).
	DefaultConfigMaxAge = time.Minute
	// DefaultConfigUnsubscribedMaxAge bounds how long a cached setting is trusted while the
	// bus subscription is down (invalidations from other instances cannot arrive then).
	DefaultConfigUnsubscribedMaxAge = time.Second
	// DefaultConfigStoreTimeout bounds one read of the store on behalf of the getters.
	DefaultConfigStoreTimeout = 2 * time.Second
	// DefaultConfigErrorRetry is how long a failed read is remembered (the fallback value is
	// served meanwhile), so that a store outage costs one attempt per key per interval
	// rather than one per request.
	DefaultConfigErrorRetry = time.Second
)

// RuntimeConfigOptions configures a RuntimeConfig. The zero value (or nil) works.
type RuntimeConfigOptions struct {
	// Logger receives store and bus failures. Defaults to discarding.
	Logger *slog.Logger
	// Clock tells the age of cached values (a curhat.Clock, which a host may
	// implement). Defaults to the wall clock.
	Clock clock.Clock
	// MaxAge: see DefaultConfigMaxAge. Defaults to 1 minute.
	MaxAge time.Duration
	// UnsubscribedMaxAge: see DefaultConfigUnsubscribedMaxAge. Defaults to 1 second.
	UnsubscribedMaxAge time.Duration
	// StoreTimeout: see DefaultConfigStoreTimeout. Defaults to 2 seconds.
	StoreTimeout time.Duration
	// ErrorRetry: see DefaultConfigErrorRetry. Defaults to 1 second.
	ErrorRetry time.Duration
}

// validate reports a field no default can stand for: a negative duration.
func (o *RuntimeConfigOptions) validate() error {
	if o == nil {
		return nil
	}
	return core.FirstError(
		core.NotNegative("RuntimeConfigOptions.MaxAge", o.MaxAge),
		core.NotNegative("RuntimeConfigOptions.UnsubscribedMaxAge", o.UnsubscribedMaxAge),
		core.NotNegative("RuntimeConfigOptions.StoreTimeout", o.StoreTimeout),
		core.NotNegative("RuntimeConfigOptions.ErrorRetry", o.ErrorRetry),
	)
}

// WithDefaults returns a copy of o with every zero field set to its default.
func (o *RuntimeConfigOptions) WithDefaults() RuntimeConfigOptions {
	out := core.Deref(o)
	out.Logger, out.Clock = core.LoggerOr(out.Logger), clock.Or(out.Clock)
	out.MaxAge = cmp.Or(out.MaxAge, DefaultConfigMaxAge)
	out.UnsubscribedMaxAge = cmp.Or(out.UnsubscribedMaxAge, DefaultConfigUnsubscribedMaxAge)
	out.StoreTimeout = cmp.Or(out.StoreTimeout, DefaultConfigStoreTimeout)
	out.ErrorRetry = cmp.Or(out.ErrorRetry, DefaultConfigErrorRetry)
	return out
}

// ConfigItem is one runtime setting as operators see it.
type ConfigItem struct {
	Key   ConfigKey
	Value json.RawMessage
	// UpdatedAt is nil while the key has never been set (Default is then true).
	UpdatedAt *time.Time
	UpdatedBy string
	Default   bool
}

// RuntimeConfig serves the operator-editable settings from an in-process cache
// over a ConfigStore, kept coherent across instances by a Bus (topic "config:invalidate";
// the message is the key that changed):
//
//   - a write (Set) goes to the store, then publishes the key; every instance drops that
//     key and rereads it on the next access;
//   - every reset of the subscription (lost, re-established, or messages dropped because
//     this instance fell behind) drops the whole cache, and while the subscription is
//     down a cached value is trusted for UnsubscribedMaxAge only;
//   - MaxAge bounds staleness in any case.
//
// Without a bus (nil) only this instance's own writes and MaxAge refresh the cache.
type RuntimeConfig struct {
	store ConfigStore
	bus   Bus
	opts  RuntimeConfigOptions

	mu         sync.Mutex
	gen        uint64 // bumped by every invalidation; a load started before one is discarded
	cache      map[ConfigKey]cachedValue
	lastGood   map[ConfigKey]any // last value read from the store, the fallback while it fails
	inflight   map[ConfigKey]*configLoad
	subscribed bool
	resets     int // subscribe events seen (the first is not a change)
	listeners  []func(ConfigKey)
	// routes is what RoutingSteps serves for the values last read.
	routes routeFit

	life *lifecycle.Lifecycle
}

type cachedValue struct {
	value    any // int64, bool, string, []string, []pairing.RoutingStep or pairing.RankWeights (shared: never modified)
	loadedAt time.Time
	failed   bool // the store failed: value is a fallback, retried after ErrorRetry
}

type configLoad struct {
	gen   uint64
	done  chan struct{}
	value any
}

// configTopic is the bus topic of invalidations: on Valkey, with the default key names,
// the channel "config:invalidate" existing deployments listen on.
const configTopic = "config:invalidate"

// configResubscribeDelay is the pause before subscribing again when a Bus's Subscribe
// returns before its context ends (the SDK's buses do not; a host's might).
const configResubscribeDelay = time.Second

// NewRuntimeConfig returns a RuntimeConfig over store; bus may be nil (single instance).
// Call Start to follow the bus. It fails, naming the field, when store is nil or opts
// holds a negative duration.
func NewRuntimeConfig(store ConfigStore, bus Bus, opts *RuntimeConfigOptions) (*RuntimeConfig, error) {
	if err := core.FirstError(core.Required("store", store == nil), opts.validate()); err != nil {
		return nil, fmt.Errorf("curhat.NewRuntimeConfig: %w", err)
	}
	return &RuntimeConfig{
		store:    store,
		bus:      bus,
		opts:     opts.WithDefaults(),
		cache:    map[ConfigKey]cachedValue{},
		lastGood: map[ConfigKey]any{},
		inflight: map[ConfigKey]*configLoad{},
		life:     lifecycle.New(),
	}, nil
}

// Start follows the bus in the background and returns at once. The subscription ends on
// Stop or when ctx ends. Without a bus, Start only marks the service started.
func (c *RuntimeConfig) Start(ctx context.Context) error {
	runCtx, ok := c.life.Start(ctx)
	if !ok {
		return errors.New("runtime config: already started or stopped")
	}
	go func() {
		defer c.life.Finished()
		if c.bus == nil {
			<-runCtx.Done()
			return
		}
		c.follow(runCtx)
	}()
	return nil
}

// Stop ends the subscription and waits for it (or for ctx). It is idempotent and safe
// before Start.
func (c *RuntimeConfig) Stop(ctx context.Context) error { return c.life.Stop(ctx) }

// Stopped is closed once the service has stopped (at once by a Stop before Start).
func (c *RuntimeConfig) Stopped() <-chan struct{} { return c.life.Stopped() }

// follow runs the subscription, resubscribing if the bus ever returns before ctx ends.
func (c *RuntimeConfig) follow(ctx context.Context) {
	h := BusHandler{
		Message: func(payload []byte) { c.onBusKey(ConfigKey(payload)) },
		Reset:   func(r BusReset) { c.onBusReset(r.Subscribed, ctx.Err() != nil) },
	}
	for ctx.Err() == nil {
		err := c.bus.Subscribe(ctx, configTopic, h)
		c.onBusReset(false, ctx.Err() != nil)
		if ctx.Err() != nil {
			return
		}
		c.opts.Logger.Warn("runtime config: subscription ended; resubscribing", "err", err)
		t := time.NewTimer(configResubscribeDelay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

func (c *RuntimeConfig) onBusKey(key ConfigKey) {
	if _, ok := lookupSpec(key); !ok {
		return // a key this version does not know (for example a legacy one)
	}
	c.invalidate(key)
	c.notify(key)
}

// onBusReset drops the cache on any reset; stopping silences the warning of a
// subscription that ends because the service stops.
func (c *RuntimeConfig) onBusReset(subscribed, stopping bool) {
	c.mu.Lock()
	c.gen++
	clear(c.cache)
	wasSubscribed := c.subscribed
	c.subscribed = subscribed
	changed := false
	if subscribed {
		c.resets++
		// Anything may have changed while we were not listening; the very first
		// subscription follows construction, when nothing was cached yet.
		changed = c.resets > 1
	}
	c.mu.Unlock()
	if wasSubscribed && !subscribed && !stopping {
		c.opts.Logger.Warn("runtime config: invalidation subscription lost; cache bounded to " + c.opts.UnsubscribedMaxAge.String())
	}
	if changed {
		for _, k := range ConfigKeys() {
			c.notify(k)
		}
	}
}

// Subscribed reports whether the invalidation subscription is up (always false without a
// bus). While it is down, cached values are trusted for UnsubscribedMaxAge only.
func (c *RuntimeConfig) Subscribed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subscribed
}

// OnChange registers fn to be called with a key that may have changed: after a local Set,
// on an invalidation from any instance, and for every key after a resubscription (when
// changes may have been missed). Calls may repeat for one change; fn must be quick and
// must not call OnChange.
func (c *RuntimeConfig) OnChange(fn func(key ConfigKey)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners = append(c.listeners, fn)
}

func (c *RuntimeConfig) notify(key ConfigKey) {
	c.mu.Lock()
	ls := append([]func(ConfigKey){}, c.listeners...)
	c.mu.Unlock()
	for _, fn := range ls {
		func() {
			defer func() {
				if r := recover(); r != nil {
					c.opts.Logger.Error("runtime config: OnChange listener panicked", "key", key, "panic", r)
				}
			}()
			fn(key)
		}()
	}
}

func (c *RuntimeConfig) invalidate(key ConfigKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.cache, key)
}

// List returns every setting, defaults included, read from the store (not the cache).
func (c *RuntimeConfig) List(ctx context.Context) ([]ConfigItem, error) {
	entries, err := c.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list runtime config: %w", err)
	}
	stored := make(map[ConfigKey]ConfigEntry, len(entries))
	for _, e := range entries {
		stored[e.Key] = e
	}
	items := make([]ConfigItem, 0, len(configSpecs))
	for _, spec := range configSpecs {
		e, ok := stored[spec.key]
		if !ok {
			items = append(items, defaultItem(spec))
			continue
		}
		v, err := spec.parse(e.Value)
		if err != nil {
			// A row written around this service (by hand, or by an older version) that
			// does not validate is shown as what the getters serve: the default.
			c.opts.Logger.Warn("runtime config: stored value is invalid; serving the default", "key", spec.key, "err", err)
			items = append(items, defaultItem(spec))
			continue
		}
		items = append(items, entryItem(spec, e, v))
	}
	return items, nil
}

// Set validates value for key, stores it, drops this instance's cached copy and publishes
// the key so that every instance drops its own. An unknown key fails with an error
// wrapping ErrUnknownConfigKey and a *ValidationError on "key"; an ill-typed or
// out-of-range value with a *ValidationError on "value", as does a value that does not
// fit another setting as stored (routing steps lasting as long as the blast timeout, or a
// blast timeout no longer than the stored routing steps' timed steps). A failed publish is logged, not
// returned: the store has the write, and other instances pick it up within MaxAge.
func (c *RuntimeConfig) Set(ctx context.Context, key string, value json.RawMessage, updatedBy string) (ConfigItem, error) {
	k, err := ParseConfigKey(key)
	if err != nil {
		return ConfigItem{}, err
	}
	spec, _ := lookupSpec(k)
	v, err := spec.parse(value)
	if err != nil {
		return ConfigItem{}, err
	}
	if err := c.checkAcross(ctx, k, v); err != nil {
		return ConfigItem{}, err
	}
	e, err := c.store.Put(ctx, ConfigEntry{Key: k, Value: spec.encode(v), UpdatedBy: updatedBy})
	if err != nil {
		return ConfigItem{}, fmt.Errorf("set runtime config %s: %w", k, err)
	}
	c.invalidate(k)
	if c.bus != nil {
		if err := c.bus.Publish(ctx, configTopic, []byte(k)); err != nil {
			c.opts.Logger.Warn("runtime config: publish invalidation failed; other instances refresh within MaxAge",
				"key", k, "err", err)
		}
	}
	c.notify(k)
	return entryItem(spec, e, v), nil
}

func defaultItem(spec configSpec) ConfigItem {
	return ConfigItem{Key: spec.key, Value: spec.encode(spec.def), Default: true}
}

func entryItem(spec configSpec, e ConfigEntry, v any) ConfigItem {
	at := e.UpdatedAt
	return ConfigItem{Key: spec.key, Value: spec.encode(v), UpdatedAt: &at, UpdatedBy: e.UpdatedBy}
}

// BlastTimeout is how long a blast pairing waits for an accept.
func (c *RuntimeConfig) BlastTimeout(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyPairingBlastTimeout).(int64)) * time.Second
}

// TargetedTimeout is how long a targeted ("Curhat lagi") offer waits for the mitra.
func (c *RuntimeConfig) TargetedTimeout(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyPairingTargetedTimeout).(int64)) * time.Second
}

// PlatformFeePercent is the platform's share of what a payment delivers, in percent.
func (c *RuntimeConfig) PlatformFeePercent(ctx context.Context) int {
	return int(c.value(ctx, KeyPlatformFeePercent).(int64))
}

// EarningsClearance is how long after a session's end its earning becomes available.
func (c *RuntimeConfig) EarningsClearance(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyEarningsClearanceHours).(int64)) * time.Hour
}

// PayoutMinimum is the least available balance a payout run pays to a mitra.
func (c *RuntimeConfig) PayoutMinimum(ctx context.Context) int64 {
	return c.value(ctx, KeyPayoutMinimumAmount).(int64)
}

// ChatMessageRatePerMinute is how many messages a sender may send in a chat session in any
// minute.
func (c *RuntimeConfig) ChatMessageRatePerMinute(ctx context.Context) int {
	return int(c.value(ctx, KeyChatMessageRatePerMinute).(int64))
}

// MitraFirstReplyTimeout is how long after a chat session's start its mitra must have
// shown activity before the session ends mitra_no_show (0: never).
func (c *RuntimeConfig) MitraFirstReplyTimeout(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyMitraFirstReplySeconds).(int64)) * time.Second
}

// ChatMessageRetention is how long chat messages are kept (those an open report refers to
// stay longer).
func (c *RuntimeConfig) ChatMessageRetention(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyChatMessageRetentionDays).(int64)) * 24 * time.Hour
}

// PaymentSessionTTL is how long a new payment session stays payable.
func (c *RuntimeConfig) PaymentSessionTTL(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyPaymentSessionTTL).(int64)) * time.Second
}

// ExtensionAutoApprove tells whether extensions are approved at once when the mitra is
// reachable.
func (c *RuntimeConfig) ExtensionAutoApprove(ctx context.Context) bool {
	return c.value(ctx, KeyExtensionAutoApprove).(bool)
}

// MitraMaxConcurrentSessions is the capacity of a mitra whose own maximum is not set.
func (c *RuntimeConfig) MitraMaxConcurrentSessions(ctx context.Context) int {
	return int(c.value(ctx, KeyMitraMaxConcurrentSessions).(int64))
}

// QueueEnabled tells whether paid blasts that find nobody wait in the queue.
func (c *RuntimeConfig) QueueEnabled(ctx context.Context) bool {
	return c.value(ctx, KeyPairingQueueEnabled).(bool)
}

// QueueMaxWait is how long a queued blast may wait from its payment before it fails.
func (c *RuntimeConfig) QueueMaxWait(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyPairingQueueMaxWait).(int64)) * time.Second
}

// QueueMaxLength is how many blasts may wait before a new one is refused.
func (c *RuntimeConfig) QueueMaxLength(ctx context.Context) int {
	return int(c.value(ctx, KeyPairingQueueMaxLength).(int64))
}

// OfferPolicy is who gets a blast's offers: "blast" or "ring".
func (c *RuntimeConfig) OfferPolicy(ctx context.Context) string {
	return c.value(ctx, KeyPairingOfferPolicy).(string)
}

// RingSize is how many mitras each ring of a ring-policy blast adds.
func (c *RuntimeConfig) RingSize(ctx context.Context) int {
	return int(c.value(ctx, KeyPairingRingSize).(int64))
}

// RingInterval is when the next ring of a ring-policy blast joins.
func (c *RuntimeConfig) RingInterval(ctx context.Context) time.Duration {
	return time.Duration(c.value(ctx, KeyPairingRingInterval).(int64)) * time.Second
}

// MissedOffersBeforeAway is how many offers a mitra may miss in a row before it is taken
// offline (0: never).
func (c *RuntimeConfig) MissedOffersBeforeAway(ctx context.Context) int {
	return int(c.value(ctx, KeyMitraMissedOffersBeforeAway).(int64))
}

// SafetyCrisisTerms is the words and phrases that flag a client's message "crisis". The
// slice is shared by every caller until the setting changes: read it, never modify it.
func (c *RuntimeConfig) SafetyCrisisTerms(ctx context.Context) []string {
	return c.value(ctx, KeySafetyCrisisTerms).([]string)
}

// SafetyResourcesText is what a client whose message matched a crisis term is sent.
func (c *RuntimeConfig) SafetyResourcesText(ctx context.Context) string {
	return c.value(ctx, KeySafetyResourcesText).(string)
}

// value returns the current value of key: from the cache while it is trusted, otherwise
// from the store (one read per key at a time, shared by concurrent callers). It never
// fails: when the store does, it serves the last value it read, or the default, and logs.
func (c *RuntimeConfig) value(ctx context.Context, key ConfigKey) any {
	c.mu.Lock()
	now := c.opts.Clock.Now()
	if cv, ok := c.cache[key]; ok && c.fresh(cv, now) {
		c.mu.Unlock()
		return cv.value
	}
	l, ok := c.inflight[key]
	if !ok || l.gen != c.gen {
		l = &configLoad{gen: c.gen, done: make(chan struct{})}
		c.inflight[key] = l
		go c.load(ctx, key, l)
	}
	c.mu.Unlock()

	select {
	case <-l.done:
		return l.value
	case <-ctx.Done():
		return c.fallback(key)
	}
}

// fresh reports whether a cached value may still be served. Callers hold c.mu.
func (c *RuntimeConfig) fresh(cv cachedValue, now time.Time) bool {
	age := now.Sub(cv.loadedAt)
	switch {
	case cv.failed:
		return age < c.opts.ErrorRetry
	case c.bus != nil && !c.subscribed:
		return age < c.opts.UnsubscribedMaxAge
	default:
		return age < c.opts.MaxAge
	}
}

// load reads key from the store on behalf of every caller waiting on l. It runs detached
// from any one caller's cancellation, bounded by StoreTimeout.
func (c *RuntimeConfig) load(ctx context.Context, key ConfigKey, l *configLoad) {
	spec, _ := lookupSpec(key)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.StoreTimeout)
	defer cancel()
	value, failed := spec.def, false
	e, err := c.store.Get(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		failed = true
		value = c.fallback(key)
		c.opts.Logger.Warn("runtime config: store read failed; serving the last known value or the default",
			"key", key, "value", value, "err", err)
	default:
		if v, perr := spec.parse(e.Value); perr != nil {
			c.opts.Logger.Warn("runtime config: stored value is invalid; serving the default", "key", key, "err", perr)
		} else {
			value = v
		}
	}

	c.mu.Lock()
	if !failed {
		c.lastGood[key] = value
	}
	// A load that started before an invalidation may have read the old value: hand it to
	// the callers that were already waiting, but do not cache it.
	if l.gen == c.gen {
		c.cache[key] = cachedValue{value: value, loadedAt: c.opts.Clock.Now(), failed: failed}
	}
	if c.inflight[key] == l {
		delete(c.inflight, key)
	}
	l.value = value
	c.mu.Unlock()
	close(l.done)
}

func (c *RuntimeConfig) fallback(key ConfigKey) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.lastGood[key]; ok {
		return v
	}
	spec, _ := lookupSpec(key)
	return spec.def
}
