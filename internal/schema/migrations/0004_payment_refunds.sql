-- Money safety (SPEC §18): partial refunds, each one a row that is recorded before the
-- gateway is asked (an outbox) and retried with backoff until it goes through.
--
-- A payment's status now follows its refunds: refunded only when the succeeded refunds
-- add up to its amount, partially_refunded when some went through, refund_failed while one
-- is failed. refunded_amount is the sum of its succeeded refunds, kept in the same
-- transaction as every refund's change.
ALTER TABLE payment_sessions DROP CONSTRAINT payment_sessions_status_check;
ALTER TABLE payment_sessions ADD CONSTRAINT payment_sessions_status_check CHECK (status IN
    ('pending', 'paid', 'failed', 'expired', 'cancelled', 'partially_refunded', 'refunded', 'refund_failed'));
ALTER TABLE payment_sessions ADD COLUMN refunded_amount bigint NOT NULL DEFAULT 0;
UPDATE payment_sessions SET refunded_amount = amount WHERE status = 'refunded';
ALTER TABLE payment_sessions ADD CONSTRAINT payment_sessions_refunded_amount_check
    CHECK (refunded_amount >= 0 AND refunded_amount <= amount);

-- One row per refund. id is derived from (payment_id, cause), so a refund decided twice
-- (two instances, a retried handler, a duplicate webhook) is one row. The sum of a
-- payment's refunds, whatever their status, never exceeds its amount: a failed refund is
-- retried and may still go through. Rows are inserted while the payment row is locked.
CREATE TABLE payment_refunds (
    id              uuid PRIMARY KEY,
    payment_id      uuid NOT NULL REFERENCES payment_sessions (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    cause           text NOT NULL CHECK (length(cause) BETWEEN 1 AND 200),
    reason          text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_ref    text NULL,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NULL,
    last_error      text NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_refunds_payment_idx ON payment_refunds (payment_id);
CREATE INDEX payment_refunds_cause_idx ON payment_refunds (cause);
CREATE INDEX payment_refunds_created_idx ON payment_refunds (created_at DESC, id DESC);
-- The retry sweep and reconciliation read only the refunds that have not gone through.
CREATE INDEX payment_refunds_unsettled_idx ON payment_refunds (created_at) WHERE status IN ('pending', 'failed');

-- A refund the gateway refused before this version left its payment refund_failed and
-- nothing to retry it: it becomes a failed refund row, which the retry sweep picks up.
INSERT INTO payment_refunds (id, payment_id, amount, cause, reason, status, attempts, next_attempt_at, last_error,
                             created_at, updated_at)
SELECT gen_random_uuid(), id, amount, 'full', 'refund_failed before payment_refunds', 'failed', 1, now(),
       'refused before payment_refunds existed', updated_at, now()
FROM payment_sessions WHERE status = 'refund_failed' AND amount > 0;

-- The first-session discount looks for a chat_start that was paid and not (being) given
-- back in full: paid, partially refunded, or with a refund failed.
DROP INDEX payment_sessions_client_paid_idx;
CREATE INDEX payment_sessions_client_chat_paid_idx ON payment_sessions (client_id)
    WHERE purpose = 'chat_start' AND status IN ('paid', 'partially_refunded', 'refund_failed');
