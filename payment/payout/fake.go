package payout

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"
)

// ErrFakeUnreachable is the fake provider's answer while told it is down (SetDown).
var ErrFakeUnreachable = errors.New("fake payout provider: cannot be reached")

// FakeReason is why the fake provider refuses a payout it was told to fail.
const FakeReason = "refused by the fake payout provider"

// FakeProvider is a fake Payouts provider. Like a provider honouring idempotency keys, it
// pays a payout id once: sent again, the id gets its first answer. It answers at once
// (succeeded) unless told to answer processing (SetAsync: the outcome then comes through
// Service.Succeeded or Failed) or to refuse the next sends (FailNext). Safe for
// concurrent use.
type FakeProvider struct {
	mu       sync.Mutex
	answers  map[uuid.UUID]Result
	sends    map[uuid.UUID]int
	paid     map[uuid.UUID]int64
	failNext int
	async    bool
	down     bool
}

var _ Payouts = (*FakeProvider)(nil)

// NewFakeProvider returns a fake provider that pays everything at once.
func NewFakeProvider() *FakeProvider {
	return &FakeProvider{answers: map[uuid.UUID]Result{}, sends: map[uuid.UUID]int{}, paid: map[uuid.UUID]int64{}}
}

// Send answers the payout: its first answer again when the id was sent before; an error
// while down; failed while refusals are left; processing while async; succeeded otherwise.
func (f *FakeProvider) Send(ctx context.Context, r Request) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends[r.PayoutID]++
	if res, ok := f.answers[r.PayoutID]; ok {
		return res, nil
	}
	if f.down {
		return Result{}, ErrFakeUnreachable
	}
	ref := "fake_po_" + r.PayoutID.String()
	var res Result
	switch {
	case f.failNext > 0:
		f.failNext--
		res = Result{Status: StatusFailed, ProviderRef: ref, FailureReason: FakeReason}
	case f.async:
		res = Result{Status: StatusProcessing, ProviderRef: ref}
		f.paid[r.PayoutID] = r.Amount
	default:
		res = Result{Status: StatusSucceeded, ProviderRef: ref}
		f.paid[r.PayoutID] = r.Amount
	}
	f.answers[r.PayoutID] = res
	return res, nil
}

// FailNext makes the next n new payouts refused (n ≤ 0: none).
func (f *FakeProvider) FailNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = max(n, 0)
}

// SetAsync makes new payouts answer processing (true) or succeeded at once (false).
func (f *FakeProvider) SetAsync(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.async = on
}

// SetDown makes Send fail as an unreachable provider does (true), or answer again.
func (f *FakeProvider) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Sends returns how many times the payout was sent.
func (f *FakeProvider) Sends(id uuid.UUID) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends[id]
}

// Paid returns what the provider paid (or is paying) for payouts it accepted, by payout.
func (f *FakeProvider) Paid() map[uuid.UUID]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[uuid.UUID]int64, len(f.paid))
	for k, v := range f.paid {
		out[k] = v
	}
	return out
}
