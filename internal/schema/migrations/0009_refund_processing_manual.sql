-- Refunds through a real provider (SPEC §27): a refund the provider accepted but has not
-- settled is 'processing' until its callback; one the provider cannot make (a channel
-- without refunds, the refund window passed) is 'manual', never retried, until an
-- operator records that it was paid by hand (note). key_attempt is the attempt that
-- started the idempotency key the provider gets: the refund id while it is 0, else
-- '<refund id>:<key_attempt>', a new key after a final refusal.
ALTER TABLE payment_refunds DROP CONSTRAINT payment_refunds_status_check;
ALTER TABLE payment_refunds ADD CONSTRAINT payment_refunds_status_check
    CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'manual'));
ALTER TABLE payment_refunds ADD COLUMN key_attempt integer NOT NULL DEFAULT 0;
ALTER TABLE payment_refunds ADD COLUMN note text NULL;
DROP INDEX payment_refunds_unsettled_idx;
CREATE INDEX payment_refunds_unsettled_idx ON payment_refunds (created_at)
    WHERE status IN ('pending', 'processing', 'failed', 'manual');
