package payout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/internal/clock"
	"github.com/curhat/curhat/internal/core"
)

// Defaults of Config.
const (
	// DefaultMinimum is the least available balance a run pays out when Config.Minimum is
	// nil (the runtime setting payout_minimum_amount's default).
	DefaultMinimum int64 = 50000
	// DefaultSendLease is how long a send may take before RetryPending sends the payout
	// again.
	DefaultSendLease = 2 * time.Minute
	// DefaultRunLimit bounds the mitras one Run pays.
	DefaultRunLimit = 1000
)

// Config configures a Service. The zero value works.
type Config struct {
	Logger *slog.Logger
	// Clock stamps the rows (a curhat.Clock, which a host may implement). Defaults to the
	// system clock.
	Clock clock.Clock
	// Minimum returns the least available balance a run pays out (wire it to
	// curhat.RuntimeConfig.PayoutMinimum). Nil: DefaultMinimum.
	Minimum func(ctx context.Context) int64
	// Currency of the payouts. Defaults to "IDR".
	Currency string
	// SendLease: see DefaultSendLease.
	SendLease time.Duration
}

// Service runs payouts over a Store and a Payouts provider.
type Service struct {
	store    Store
	provider Payouts
	cfg      Config
}

// NewService returns a Service. provider may be nil: destinations and the payout list
// work, and Run answers ErrNoProvider.
func NewService(store Store, provider Payouts, cfg *Config) (*Service, error) {
	if store == nil {
		return nil, core.Required("store", true)
	}
	c := core.Deref(cfg)
	c.Logger, c.Clock = core.LoggerOr(c.Logger), clock.Or(c.Clock)
	if c.Currency == "" {
		c.Currency = "IDR"
	}
	if c.SendLease <= 0 {
		c.SendLease = DefaultSendLease
	}
	return &Service{store: store, provider: provider, cfg: c}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) minimum(ctx context.Context) int64 {
	if s.cfg.Minimum == nil {
		return DefaultMinimum
	}
	return max(s.cfg.Minimum(ctx), 0)
}

// SetDestination sets where a mitra is paid (a *ValidationError for a bad field,
// ErrNotFound for an unknown mitra).
func (s *Service) SetDestination(ctx context.Context, d Destination) (Destination, error) {
	d.UpdatedAt = s.now()
	return s.store.PutDestination(ctx, d)
}

// Destination returns where a mitra is paid, or ErrNotFound.
func (s *Service) Destination(ctx context.Context, mitraID uuid.UUID) (Destination, error) {
	return s.store.GetDestination(ctx, mitraID)
}

// Get returns a payout, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Payout, error) { return s.store.Get(ctx, id) }

// List returns one page of the payouts matching f, newest first, and how many match.
func (s *Service) List(ctx context.Context, f Filter) ([]Payout, int, error) {
	return s.store.List(ctx, f)
}

// Stats counts the payouts by status and sums what was paid out.
func (s *Service) Stats(ctx context.Context) (Stats, error) { return s.store.Stats(ctx) }

// RunParams selects whom a Run pays.
type RunParams struct {
	// MitraID pays this mitra only (nil: every eligible mitra).
	MitraID *uuid.UUID
}

// RunReport is what a Run did.
type RunReport struct {
	// Created are the payouts this run created, as they stand after their send.
	Created []Payout
}

// Run creates one payout per mitra whose available balance is at least the minimum, who
// has a destination and no open payout, and sends each. Concurrent runs, on any number of
// instances, create one payout per mitra. A mitra asked for by RunParams.MitraID that is
// not eligible is a *NotEligibleError (it wraps ErrInvalidState) that says why.
func (s *Service) Run(ctx context.Context, p RunParams) (RunReport, error) {
	if s.provider == nil {
		return RunReport{}, ErrNoProvider
	}
	minimum := s.minimum(ctx)
	var mitras []uuid.UUID
	if p.MitraID != nil {
		mitras = []uuid.UUID{*p.MitraID}
	} else {
		var err error
		if mitras, err = s.store.Eligible(ctx, minimum, DefaultRunLimit); err != nil {
			return RunReport{}, fmt.Errorf("run payouts: %w", err)
		}
	}
	var rep RunReport
	for _, m := range mitras {
		created, err := s.store.Create(ctx, CreateParams{ID: uuid.New(), MitraID: m, Minimum: minimum, Currency: s.cfg.Currency, At: s.now()})
		if errors.Is(err, ErrInvalidState) && p.MitraID == nil {
			continue // paid by a concurrent run, or its balance moved: not this run's
		}
		if err != nil {
			return rep, fmt.Errorf("run payouts: %w", err)
		}
		s.cfg.Logger.InfoContext(ctx, "payout: created", "payout_id", created.ID, "mitra_id", m, "amount", created.Amount)
		rep.Created = append(rep.Created, s.send(ctx, created))
	}
	return rep, nil
}

