package main

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat"
	"github.com/curhat/curhat/availability/availabilitytest"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/extension/extensiontest"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
	"github.com/curhat/curhat/payment"
	"github.com/curhat/curhat/payment/paymenttest"
)

// wirePairing builds the pairer and the extension service over their stores and registers
// them as the handlers of chat_start and extension payments.
func (a *App) wirePairing(pairStore pairing.Store, extStore extension.Store) error {
	notify := hubNotifier{hub: a.events, clock: a.clock.Now}
	exts := &lateExtensions{}
	var err error
	a.pairer, err = pairing.NewPairer(pairStore, pairing.Deps{
		Availability: pairingAvailability{a.mirror},
		Payments:     a.payments,
		Quoter:       a.pricing,
		Settings:     a.runtime,
		Notifier:     notify,
		Extensions:   exts,
	}, &pairing.Config{Logger: a.log, Clock: a.clock, FanoutCap: a.cfg.FanoutCap})
	if err != nil {
		return err
	}
	a.exts, err = extension.NewService(extStore, extension.Deps{
		Sessions:     a.pairer,
		Reachability: a.mirror,
		Payments:     a.payments,
		Quoter:       a.pricing,
		Settings:     a.runtime,
		Notifier:     notify,
	}, &extension.Config{Logger: a.log, Clock: a.clock})
	if err != nil {
		return err
	}
	exts.svc = a.exts
	a.payments.SetHandler(payment.PurposeChatStart, a.pairer)
	a.payments.SetHandler(payment.PurposeExtension, a.exts)
	// A refund the retry sweep made settles the failure row of the pairing that owed it.
	a.payments.SetRefundListener(func(ctx context.Context, r payment.Refund) {
		if err := a.pairer.RefundSucceeded(ctx, r.Cause); err != nil {
			a.log.WarnContext(ctx, "record a refund on its failed pairing", "refund_id", r.ID, "err", err)
		}
	})
	return nil
}

// delivered tells the in-memory payment store whether what a charged session paid for
// happened (Reconcile): a chat session of its pairing started, its extension applied. The
// Postgres store reads the same from its tables.
func (a *App) delivered(ctx context.Context, s payment.Session) (bool, error) {
	switch {
	case s.Purpose == payment.PurposeChatStart && s.PairingID != nil:
		pr, err := a.pairer.GetPairing(ctx, *s.PairingID)
		if errors.Is(err, curhat.ErrNotFound) {
			return false, nil
		}
		if err != nil || pr.PaymentSessionID == nil || *pr.PaymentSessionID != s.ID || pr.ChatSessionID == nil {
			return false, err
		}
		cs, err := a.pairer.GetChatSession(ctx, *pr.ChatSessionID)
		if err != nil {
			return false, err
		}
		return cs.StartedAt != nil, nil
	case s.Purpose == payment.PurposeExtension && s.ExtensionID != nil:
		e, err := a.exts.Get(ctx, *s.ExtensionID)
		if errors.Is(err, curhat.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return e.Status == extension.StatusPaid && e.PaymentSessionID != nil && *e.PaymentSessionID == s.ID, nil
	}
	return false, nil
}

// memoryPairingStores builds the in-memory pairing and extension stores and connects the
// cross-domain facts the in-memory stores cannot see by themselves (in Postgres they are
// joins, or one transaction): a mitra's state for the pairing store, a mitra's open
// sessions for the availability store, session growth for the extension store, and the
// refunds a pairing transition records in the payment store.
func (a *App) memoryPairingStores(avail *availabilitytest.Store, pay *paymenttest.Store) (*pairingtest.Store, *extensiontest.Store) {
	ps := pairingtest.NewStore()
	ps.RecordRefunds = func(ctx context.Context, r pairing.RefundIntent, at time.Time) ([]pairing.RecordedRefund, error) {
		return pairingtest.RecordRefunds(ctx, pay, r, at)
	}
	ps.MitraFunc = func(id uuid.UUID) (pairingtest.Mitra, bool) {
		m, err := avail.GetMitra(context.Background(), id)
		if err != nil {
			return pairingtest.Mitra{}, false
		}
		max := 0
		if m.MaxConcurrentSessions != nil {
			max = *m.MaxConcurrentSessions
		}
		return pairingtest.Mitra{ID: m.ID, Active: m.IsActive, MaxConcurrentSessions: max}, true
	}
	avail.SetOpenSessions(func(ctx context.Context, id uuid.UUID) (int, error) {
		info, err := ps.MitraInfo(ctx, id)
		return info.OpenSessions, err
	})
	es := extensiontest.NewStore()
	es.ExtendSession = func(ctx context.Context, id uuid.UUID, minutes int) (extension.ChatSession, bool, error) {
		s, err := ps.GetChatSession(ctx, id)
		if err != nil {
			return extension.ChatSession{}, false, err
		}
		if s.Status != pairing.SessionActive || s.EndsAt == nil {
			return extension.ChatSession{}, false, nil
		}
		ends := s.EndsAt.Add(time.Duration(minutes) * time.Minute)
		s.EndsAt = &ends
		s.Minutes += minutes
		s.UpdatedAt = a.clock.Now()
		ps.PutChatSession(s)
		return s, true, nil
	}
	return ps, es
}

// lateExtensions is the pairer's view of the extension service, which is built after the
// pairer (it needs the pairer's chat sessions).
type lateExtensions struct{ svc *extension.Service }

func (l *lateExtensions) PaidExtensions(ctx context.Context, chatSessionID uuid.UUID) ([]pairing.PaidExtension, error) {
	return l.svc.PaidExtensions(ctx, chatSessionID)
}
