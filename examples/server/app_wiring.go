package main

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/curhat/curhat/availability/availabilitytest"
	"github.com/curhat/curhat/extension"
	"github.com/curhat/curhat/extension/extensiontest"
	"github.com/curhat/curhat/pairing"
	"github.com/curhat/curhat/pairing/pairingtest"
	"github.com/curhat/curhat/payment"
)

// wirePairing builds the pairer and the extension service over their stores and registers
// them as the handlers of chat_start and extension payments.
func (a *App) wirePairing(pairStore pairing.Store, extStore extension.Store) {
	notify := hubNotifier{hub: a.events, clock: a.clock.Now}
	a.pairer = pairing.NewPairer(pairStore, pairing.Deps{
		Availability: pairingAvailability{a.mirror},
		Payments:     pairingPayments{a.payments},
		Quoter:       pairingQuoter{a.pricing},
		Settings:     a.runtime,
		Notifier:     pairingNotifier{notify},
	}, &pairing.Config{Logger: a.log, Clock: a.clock, FanoutCap: a.cfg.FanoutCap})
	a.exts = extension.NewService(extStore, extension.Deps{
		Sessions:     extensionSessions{a.pairer},
		Reachability: a.mirror,
		Payments:     a.payments,
		Quoter:       a.pricing,
		Settings:     a.runtime,
		Notifier:     extensionNotifier{notify},
	}, &extension.Config{Logger: a.log, Clock: a.clock})
	a.payments.SetHandler(payment.PurposeChatStart, chatStartHandler{a.pairer})
	a.payments.SetHandler(payment.PurposeExtension, a.exts)
}

// memoryPairingStores builds the in-memory pairing and extension stores and connects the
// cross-domain facts the in-memory stores cannot see by themselves (in Postgres they are
// joins): a mitra's state for the pairing store, a mitra's open sessions for the
// availability store, and session growth for the extension store.
func (a *App) memoryPairingStores(avail *availabilitytest.Store) (*pairingtest.Store, *extensiontest.Store) {
	ps := pairingtest.NewStore()
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
	es.ExtendSession = func(ctx context.Context, id uuid.UUID, minutes int) (extension.SessionInfo, bool, error) {
		s, err := ps.GetChatSession(ctx, id)
		if err != nil {
			return extension.SessionInfo{}, false, err
		}
		if s.Status != pairing.SessionActive || s.EndsAt == nil {
			return extension.SessionInfo{}, false, nil
		}
		ends := s.EndsAt.Add(time.Duration(minutes) * time.Minute)
		s.EndsAt = &ends
		s.Minutes += minutes
		s.UpdatedAt = a.clock.Now()
		ps.PutChatSession(s)
		return extension.SessionInfo{ID: s.ID, ClientID: s.ClientID, MitraID: s.MitraID, Status: string(s.Status),
			EndsAt: s.EndsAt, Minutes: s.Minutes}, true, nil
	}
	return ps, es
}
