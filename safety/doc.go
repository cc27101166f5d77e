// Package safety protects the two parties of a chat: the screening of every message, the
// alerts operators get when a client writes of suicide or self-harm, and the reports
// either party files about the other.
//
// Screening (Screener, a chat.Screener that curhat.NewClient installs by default): contact
// details — phone numbers, e-mail addresses, WhatsApp and Telegram links, @handles — are
// masked as "[hidden]" in what is stored and delivered, and the message is flagged
// "contact"; a client's message that matches a crisis term (the runtime setting
// safety_crisis_terms: Indonesian and English defaults, DefaultCrisisTerms) is delivered
// and flagged "crisis". Screening never refuses a message for what it says and never ends
// a session. MaskContacts and Screener.CrisisTerms serve a host whose own chat carries the
// messages.
//
// Alerts (a chat.FlagHandler the chat service calls once a flagged message is stored):
// for a crisis message the client is sent a SafetyResourcesEvent with the configured help
// (safety_resources_text), an open Alert is stored (one per message), and the operators are
// told through the Notifier when it is an AlertNotifier. Operators list the alerts
// (Alerts.List) and acknowledge them (Alerts.Ack, idempotent). The alerts are kept in
// Postgres (NewPostgresAlertStore, table safety_alerts) or in memory
// (NewMemoryAlertStore); safetytest.RunAlertStoreContract pins what both do.
//
// Reports (Reports, curhat.Client.Reports): either party of a chat session reports the
// other, with a reason, the session's messages it is about and a note; one open report
// per reporter and session. Operators list the open ones oldest due first (due 72
// hours after filing), read the session's messages (Transcript) and resolve each with an
// Outcome: the act first (a warning counted on the reported party and sent as a
// WarningEvent; deactivation, suspension and refund through the host's ReportActs,
// each idempotent), then the mark. Kept in Postgres (NewPostgresReportStore, table
// safety_reports, warnings_count of mitras and clients) or in memory
// (NewMemoryReportStore); safetytest.RunReportStoreContract pins what both do.
//
// Wiring (curhat.NewClient does this):
//
//	alerts, err := safety.NewAlerts(safety.NewPostgresAlertStore(pool),
//		safety.AlertsDeps{Settings: runtimeConfig, Notifier: hub}, &safety.AlertsConfig{Logger: logger})
//	svc, err := chat.NewService(chat.NewPostgresStore(pool), chat.Deps{
//		Settings: runtimeConfig, Notifier: hub,
//		Screener: safety.NewScreener(runtimeConfig), Flagged: alerts,
//	}, nil)
package safety
