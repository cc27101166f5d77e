-- Reports (SPEC §25): one party of a chat session reports the other; operators work the
-- open reports oldest due first and resolve each with an outcome.

-- reporter and reporter_id filed it; reported and reported_id are the session's other
-- party, copied from the session when it was filed. message_ids name messages of the
-- session (checked when it is filed; the retention sweep keeps them while it is open, and
-- a message deleted later stays named). note is the reporter's own words (NULL: none);
-- the erasure of a party replaces it, and resolution_note, with '[redacted]'. due_at is
-- created_at + 72 h. resolved_by is the operator (the nil UUID for the bootstrap
-- operator, hence no foreign key).
CREATE TABLE safety_reports (
    id              uuid PRIMARY KEY,
    chat_session_id uuid NOT NULL REFERENCES chat_sessions (id),
    reporter        text NOT NULL CONSTRAINT safety_reports_reporter_check CHECK (reporter IN ('client', 'mitra')),
    reporter_id     uuid NOT NULL,
    reported        text NOT NULL CHECK (reported IN ('client', 'mitra') AND reported <> reporter),
    reported_id     uuid NOT NULL,
    reason          text NOT NULL CONSTRAINT safety_reports_reason_check
                    CHECK (reason IN ('harassment', 'inappropriate', 'spam', 'safety', 'other')),
    message_ids     uuid[] NOT NULL DEFAULT '{}' CONSTRAINT safety_reports_message_ids_check CHECK (cardinality(message_ids) <= 100),
    note            text NULL CONSTRAINT safety_reports_note_check CHECK (char_length(note) BETWEEN 1 AND 2000),
    status          text NOT NULL CHECK (status IN ('open', 'resolved')),
    due_at          timestamptz NOT NULL,
    outcome         text NULL CONSTRAINT safety_reports_outcome_check
                    CHECK (outcome IN ('no_action', 'warned', 'mitra_deactivated', 'client_suspended', 'refunded')),
    resolution_note text NULL CONSTRAINT safety_reports_resolution_note_check CHECK (char_length(resolution_note) BETWEEN 1 AND 2000),
    resolved_by     uuid NULL,
    resolved_at     timestamptz NULL,
    created_at      timestamptz NOT NULL,
    -- Open: no resolution; resolved: all of it.
    CONSTRAINT safety_reports_resolution_check CHECK (
        (status = 'open' AND outcome IS NULL AND resolution_note IS NULL AND resolved_by IS NULL AND resolved_at IS NULL)
        OR (status = 'resolved' AND outcome IS NOT NULL AND resolution_note IS NOT NULL AND resolved_at IS NOT NULL))
);
-- One open report per reporter and session (the reporter's side of the session names it).
CREATE UNIQUE INDEX safety_reports_open_uidx ON safety_reports (chat_session_id, reporter) WHERE status = 'open';
-- The queue: the open reports oldest due first; the resolved ones newest first.
CREATE INDEX safety_reports_due_idx ON safety_reports (due_at, id) WHERE status = 'open';
CREATE INDEX safety_reports_resolved_idx ON safety_reports (resolved_at DESC, id) WHERE status = 'resolved';
-- A party's reports, either side (the erasure of a client redacts them).
CREATE INDEX safety_reports_reporter_idx ON safety_reports (reporter_id);
CREATE INDEX safety_reports_reported_idx ON safety_reports (reported_id);

-- Warnings a party received (a report resolved "warned"), shown on its profile. A constant
-- default: adding the columns rewrites no row.
ALTER TABLE mitras ADD COLUMN warnings_count integer NOT NULL DEFAULT 0 CHECK (warnings_count >= 0);
ALTER TABLE clients ADD COLUMN warnings_count integer NOT NULL DEFAULT 0 CHECK (warnings_count >= 0);
