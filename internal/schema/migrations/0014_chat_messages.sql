-- Messages of chat sessions (SPEC §25): what the client and the mitra of a session write to
-- each other, in one order, idempotent by the sender's own id of each message.

-- One row per chat session with a message, a read receipt or a reported activity: the
-- session's message counter (a send takes the next seq by updating it, in the statement
-- that inserts the message, so that concurrent senders are ordered by its row lock and no
-- seq is skipped), each party's read mark (every message up to it was read; never past
-- the last) and each party's last activity (a message sent, or an activity a host
-- reported for its own chat).
CREATE TABLE chat_threads (
    chat_session_id  uuid PRIMARY KEY REFERENCES chat_sessions (id),
    last_seq         bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    client_read_seq  bigint NOT NULL DEFAULT 0,
    mitra_read_seq   bigint NOT NULL DEFAULT 0,
    client_active_at timestamptz NULL,
    mitra_active_at  timestamptz NULL,
    CONSTRAINT chat_threads_read_check CHECK (client_read_seq BETWEEN 0 AND last_seq AND mitra_read_seq BETWEEN 0 AND last_seq)
);

-- flags are what the screening found (none until it exists). text is what was stored and
-- delivered (masked, once the screening masks anything).
CREATE TABLE chat_messages (
    id              uuid PRIMARY KEY,
    chat_session_id uuid NOT NULL REFERENCES chat_threads (chat_session_id),
    seq             bigint NOT NULL CHECK (seq >= 1),
    sender          text NOT NULL CHECK (sender IN ('client', 'mitra')),
    client_msg_id   text NOT NULL CONSTRAINT chat_messages_client_msg_id_check CHECK (octet_length(client_msg_id) BETWEEN 1 AND 100),
    text            text NOT NULL CONSTRAINT chat_messages_text_check CHECK (char_length(text) BETWEEN 1 AND 4000),
    flags           text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL
);
-- The history: a session's messages by seq (and no seq twice).
CREATE UNIQUE INDEX chat_messages_seq_uidx ON chat_messages (chat_session_id, seq);
-- Idempotency: one message per (session, sender, client_msg_id).
CREATE UNIQUE INDEX chat_messages_client_msg_uidx ON chat_messages (chat_session_id, sender, client_msg_id);