// send claims a pending payout and asks the provider to pay it, then records the answer.
// It returns the payout as it stands; a send that could not be made leaves it pending for
// RetryPending.
func (s *Service) send(ctx context.Context, p Payout) Payout {
	claimed, ok, err := s.store.Claim(ctx, p.ID, p.Attempts, s.now())
	if err != nil || !ok {
		if err != nil {
			s.cfg.Logger.WarnContext(ctx, "payout: claim a send; it is retried", "payout_id", p.ID, "err", err)
		}
		return claimed
	}
	d := Destination{MitraID: p.MitraID, ChannelCode: p.ChannelCode, AccountNumber: p.AccountNumber, AccountHolderName: p.AccountHolderName}
	res, err := s.provider.Send(ctx, Request{PayoutID: p.ID, Amount: p.Amount, Currency: p.Currency, Destination: d})
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "payout: the provider could not be asked; it is sent again", "payout_id", p.ID, "err", err)
		return claimed
	}
	// The answer is recorded even if the caller gave up meanwhile: the money moved.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, err := s.record(dctx, p.ID, res)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "payout: record the provider's answer; the send is retried", "payout_id", p.ID, "err", err)
		return claimed
	}
	return out
}

// record applies the provider's answer to a pending or processing payout.
func (s *Service) record(ctx context.Context, id uuid.UUID, res Result) (Payout, error) {
	from := []Status{StatusPending, StatusProcessing}
	var t Transition
	switch res.Status {
	case StatusProcessing:
		t = Transition{ID: id, From: []Status{StatusPending}, To: StatusProcessing, ProviderRef: res.ProviderRef}
	case StatusSucceeded:
		t = Transition{ID: id, From: from, To: StatusSucceeded, ProviderRef: res.ProviderRef}
	case StatusFailed:
		t = Transition{ID: id, From: from, To: StatusFailed, ProviderRef: res.ProviderRef, FailureReason: res.FailureReason}
	default:
		return Payout{}, fmt.Errorf("payout %s: the provider answered %q: %w", id, res.Status, ErrInvalidState)
	}
	t.At = s.now()
	p, changed, err := s.store.Transition(ctx, t)
	if err != nil {
		return Payout{}, err
	}
	if changed {
		s.cfg.Logger.InfoContext(ctx, "payout: "+string(p.Status), "payout_id", id, "amount", p.Amount, "reason", p.FailureReason)
	}
	return p, nil
}

// Succeeded records the provider's confirmation that a pending or processing payout was
// paid (its callback). A payout already succeeded is returned as it is; one failed or
// reversed is ErrInvalidState.
func (s *Service) Succeeded(ctx context.Context, id uuid.UUID, providerRef string) (Payout, error) {
	return s.outcome(ctx, id, Result{Status: StatusSucceeded, ProviderRef: providerRef})
}

// Failed records that the provider refused a pending or processing payout: it is final,
// its amount is available again, and a later run creates a new payout.
func (s *Service) Failed(ctx context.Context, id uuid.UUID, reason string) (Payout, error) {
	return s.outcome(ctx, id, Result{Status: StatusFailed, FailureReason: reason})
}

func (s *Service) outcome(ctx context.Context, id uuid.UUID, res Result) (Payout, error) {
	p, err := s.record(ctx, id, res)
	if err != nil {
		return Payout{}, fmt.Errorf("payout %s %s: %w", id, res.Status, err)
	}
	if p.Status != res.Status {
		return p, fmt.Errorf("payout %s is %s, not open: %w", id, p.Status, ErrInvalidState)
	}
	return p, nil
}

// Reversed records that a succeeded payout came back (the provider returned it): the
// amount is available again. A payout already reversed is returned as it is; any other is
// ErrInvalidState.
func (s *Service) Reversed(ctx context.Context, id uuid.UUID, reason string) (Payout, error) {
	p, _, err := s.store.Transition(ctx, Transition{ID: id, From: []Status{StatusSucceeded}, To: StatusReversed,
		FailureReason: reason, At: s.now()})
	if err != nil {
		return Payout{}, fmt.Errorf("reverse payout %s: %w", id, err)
	}
	if p.Status != StatusReversed {
		return p, fmt.Errorf("reverse payout %s: it is %s: %w", id, p.Status, ErrInvalidState)
	}
	return p, nil
}

// RetryPending sends again the pending payouts whose last send began a SendLease ago or
// more (an outage of the provider, a crash mid-send), at most limit (0: 100), and reports
// how many it sent. Concurrent callers send each once.
func (s *Service) RetryPending(ctx context.Context, limit int) (int, error) {
	if s.provider == nil {
		return 0, nil
	}
	if limit <= 0 {
		limit = 100
	}
	due, err := s.store.DuePending(ctx, s.now().Add(-s.cfg.SendLease), limit)
	if err != nil {
		return 0, fmt.Errorf("retry pending payouts: %w", err)
	}
	for _, p := range due {
		s.send(ctx, p)
	}
	return len(due), nil
}
