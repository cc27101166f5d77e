-- Blocks between a client and a mitra (SPEC §25): either side may block the other, and a
-- blocked pair is never offered to each other (blast, "Curhat lagi", queue, ring,
-- reroute). One row per side that blocked: both sides may block, and an unblock removes
-- only the caller's own row. The pair is blocked while either row exists.
CREATE TABLE pairing_blocks (
    client_id  uuid NOT NULL REFERENCES clients (id),
    mitra_id   uuid NOT NULL REFERENCES mitras (id),
    blocked_by text NOT NULL CHECK (blocked_by IN ('client', 'mitra')),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, mitra_id, blocked_by)
);
-- The offers read the primary key: a client's blocked mitras (the exclusions of its
-- blast), or one pair (an offer, an accept). A mitra's own list reads this one.
CREATE INDEX pairing_blocks_mitra_idx ON pairing_blocks (mitra_id, created_at DESC) WHERE blocked_by = 'mitra';
