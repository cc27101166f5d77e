package safety

import (
	"context"

	"github.com/curhat/curhat/internal/pgutil"
	"github.com/curhat/curhat/pairing"
)

// The safety services' view of what they work with, each a small interface owned here:
// *curhat.RuntimeConfig satisfies Settings; the host's event notifier (the reference
// server's hub) is a pairing.Notifier, and an AlertNotifier too when it reaches the
// operators.

// Settings are the operator-editable settings of the screening, read at every client
// message (the runtime config serves them from its cache); *curhat.RuntimeConfig
// satisfies it.
type Settings interface {
	// SafetyCrisisTerms is the crisis words and phrases (safety_crisis_terms). The slice
	// may be shared by every caller: read it, never modify it.
	SafetyCrisisTerms(ctx context.Context) []string
	// SafetyResourcesText is what a client whose message matched one is sent
	// (safety_resources_text).
	SafetyResourcesText(ctx context.Context) string
}

// DefaultSettings serves the defaults (DefaultCrisisTerms, DefaultResourcesText): what a
// Screener or Alerts uses when given no Settings.
type DefaultSettings struct{}

func (DefaultSettings) SafetyCrisisTerms(context.Context) []string { return defaultCrisisTerms }
func (DefaultSettings) SafetyResourcesText(context.Context) string { return DefaultResourcesText }

// AlertNotifier is a pairing.Notifier that also reaches the operators: Alerts calls
// NotifyAlert with each new alert when its Notifier implements it (the reference server
// sends it to every operator's event stream as safety_alert). A Notifier that does not
// leaves the operators to the alerts list (Alerts.List).
type AlertNotifier interface {
	pairing.Notifier
	NotifyAlert(ctx context.Context, a Alert)
}

// DB is what the Postgres stores of this package take: a *pgxpool.Pool, or a pgx.Tx whose
// commit or rollback decides their writes (curhat.DB). Its methods are pgx's: Exec, Query
// and QueryRow run a statement; Begin starts a transaction (a savepoint inside a pgx.Tx).
type DB = pgutil.DB
