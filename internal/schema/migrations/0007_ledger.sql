-- The earnings ledger: double-entry books of every rupiah a client pays. Each business
-- event is one transaction (ledger_txns) of signed lines (ledger_entries: a debit is
-- positive, a credit negative) that sum to zero, written in the same Postgres transaction
-- as the state change it records. Lines are never updated or deleted: a correction is a
-- new transaction.

-- The fee share of the platform, fixed on each payment when it is paid.
ALTER TABLE payment_sessions ADD COLUMN platform_fee_percent integer NULL
    CHECK (platform_fee_percent BETWEEN 0 AND 100);

-- One row per posted transaction. Its id is derived from what it records (a payment, a
-- refund, a chat session), so posting the same event twice inserts nothing the second
-- time: concurrent instances never post one event twice.
CREATE TABLE ledger_txns (
    id         uuid PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('payment_paid', 'refund_succeeded', 'session_value', 'earning_reversed',
        'earning_cleared', 'payout_created', 'payout_succeeded', 'payout_failed', 'payout_reversed', 'backfill')),
    created_at timestamptz NOT NULL
);

CREATE TABLE ledger_entries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    txn_id          uuid NOT NULL REFERENCES ledger_txns (id),
    kind            text NOT NULL,
    account         text NOT NULL CHECK (account IN ('gateway', 'client_funds', 'platform_revenue', 'mitra_pending',
        'mitra_available', 'payouts_in_flight', 'mitra_receivable')),
    mitra_id        uuid NULL REFERENCES mitras (id),
    payment_id      uuid NULL REFERENCES payment_sessions (id),
    chat_session_id uuid NULL REFERENCES chat_sessions (id),
    payout_id       uuid NULL,
    -- seq orders the lines as they were posted.
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    amount          bigint NOT NULL CHECK (amount <> 0),
    currency        text NOT NULL,
    -- When a session's earning (its mitra_pending line) becomes available: fixed at posting.
    clears_at       timestamptz NULL,
    created_at      timestamptz NOT NULL,
    CHECK ((account LIKE 'mitra\_%' OR account = 'payouts_in_flight') = (mitra_id IS NOT NULL)),
    CHECK (account <> 'client_funds' OR payment_id IS NOT NULL)
);
CREATE INDEX ledger_entries_txn_idx ON ledger_entries (txn_id);
-- What a payment still holds: its client_funds lines.
CREATE INDEX ledger_entries_payment_idx ON ledger_entries (payment_id) WHERE account = 'client_funds';
-- A mitra's balances and statement.
CREATE INDEX ledger_entries_mitra_idx ON ledger_entries (mitra_id, created_at DESC, seq DESC) WHERE mitra_id IS NOT NULL;
-- A session's value, reversals and clearance.
CREATE INDEX ledger_entries_session_idx ON ledger_entries (chat_session_id) WHERE chat_session_id IS NOT NULL;
CREATE INDEX ledger_entries_payout_idx ON ledger_entries (payout_id) WHERE payout_id IS NOT NULL;

