// Package extension lets a client buy more minutes during an active chat session, with
// data-driven auto-approval guarded by the mitra's reachability, and charges only approved
// extensions.
//
// A Service sits over a Store (NewPostgresStore, or NewMemoryStore in tests) and
// the small interfaces of Deps: the chat sessions (*pairing.Pairer), mitra reachability
// (*availability.Mirror), payments (*payment.Service), prices (*pricing.PricingStore), the
// runtime settings (*curhat.RuntimeConfig) and a Notifier — each satisfied by that
// service as it is.
//
// Life of an extension:
//
//   - Request: the client picks an extension tier (never free) for its active session;
//     one open — requested or approved — extension per session at a time, enforced by
//     the database's unique index. With extension_auto_approve on, the extension is
//     approved at once if the mitra is reachable, or stored rejected (mitra_offline) with
//     nothing charged if not — the offline safeguard. With it off, the mitra has
//     pairing_targeted_timeout_seconds to Approve or Reject; an undecided request expires
//     (an in-process timer, backed up by SweepExpired).
//   - Charge at approval: only an approved extension gets a payment session, for the
//     amount frozen when it was requested.
//   - PaymentPaid (the Service is the payment.Handler of payment.PurposeExtension): in one
//     transaction the extension becomes paid and the session's ends_at and minutes grow;
//     then the session's expiry timer moves (Sessions.SessionExtended) and both parties
//     hear of it. A payment that arrives after the session ended — or after its ends_at,
//     before its expiry ended it — is refunded and extends nothing.
//   - PaymentClosed: a payment that failed or expired unpaid expires its extension.
//
// Wiring:
//
//	svc := extension.NewService(extension.NewPostgresStore(pool), extension.Deps{
//		Sessions: pairer, Reachability: mirror, Payments: payments,
//		Quoter: prices, Settings: runtimeConfig, Notifier: hub,
//	}, &extension.Config{Logger: logger})
//	payments.SetHandler(payment.PurposeExtension, svc)
//	// and call svc.SweepExpired from the timeouts sweep.
package extension
