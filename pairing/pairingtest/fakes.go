package pairingtest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pricing"
)

// Availability is an in-memory pairing.Availability: mitras are online (reachable) when
// set so, and available when also active and under capacity as the Store tells.
// RecomputeCapacity derives the count from the Store, like the real mirror, and records
// every call.
type Availability struct {
	store      pairing.Store
	defaultMax int
	mu         sync.Mutex
	online     []uuid.UUID // in the order they came online
	capacity   map[uuid.UUID]int
	recomputed []uuid.UUID
	away       map[uuid.UUID]string
	findErr    error
	reachErr   error
	// wrapup and now: a mitra whose last session ended less than wrapup ago is not
	// available (SetWrapup).
	wrapup time.Duration
	now    func() time.Time
}

var (
	_ pairing.Availability = (*Availability)(nil)
	_ pairing.Away         = (*Availability)(nil)
)

// NewAvailability returns an Availability over store (nil: everybody online is
// available, capacity always 0). defaultMax is the capacity of a mitra with no maximum
// of its own (0 means 1, the runtime default).
func NewAvailability(store pairing.Store, defaultMax int) *Availability {
	return &Availability{store: store, defaultMax: max(defaultMax, 1), capacity: map[uuid.UUID]int{}}
}

// SetOnline puts a mitra online (reachable) or offline.
func (a *Availability) SetOnline(id uuid.UUID, online bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.online = slices.DeleteFunc(a.online, func(x uuid.UUID) bool { return x == id })
	if online {
		a.online = append(a.online, id)
		delete(a.away, id)
	}
}

// SetWrapup makes a mitra whose last chat session ended less than w ago (by now) not
// available, as the real mirror does (0: no wrap-up).
func (a *Availability) SetWrapup(w time.Duration, now func() time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wrapup, a.now = w, now
}

// FailFind makes FindAvailable fail with err (nil: work again).
func (a *Availability) FailFind(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.findErr = err
}

// FailReachable makes IsReachable fail with err (nil: work again).
func (a *Availability) FailReachable(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reachErr = err
}

func (a *Availability) FindAvailable(ctx context.Context, limit int, exclude []uuid.UUID) ([]uuid.UUID, error) {
	a.mu.Lock()
	online, err := slices.Clone(a.online), a.findErr
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []uuid.UUID
	for _, id := range online {
		if slices.Contains(exclude, id) {
			continue
		}
		ok, err := a.hasRoom(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, id)
		}
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

func (a *Availability) hasRoom(ctx context.Context, id uuid.UUID) (bool, error) {
	if a.store == nil {
		return true, nil
	}
	info, err := a.store.MitraInfo(ctx, id)
	if err != nil {
		return false, err
	}
	limit := a.defaultMax
	if info.MaxConcurrentSessions > 0 {
		limit = info.MaxConcurrentSessions
	}
	if !info.Active || info.OpenSessions >= limit {
		return false, nil
	}
	a.mu.Lock()
	w, now := a.wrapup, a.now
	a.mu.Unlock()
	if w <= 0 {
		return true, nil
	}
	last, err := a.store.LastSessionEnd(ctx, id)
	return last.IsZero() || !last.Add(w).After(now()), err
}

func (a *Availability) IsReachable(ctx context.Context, id uuid.UUID) (bool, error) {
	a.mu.Lock()
	online, err := slices.Contains(a.online, id), a.reachErr
	a.mu.Unlock()
	if err != nil || !online || a.store == nil {
		return online, err
	}
	info, err := a.store.MitraInfo(ctx, id)
	if err != nil {
		return false, err
	}
	return info.Active, nil
}

func (a *Availability) RecomputeCapacity(ctx context.Context, id uuid.UUID) (int, error) {
	n := 0
	if a.store != nil {
		info, err := a.store.MitraInfo(ctx, id)
		if err != nil {
			return 0, err
		}
		n = info.OpenSessions
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recomputed = append(a.recomputed, id)
	a.capacity[id] = n
	return n, nil
}

// SetAway takes an online mitra offline (pairing.Away), remembering the reason; false
// when it was offline already.
func (a *Availability) SetAway(_ context.Context, id uuid.UUID, reason string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Contains(a.online, id) {
		return false, nil
	}
	a.online = slices.DeleteFunc(a.online, func(x uuid.UUID) bool { return x == id })
	if a.away == nil {
		a.away = map[uuid.UUID]string{}
	}
	a.away[id] = reason
	return true, nil
}

// AwayReason returns why SetAway took the mitra offline ("" if it did not, or the mitra
// went online since).
func (a *Availability) AwayReason(id uuid.UUID) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.away[id]
}

// Recomputed returns the mitras RecomputeCapacity was called for, in call order.
func (a *Availability) Recomputed() []uuid.UUID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.recomputed)
}