-- Append-only. Deleting is allowed only to wipe a test database, which says so with
-- SET LOCAL curhat.ledger_erase = 'on'.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('curhat.ledger_erase', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ledger rows are never updated or deleted (%)', TG_TABLE_NAME USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_txns_append_only BEFORE UPDATE OR DELETE ON ledger_txns
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- A transaction whose lines do not sum to zero (or that has none) is refused at commit.
CREATE FUNCTION ledger_txn_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    total numeric;
BEGIN
    SELECT count(*), COALESCE(sum(amount), 0) INTO n, total FROM ledger_entries WHERE txn_id = NEW.id;
    IF n = 0 OR total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % (%) has % lines summing to %, not 0', NEW.id, NEW.kind, n, total
            USING ERRCODE = '23514', CONSTRAINT = 'ledger_txns_balanced';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_txns_balanced AFTER INSERT ON ledger_txns
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_txn_balanced();

-- The money a rerouted session hands to the prepaid blast that continues it, per payment:
-- the continuation's value when it ends, or what is refunded when it fails.
CREATE TABLE ledger_carry_overs (
    pairing_id uuid NOT NULL REFERENCES pairings (id),
    payment_id uuid NOT NULL REFERENCES payment_sessions (id),
    amount     bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (pairing_id, payment_id)
);

-- The earnings waiting for their clearance: a work list, not part of the books. A row is
-- added with a session's earning and removed when it clears or nothing is left of it, so
-- that the clearance sweep reads what is due, not the whole history.
CREATE TABLE ledger_clearance_due (
    chat_session_id uuid PRIMARY KEY REFERENCES chat_sessions (id),
    mitra_id        uuid NOT NULL REFERENCES mitras (id),
    clears_at       timestamptz NOT NULL
);
CREATE INDEX ledger_clearance_due_idx ON ledger_clearance_due (clears_at);
CREATE INDEX ledger_clearance_due_mitra_idx ON ledger_clearance_due (mitra_id, clears_at);

-- ledger_post_session_value posts the value of a chat session that ends now, in the
-- caller's transaction (kind session_value; backfill for the history). The in-memory
-- store's twin is postSessionValue in payment/ledger/memory.go; the rules are those of
-- payment/ledger's package doc:
--   attributed: the chat_start payment of the session's pairing (not prepaid), or the
--     carry-over rows of its pairing (prepaid), plus its paid extensions' payments;
--   held: what a payment's client_funds lines still hold less its refunds not yet
--     succeeded; each payment gives at most min(attributed, held);
--   carry (p_carry_pairing set): floor(sum of attributed x p_carry_minutes / p_carry_of),
--     at most what the payments give, taken from the session's own extensions first (newest
--     first), then from what it started with (newest payment first);
--   per payment: value = gives - carry; fee = floor(value x its platform_fee_percent / 100).
CREATE FUNCTION ledger_post_session_value(p_txn uuid, p_kind text, p_session uuid, p_mitra uuid, p_pairing uuid,
    p_carry_pairing uuid, p_carry_minutes integer, p_carry_of integer, p_at timestamptz, p_clears_at timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    attributed_total bigint := 0;
    give_total bigint := 0;
    carry_left bigint := 0;
    earning bigint := 0;
    fees bigint := 0;
    cur text;
    pids uuid[];
    attr bigint[];
    pcts integer[];
    gives bigint[] := ARRAY[]::bigint[];
    carries bigint[] := ARRAY[]::bigint[];
    vals bigint[] := ARRAY[]::bigint[];
    g bigint;
    cp bigint;
    i integer;
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_txns WHERE id = p_txn) THEN
        RETURN false;
    END IF;
    SELECT array_agg(x.pid ORDER BY x.rank, ps.created_at DESC, ps.id DESC),
           array_agg(x.amount ORDER BY x.rank, ps.created_at DESC, ps.id DESC),
           array_agg(COALESCE(ps.platform_fee_percent, 0) ORDER BY x.rank, ps.created_at DESC, ps.id DESC),
           min(ps.currency)
      INTO pids, attr, pcts, cur
      FROM (SELECT pr.payment_session_id AS pid, ps0.amount, 1 AS rank
              FROM pairings pr JOIN payment_sessions ps0 ON ps0.id = pr.payment_session_id
             WHERE pr.id = p_pairing AND NOT pr.prepaid
            UNION ALL
            SELECT co.payment_id, co.amount, 1 FROM ledger_carry_overs co WHERE co.pairing_id = p_pairing
            UNION ALL
            SELECT e.payment_session_id, ps1.amount, 0
              FROM extensions e JOIN payment_sessions ps1 ON ps1.id = e.payment_session_id
             WHERE e.chat_session_id = p_session AND e.status = 'paid') x
      JOIN payment_sessions ps ON ps.id = x.pid
     WHERE ps.paid_at IS NOT NULL AND x.amount > 0;
    IF pids IS NULL THEN
        RETURN false;
    END IF;
    -- What each payment holds is read under its ledger lock, which a refund's posting
    -- takes too.
    FOR i IN 1 .. array_length(pids, 1) LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('ledger:' || pids[i]::text, 0));
    END LOOP;
    FOR i IN 1 .. array_length(pids, 1) LOOP
        g := LEAST(attr[i], GREATEST(0,
            -(SELECT COALESCE(sum(amount), 0) FROM ledger_entries WHERE account = 'client_funds' AND payment_id = pids[i])
            - (SELECT COALESCE(sum(amount), 0) FROM payment_refunds WHERE payment_id = pids[i] AND status <> 'succeeded')));
        gives := gives || g;
        attributed_total := attributed_total + attr[i];
        give_total := give_total + g;
    END LOOP;
    IF p_carry_pairing IS NOT NULL AND p_carry_of > 0 THEN
        carry_left := LEAST(give_total, floor(attributed_total::numeric * p_carry_minutes / p_carry_of)::bigint);
    END IF;
    FOR i IN 1 .. array_length(pids, 1) LOOP
        cp := LEAST(gives[i], carry_left);
        carry_left := carry_left - cp;
        carries := carries || cp;
        vals := vals || (gives[i] - cp);
        fees := fees + floor((gives[i] - cp)::numeric * pcts[i] / 100)::bigint;
        earning := earning + (gives[i] - cp) - floor((gives[i] - cp)::numeric * pcts[i] / 100)::bigint;
        IF cp > 0 THEN
            INSERT INTO ledger_carry_overs (pairing_id, payment_id, amount) VALUES (p_carry_pairing, pids[i], cp)
                ON CONFLICT (pairing_id, payment_id) DO NOTHING;
        END IF;
    END LOOP;
    IF earning + fees = 0 THEN
        RETURN false; -- all of it carried on or refunded: nothing to post
    END IF;
    INSERT INTO ledger_txns (id, kind, created_at) VALUES (p_txn, p_kind, p_at);
    FOR i IN 1 .. array_length(pids, 1) LOOP
        IF vals[i] > 0 THEN
            INSERT INTO ledger_entries (txn_id, kind, account, payment_id, chat_session_id, amount, currency, created_at)
            VALUES (p_txn, p_kind, 'client_funds', pids[i], p_session, vals[i], cur, p_at);
        END IF;
    END LOOP;
    IF earning > 0 THEN
        INSERT INTO ledger_entries (txn_id, kind, account, mitra_id, chat_session_id, amount, currency, clears_at, created_at)
        VALUES (p_txn, p_kind, 'mitra_pending', p_mitra, p_session, -earning, cur, p_clears_at, p_at);
        INSERT INTO ledger_clearance_due (chat_session_id, mitra_id, clears_at) VALUES (p_session, p_mitra, p_clears_at)
            ON CONFLICT (chat_session_id) DO NOTHING;
    END IF;
    IF fees > 0 THEN
        INSERT INTO ledger_entries (txn_id, kind, account, chat_session_id, amount, currency, created_at)
        VALUES (p_txn, p_kind, 'platform_revenue', p_session, -fees, cur, p_at);
    END IF;
    RETURN true;
