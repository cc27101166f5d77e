-- Pairing policies (SPEC §19), each off by default: a paid waiting queue, ring offers,
-- and mitras sent away after missed offers. Nothing here changes what the seed's flows
-- write: the new columns stay at their defaults unless a policy is turned on.

-- The queue. A paid blast that finds nobody, or whose offers all lapse, waits in
-- 'queued' in the order it was paid (paid_at, then id). queued_at is when it first entered
-- the queue; expires_at is then paid_at + pairing_queue_max_wait_seconds.
ALTER TABLE pairings DROP CONSTRAINT pairings_status_check;
ALTER TABLE pairings ADD CONSTRAINT pairings_status_check CHECK (status IN ('awaiting_payment', 'searching',
    'matched', 'failed', 'cancelled', 'targeted_waiting', 'targeted_unavailable', 'queued'));
ALTER TABLE pairings ADD COLUMN paid_at timestamptz NULL;
ALTER TABLE pairings ADD COLUMN queued_at timestamptz NULL;
-- The head of the queue, positions and the queue's length read this index only.
CREATE INDEX pairings_queue_idx ON pairings (paid_at, id) WHERE status = 'queued';
-- Deadlines of every open pairing, the queued ones included.
DROP INDEX pairings_open_idx;
CREATE INDEX pairings_open_idx ON pairings (expires_at)
    WHERE status IN ('awaiting_payment', 'searching', 'targeted_waiting', 'targeted_unavailable', 'queued');

-- Ring offers: rings is how many rings of mitras a searching blast was offered to (0: the
-- blast policy, every available mitra at once); next_ring_at when the next one joins.
ALTER TABLE pairings ADD COLUMN rings integer NOT NULL DEFAULT 0 CHECK (rings >= 0);
ALTER TABLE pairings ADD COLUMN next_ring_at timestamptz NULL;
CREATE INDEX pairings_next_ring_idx ON pairings (next_ring_at) WHERE status = 'searching' AND next_ring_at IS NOT NULL;

-- An offer of a queued pairing has a deadline of its own (NULL: the pairing's deadline
-- applies, as for every offer of a searching or targeted pairing).
ALTER TABLE pairing_offers ADD COLUMN expires_at timestamptz NULL;
CREATE INDEX pairing_offers_lapse_idx ON pairing_offers (expires_at) WHERE status = 'offered' AND expires_at IS NOT NULL;

ALTER TABLE pairing_failures DROP CONSTRAINT pairing_failures_reason_check;
ALTER TABLE pairing_failures ADD CONSTRAINT pairing_failures_reason_check CHECK (reason IN
    ('no_mitra_available', 'timeout', 'targeted_declined', 'targeted_timeout', 'queue_timeout'));

-- The estimate of the wait shown to queued clients: an exponentially weighted average of
-- recent waits from paid to match (e = 0.9·e + 0.1·last), one row shared by every instance.
CREATE TABLE pairing_queue_estimate (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    wait_seconds double precision NOT NULL CHECK (wait_seconds >= 0),
    samples      bigint NOT NULL CHECK (samples >= 1),
    updated_at   timestamptz NOT NULL
);

-- What pairing knows of each mitra's recent behaviour: offers missed in a row (reset by an
-- accept, a decline or going online) and since when it has been idle (its last session
-- ended, or it came online, whichever is later), for the ring policy's longest-idle order.
CREATE TABLE pairing_mitra_stats (
    mitra_id      uuid PRIMARY KEY REFERENCES mitras (id),
    missed_offers integer NOT NULL DEFAULT 0 CHECK (missed_offers >= 0),
    idle_since    timestamptz NULL,
    updated_at    timestamptz NOT NULL
);

-- Why the system took a mitra offline (NULL: it did not); cleared when it goes online.
ALTER TABLE mitras ADD COLUMN away_reason text NULL CHECK (away_reason IS NULL OR away_reason IN ('missed_offers'));
