-- Statistics (SPEC §24) count what happened in a window by when it happened, from the
-- durable rows, so that every instance answers the same.
--
-- When a pairing ended was not stored: updated_at moves on after the end (a targeted
-- chat's payment is attached after its match). closed_at is when the pairing reached
-- matched, failed or cancelled (its final statuses), written by the statement that moves
-- it there: the accept's UPDATE, or the transition's.
ALTER TABLE pairings ADD COLUMN closed_at timestamptz NULL;
-- Rows of earlier versions: a match is its chat session's insert (the accept's time); a
-- failure or a cancellation was the last change of its row.
UPDATE pairings p SET closed_at = c.created_at
FROM chat_sessions c WHERE c.pairing_id = p.id AND p.status = 'matched';
UPDATE pairings SET closed_at = updated_at
WHERE status IN ('matched', 'failed', 'cancelled') AND closed_at IS NULL;

-- The events a window counts, each on an index of its time, so that a window's cost
-- follows what happened in it, not the whole history:
-- pairings paid (and blasts that started prepaid),
CREATE INDEX pairings_paid_idx ON pairings (paid_at) WHERE paid_at IS NOT NULL;
-- pairings that reached their final status,
CREATE INDEX pairings_closed_idx ON pairings (closed_at) WHERE closed_at IS NOT NULL;
-- chat sessions that ended,
CREATE INDEX chat_sessions_ended_idx ON chat_sessions (ended_at) WHERE status = 'ended';
-- payments paid,
CREATE INDEX payment_sessions_paid_idx ON payment_sessions (paid_at) WHERE paid_at IS NOT NULL;
-- refunds that went through (a succeeded refund never changes again: updated_at is when it
-- succeeded).
CREATE INDEX payment_refunds_succeeded_idx ON payment_refunds (updated_at) WHERE status = 'succeeded';