END $$;

-- The backfill: the history before the ledger, posted as kind backfill so that the
-- invariants hold from the first day. Payments paid and refunds succeeded, then every
-- ended session in the order they ended, a continuation after the session it continues (a
-- rerouted session hands its carry-over to its continuation unless that failed: then the
-- refund already took it back). Earnings clear 72 hours after the session ended, as the
-- default clearance would have.
INSERT INTO ledger_txns (id, kind, created_at)
SELECT md5('backfill:paid:' || id::text)::uuid, 'backfill', paid_at
FROM payment_sessions WHERE paid_at IS NOT NULL AND amount > 0;
INSERT INTO ledger_entries (txn_id, kind, account, payment_id, amount, currency, created_at)
SELECT md5('backfill:paid:' || p.id::text)::uuid, 'backfill', v.account, p.id, v.sign * p.amount, p.currency, p.paid_at
FROM payment_sessions p CROSS JOIN (VALUES ('gateway', 1), ('client_funds', -1)) v(account, sign)
WHERE p.paid_at IS NOT NULL AND p.amount > 0;

INSERT INTO ledger_txns (id, kind, created_at)
SELECT md5('backfill:refund:' || id::text)::uuid, 'backfill', updated_at
FROM payment_refunds WHERE status = 'succeeded';
INSERT INTO ledger_entries (txn_id, kind, account, payment_id, amount, currency, created_at)
SELECT md5('backfill:refund:' || r.id::text)::uuid, 'backfill', v.account, r.payment_id, v.sign * r.amount, p.currency,
       r.updated_at
FROM payment_refunds r JOIN payment_sessions p ON p.id = r.payment_id
CROSS JOIN (VALUES ('client_funds', 1), ('gateway', -1)) v(account, sign)
WHERE r.status = 'succeeded';

DO $$
DECLARE
    s record;
    cont_id uuid;
    cont_minutes integer;
BEGIN
    FOR s IN SELECT id, client_id, mitra_id, pairing_id, minutes, ended_at, end_reason
               FROM chat_sessions WHERE status = 'ended' AND ended_at IS NOT NULL ORDER BY ended_at, created_at, id LOOP
        cont_id := NULL;
        cont_minutes := 0;
        IF s.end_reason IN ('rerouted', 'mitra_deactivated') THEN
            SELECT id, minutes INTO cont_id, cont_minutes FROM pairings
             WHERE prepaid AND client_id = s.client_id AND created_at = s.ended_at
               AND status NOT IN ('failed', 'cancelled')
             LIMIT 1;
        END IF;
        PERFORM ledger_post_session_value(md5('backfill:session:' || s.id::text)::uuid, 'backfill', s.id, s.mitra_id,
            s.pairing_id, cont_id, COALESCE(cont_minutes, 0), s.minutes, s.ended_at, s.ended_at + interval '72 hours');
    END LOOP;
END $$;
