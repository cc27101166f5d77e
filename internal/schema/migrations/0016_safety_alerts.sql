-- Safety alerts (SPEC §25): a client's chat message matched a crisis term (the screening
-- flagged it "crisis"); operators see the alert and acknowledge it.

-- One row per message that raised an alert (the unique index makes a resend of the message
-- find the alert stored the first time). message_id has no foreign key: the retention
-- sweep and a client's erasure delete messages, and the alert stays as the record that an
-- operator was told. terms are the crisis terms the message matched, as configured then.
CREATE TABLE safety_alerts (
    id              uuid PRIMARY KEY,
    message_id      uuid NOT NULL,
    chat_session_id uuid NOT NULL REFERENCES chat_sessions (id),
    client_id       uuid NOT NULL,
    mitra_id        uuid NOT NULL,
    terms           text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged')),
    created_at      timestamptz NOT NULL,
    acknowledged_at timestamptz NULL,
    acknowledged_by text NULL,
    CONSTRAINT safety_alerts_ack_check CHECK ((status = 'acknowledged') = (acknowledged_at IS NOT NULL AND acknowledged_by IS NOT NULL))
);
CREATE UNIQUE INDEX safety_alerts_message_uidx ON safety_alerts (message_id);
-- The operators' queue: by status, newest first (and every alert, newest first).
CREATE INDEX safety_alerts_status_created_idx ON safety_alerts (status, created_at DESC, id DESC);
CREATE INDEX safety_alerts_created_idx ON safety_alerts (created_at DESC, id DESC);
