// Package chat carries the messages of chat sessions between their two parties, the client
// and the mitra: in one order per session, idempotent by the sender's own id of each
// message, with read receipts, only between the two parties and only while the session
// runs.
//
// A Service sits over a Store (NewPostgresStore, or NewMemoryStore) and the small
// interfaces of Deps: the runtime Settings (*curhat.RuntimeConfig), a pairing.Notifier for
// the events, a RateLimiter (NewValkeyRateLimiter across instances, NewMemoryRateLimiter on
// one), a Screener and a FlagHandler (package safety: contact details masked, crisis
// messages flagged and acted on). curhat.NewClient wires it all (Client.Chat).
//
// The rules the Service owns:
//
//   - Send: only the session's client or mitra (anybody else: ErrNotFound, as for an
//     unknown session), only while it is active and before its ends_at (ErrInvalidState);
//     text of 1..4000 characters; at most chat_message_rate_per_minute messages of a
//     sender in a session in any minute (a *RateLimitedError, ErrRateLimited). A message
//     gets the session's next Seq (1, 2, 3, …, no gaps, both parties in one sequence, also
//     under concurrent senders on many instances) and goes to the other party as a
//     MessageEvent. A second send with the same ClientMsgID answers the first message.
//   - History (after a Seq, a page at a time) and MarkRead (a read mark per party that
//     never moves back; the other party gets a MessageReadEvent): the parties, while the
//     session is active and for 24 hours after its end (Config.HistoryAfterEnd).
//   - ReportActivity: a host whose own chat carries the messages reports a party's
//     activity instead; Activity reads the last of each party (a message counts), for the
//     rules that ask whether a party showed up.
//   - Retention (SweepRetention) and a client's erasure (DeleteClientMessages): messages
//     older than chat_message_retention_days, and every message of an erased client's
//     sessions, are deleted a batch at a time — never those an open safety report holds
//     (see RetentionStore). Archive reads a session's kept messages for a party's export.
//
// Cost: a send is one Postgres statement (the session and sender checked, the replay
// looked up, the seq taken from the session's chat_threads row and the message inserted,
// in one round trip) and one Valkey script call (the rate limit), plus the notifier's
// publish.
//
// Wiring:
//
//	svc, err := chat.NewService(chat.NewPostgresStore(pool), chat.Deps{
//		Settings: runtimeConfig, Notifier: hub,
//		Limiter:  chat.NewValkeyRateLimiter(valkeyClient, chat.ValkeyRateLimiterConfig{}),
//	}, &chat.Config{Logger: logger})
package chat
