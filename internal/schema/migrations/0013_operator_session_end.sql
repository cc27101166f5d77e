-- Operators end chat sessions (SPEC §24, POST /api/internal/chat-sessions/{id}/end): a
-- session an operator ended says so, end_reason operator_ended. Whatever the operator
-- refunded is a payment_refunds row like every other refund; the session's value, posted
-- to the ledger as it ends, leaves it out.
ALTER TABLE chat_sessions DROP CONSTRAINT chat_sessions_end_reason_check;
ALTER TABLE chat_sessions ADD CONSTRAINT chat_sessions_end_reason_check CHECK (end_reason IS NULL OR end_reason IN
    ('expired', 'client_ended', 'mitra_ended', 'rerouted', 'mitra_deactivated', 'payment_expired', 'payment_failed',
     'cancelled', 'operator_ended'));
