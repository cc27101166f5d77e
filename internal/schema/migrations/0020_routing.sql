-- Routing quality (SPEC §26).
-- A blast's preferences (NULL: none) and the routing steps it started with (a copy of
-- pairing_routing_steps when it started searching, so that an edit of the setting does not
-- move a blast already routing; NULL without preferences), the step it is at (0-based)
-- and when it widens to the next (NULL: at the last step, or not searching).
ALTER TABLE pairings
    ADD COLUMN preferences   jsonb NULL,
    ADD COLUMN routing_steps jsonb NULL,
    ADD COLUMN routing_step  smallint NOT NULL DEFAULT 0 CHECK (routing_step >= 0),
    ADD COLUMN next_step_at  timestamptz NULL;
-- The timeouts sweep finds the widenings due.
CREATE INDEX pairings_next_step_idx ON pairings (next_step_at) WHERE next_step_at IS NOT NULL;

-- The offer path's copy of the labels refreshes from the profiles edited since its last
-- read.
CREATE INDEX mitras_profile_updated_idx ON mitras (profile_updated_at);

-- How each mitra answered the offers it decided (the ranking's acceptance rate), counted
-- in the statements that decide an offer. Dismissed offers (another mitra won, the client
-- cancelled) are not the mitra's decision and are not counted.
ALTER TABLE pairing_mitra_stats
    ADD COLUMN offers_accepted integer NOT NULL DEFAULT 0 CHECK (offers_accepted >= 0),
    ADD COLUMN offers_declined integer NOT NULL DEFAULT 0 CHECK (offers_declined >= 0),
    ADD COLUMN offers_lapsed   integer NOT NULL DEFAULT 0 CHECK (offers_lapsed >= 0);
-- Offers decided before this migration count too.
INSERT INTO pairing_mitra_stats (mitra_id, offers_accepted, offers_declined, offers_lapsed, updated_at)
SELECT mitra_id,
       count(*) FILTER (WHERE status = 'accepted'),
       count(*) FILTER (WHERE status = 'declined'),
       count(*) FILTER (WHERE status = 'expired'),
       now()
FROM pairing_offers WHERE status IN ('accepted', 'declined', 'expired')
GROUP BY mitra_id
ON CONFLICT (mitra_id) DO UPDATE SET offers_accepted = EXCLUDED.offers_accepted,
    offers_declined = EXCLUDED.offers_declined, offers_lapsed = EXCLUDED.offers_lapsed;
