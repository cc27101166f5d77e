-- Trust and safety (SPEC §25): the mitra who never answers, how long messages are kept,
-- and a client's erasure.

-- A session whose mitra sent no message (and showed no activity the host reported) within
-- mitra_first_reply_seconds of its start ends mitra_no_show, the client refunded in full.
ALTER TABLE chat_sessions DROP CONSTRAINT chat_sessions_end_reason_check;
ALTER TABLE chat_sessions ADD CONSTRAINT chat_sessions_end_reason_check CHECK (end_reason IS NULL OR end_reason IN
    ('expired', 'client_ended', 'mitra_ended', 'rerouted', 'mitra_deactivated', 'payment_expired', 'payment_failed',
     'cancelled', 'operator_ended', 'mitra_no_show'));
-- The no-show sweep reads the active sessions that started before its cutoff, earliest
-- first (and probes chat_threads by its primary key for the mitra's activity).
CREATE INDEX chat_sessions_active_started_idx ON chat_sessions (started_at) WHERE status = 'active';

-- The retention sweep deletes the messages older than chat_message_retention_days, oldest
-- first, a batch at a time.
CREATE INDEX chat_messages_created_idx ON chat_messages (created_at);

-- An erased client (DELETE /api/client/me) keeps its row, so that its pairings, sessions,
-- payments, refunds and ledger lines keep their client: the display name is replaced, the
-- account closed (is_active false: no new chat, and it cannot be reinstated) and
-- erased_at says when.
ALTER TABLE clients ADD COLUMN erased_at timestamptz NULL;
ALTER TABLE clients ADD CONSTRAINT clients_erased_closed_check CHECK (erased_at IS NULL OR NOT is_active);
