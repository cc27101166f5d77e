-- Operations: suspending clients and editing mitra profiles. (The operators' live list of
-- waiting pairings reads pairings_open_idx, the partial index of the open pairings.)

-- A suspended client (is_active false) cannot sign in or start a chat; reinstating it
-- restores access for tokens minted afterwards.
ALTER TABLE clients ADD COLUMN is_active boolean NOT NULL DEFAULT true;

-- profile_updated_at is the optimistic-lock token of operators' profile edits (display
-- name, maximum of concurrent sessions, labels). Presence (online, offline, heartbeats,
-- away) moves updated_at only, so a ping never makes an operator's edit stale.
ALTER TABLE mitras ADD COLUMN profile_updated_at timestamptz NULL;
UPDATE mitras SET profile_updated_at = updated_at;
ALTER TABLE mitras ALTER COLUMN profile_updated_at SET DEFAULT now();
ALTER TABLE mitras ALTER COLUMN profile_updated_at SET NOT NULL;

-- labels: {"languages": [ISO 639-1 codes], "topics": [short strings], "gender":
-- "female"|"male"|"other"}, every key optional; validated by the SDK, kept an object here.
ALTER TABLE mitras ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(labels) = 'object');
