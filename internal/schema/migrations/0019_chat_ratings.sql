-- Ratings of chat sessions (SPEC §26): the client of an ended session rates it once, 1 to 5
-- stars with an optional comment, within 7 days of its end. A mitra's rating is the
-- Bayesian average (C × m + Σ stars) / (C + n), m = 4.0 and C = 10, read from its running
-- total below.
--
-- Operators may hide a comment (comment_hidden_at, hidden_by: the operator, NULL for one
-- without an account): the text is no longer shown, but the row and its stars stay and
-- still count in the mitra's rating — hiding moderates words, not the client's score.
CREATE TABLE chat_ratings (
    id                uuid PRIMARY KEY,
    -- One rating per session: a second submit (or a concurrent double submit) inserts
    -- nothing.
    chat_session_id   uuid NOT NULL UNIQUE REFERENCES chat_sessions (id),
    client_id         uuid NOT NULL REFERENCES clients (id),
    mitra_id          uuid NOT NULL REFERENCES mitras (id),
    stars             smallint NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment           text NULL CHECK (char_length(comment) BETWEEN 1 AND 1000),
    comment_hidden_at timestamptz NULL,
    hidden_by         uuid NULL,
    created_at        timestamptz NOT NULL
);
-- The operators' list of a mitra's ratings, newest first.
CREATE INDEX chat_ratings_mitra_idx ON chat_ratings (mitra_id, created_at DESC, id DESC);
-- A client's erasure clears the comments it wrote.
CREATE INDEX chat_ratings_client_idx ON chat_ratings (client_id);

-- A mitra's running total, written in the transaction of each rating: its average is one
-- primary-key read however many ratings it has (and the ranking reads a page of mitras in
-- one statement). A mitra without a row has no ratings.
CREATE TABLE mitra_rating_totals (
    mitra_id  uuid PRIMARY KEY REFERENCES mitras (id),
    ratings   integer NOT NULL CHECK (ratings >= 0),
    stars_sum bigint NOT NULL CHECK (stars_sum >= 0)
);
