-- Delivery tracking for payment outcomes. handled_at is set once the purpose's handler
-- (start the blast, activate the session, apply the extension, release what waited) has
-- run successfully for the session's current outcome. A paid, failed or expired session
-- without it is redelivered by the stale-payments sweep and by a duplicate webhook, so a
-- handler that failed (Postgres restarting, a crash between the two steps) is retried
-- until it succeeds instead of leaving a paid payment with nothing started.
ALTER TABLE payment_sessions ADD COLUMN handled_at timestamptz NULL;
CREATE INDEX payment_sessions_undelivered_idx ON payment_sessions (updated_at)
    WHERE handled_at IS NULL AND status IN ('paid', 'failed', 'expired');