// Capacity returns the count the last RecomputeCapacity of the mitra mirrored.
func (a *Availability) Capacity(id uuid.UUID) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.capacity[id]
}

// Quoter is an in-memory pairing.Quoter with one session tier per number of minutes.
type Quoter struct {
	mu       sync.Mutex
	prices   map[int]int64
	discount int64
}

var _ pairing.Quoter = (*Quoter)(nil)

// NewQuoter returns a Quoter with the given price per minutes (IDR).
func NewQuoter(prices map[int]int64) *Quoter {
	q := &Quoter{prices: map[int]int64{}}
	for m, p := range prices {
		q.prices[m] = p
	}
	return q
}

// SetPrice adds or changes a tier; RemoveTier deactivates it.
func (q *Quoter) SetPrice(minutes int, price int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.prices[minutes] = price
}

func (q *Quoter) RemoveTier(minutes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.prices, minutes)
}

// SetDiscount takes amount off every quote (at most the price).
func (q *Quoter) SetDiscount(amount int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.discount = amount
}

// sessionMode is what the Pairer quotes (pricing.ModeSession).
const sessionMode pricing.Mode = "session"

var tierNamespace = uuid.MustParse("3d0c8a0e-5a43-4b8e-9c4f-7f1f2f6f5a01")

// TierID is the id of the tier of minutes.
func TierID(minutes int) uuid.UUID {
	return uuid.NewSHA1(tierNamespace, fmt.Appendf(nil, "session:%d", minutes))
}

func (q *Quoter) Quote(_ context.Context, _ uuid.UUID, mode pricing.Mode, minutes int) (pricing.Quote, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	price, ok := q.prices[minutes]
	if mode != sessionMode || !ok {
		return pricing.Quote{}, fmt.Errorf("%s of %d minutes: %w", mode, minutes, pairing.ErrNoTier)
	}
	d := min(q.discount, price)
	return pricing.Quote{TierID: TierID(minutes), Mode: mode, Minutes: minutes, BaseAmount: price, DiscountAmount: d,
		Amount: price - d, Currency: "IDR"}, nil
}

// Settings is a fixed pairing.Settings and pairing.Policies; zero fields serve the
// runtime defaults (every pairing policy off).
type Settings struct {
	Blast       time.Duration
	Targeted    time.Duration
	MaxSessions int

	// Queue turns the queue on; MaxWait and MaxLength bound it.
	Queue     bool
	MaxWait   time.Duration
	MaxLength int
	// Ring selects the ring policy; Size and Interval shape it.
	Ring     bool
	Size     int
	Interval time.Duration
	// MissedBeforeAway is mitra_missed_offers_before_away (0: off).
	MissedBeforeAway int
	// FirstReply is mitra_first_reply_seconds (0: the no-show rule is off).
	FirstReply time.Duration
	// Steps is pairing_routing_steps (nil: pairing.DefaultRoutingSteps); Weights is
	// pairing_rank_weights (nil: pairing.DefaultRankWeights).
	Steps   []pairing.RoutingStep
	Weights *pairing.RankWeights
	// Wrapup is mitra_wrapup_seconds (0: no wrap-up).
	Wrapup time.Duration
}

