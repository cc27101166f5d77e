-- Wrap-up (SPEC §26): for mitra_wrapup_seconds after one of its chat sessions ends, a mitra
-- is offered nothing and not counted available. While the setting is above 0, the mirror's
-- per-mitra reads (a sync after every chat-session transition) and the pairing side's
-- check of a mitra ask whether the mitra ended a session after a time: one probe of this
-- index each. The reads of every mitra at once (the seed, the Postgres fallback of the
-- available count) scan the recent ends through chat_sessions_ended_idx instead.
CREATE INDEX chat_sessions_mitra_ended_idx ON chat_sessions (mitra_id, ended_at) WHERE status = 'ended';
