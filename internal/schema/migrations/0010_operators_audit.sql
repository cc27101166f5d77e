-- Operators as people: accounts with a role, and an audit of every operator write.

CREATE TABLE operators (
    id           uuid PRIMARY KEY,
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    role         text NOT NULL CHECK (role IN ('admin', 'support', 'viewer')),
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- One row per operator write. operator_id has no foreign key: the bootstrap operator (the
-- OPERATOR_TOKEN of the environment) writes as the nil UUID and has no row. target_id is
-- text: a config key is a target too.
CREATE TABLE operator_audit (
    id          uuid PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    operator_id uuid NOT NULL,
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target_kind text NOT NULL CHECK (length(target_kind) BETWEEN 1 AND 100),
    target_id   text NOT NULL CHECK (length(target_id) <= 200),
    before      jsonb NULL,
    after       jsonb NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX operator_audit_seq_idx ON operator_audit (seq DESC);
CREATE INDEX operator_audit_target_idx ON operator_audit (target_id, seq DESC);
CREATE INDEX operator_audit_operator_idx ON operator_audit (operator_id, seq DESC);

-- Append-only. Deleting is allowed only to wipe a test database, which says so with
-- SET LOCAL curhat.audit_erase = 'on'.
CREATE FUNCTION operator_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('curhat.audit_erase', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit rows are never updated or deleted' USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER operator_audit_append_only BEFORE UPDATE OR DELETE ON operator_audit
    FOR EACH ROW EXECUTE FUNCTION operator_audit_append_only();