var (
	_ pairing.Settings        = Settings{}
	_ pairing.Policies        = Settings{}
	_ pairing.NoShowSettings  = Settings{}
	_ pairing.RoutingSettings = Settings{}
	_ pairing.WrapupSettings  = Settings{}
)

func (s Settings) MitraWrapup(context.Context) time.Duration { return s.Wrapup }

func (s Settings) RoutingSteps(context.Context) []pairing.RoutingStep {
	if s.Steps == nil {
		return pairing.DefaultRoutingSteps()
	}
	return s.Steps
}

func (s Settings) RankWeights(context.Context) pairing.RankWeights {
	if s.Weights == nil {
		return pairing.DefaultRankWeights
	}
	return *s.Weights
}

func (s Settings) MitraFirstReplyTimeout(context.Context) time.Duration { return s.FirstReply }

func (s Settings) QueueEnabled(context.Context) bool { return s.Queue }

func (s Settings) QueueMaxWait(ctx context.Context) time.Duration {
	return cmp.Or(s.MaxWait, pairing.DefaultPolicies{}.QueueMaxWait(ctx))
}

func (s Settings) QueueMaxLength(ctx context.Context) int {
	return cmp.Or(s.MaxLength, pairing.DefaultPolicies{}.QueueMaxLength(ctx))
}

func (s Settings) OfferPolicy(context.Context) string {
	if s.Ring {
		return pairing.OfferPolicyRing
	}
	return pairing.OfferPolicyBlast
}

func (s Settings) RingSize(ctx context.Context) int {
	return cmp.Or(s.Size, pairing.DefaultPolicies{}.RingSize(ctx))
}

func (s Settings) RingInterval(ctx context.Context) time.Duration {
	return cmp.Or(s.Interval, pairing.DefaultPolicies{}.RingInterval(ctx))
}

func (s Settings) MissedOffersBeforeAway(context.Context) int { return s.MissedBeforeAway }

func (s Settings) BlastTimeout(ctx context.Context) time.Duration {
	if s.Blast > 0 {
		return s.Blast
	}
	return pairing.DefaultSettings{}.BlastTimeout(ctx)
}

func (s Settings) TargetedTimeout(ctx context.Context) time.Duration {
	if s.Targeted > 0 {
		return s.Targeted
	}
	return pairing.DefaultSettings{}.TargetedTimeout(ctx)
}

func (s Settings) MitraMaxConcurrentSessions(ctx context.Context) int {
	if s.MaxSessions > 0 {
		return s.MaxSessions
	}
	return pairing.DefaultSettings{}.MitraMaxConcurrentSessions(ctx)
}

// Notifier records every event.
type Notifier struct {
	mu     sync.Mutex
	events []pairing.Event
}

var _ pairing.Notifier = (*Notifier)(nil)

func (n *Notifier) Notify(_ context.Context, e pairing.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
}

// Events returns the events recorded so far.
func (n *Notifier) Events() []pairing.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.events)
}

// Find returns the recorded events of kind sent to recipient (a client or mitra id).
func (n *Notifier) Find(kind string, recipient uuid.UUID) []pairing.Event {
	var out []pairing.Event
	for _, e := range n.Events() {
		if e.Kind() == kind && sentTo(e, recipient) {
			out = append(out, e)
		}
	}
	return out
}

// Payloads returns the payloads of type T (one of the …Event types of pairing or
// extension) of the events n recorded for recipient (a client or mitra id).
func Payloads[T pairing.EventPayload](n *Notifier, recipient uuid.UUID) []T {
	var out []T
	for _, e := range n.Events() {
		if p, ok := e.Payload.(T); ok && sentTo(e, recipient) {
			out = append(out, p)
		}
	}
	return out
}

func sentTo(e pairing.Event, recipient uuid.UUID) bool {
	return (e.ClientID != nil && *e.ClientID == recipient) || (e.MitraID != nil && *e.MitraID == recipient)
}
