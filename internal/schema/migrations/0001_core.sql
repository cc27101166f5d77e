-- curhat schema, version 1: every table of the product specification.
-- Forward-only. Table and column names are a contract shared with existing deployments.

CREATE TABLE mitras (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name            text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    is_active               boolean NOT NULL DEFAULT true,
    is_online               boolean NOT NULL DEFAULT false,
    last_heartbeat_at       timestamptz NULL,
    max_concurrent_sessions integer NULL CHECK (max_concurrent_sessions IS NULL OR max_concurrent_sessions BETWEEN 1 AND 100),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mitras_online_idx ON mitras (id) WHERE is_online AND is_active;

CREATE TABLE clients (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_kind text NOT NULL CHECK (subject_kind IN ('client', 'mitra', 'operator')),
    subject_id   uuid NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_sessions_subject_idx ON auth_sessions (subject_kind, subject_id);

CREATE TABLE pricing_tiers (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    mode       text NOT NULL CHECK (mode IN ('session', 'extension')),
    minutes    integer NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    price      bigint NOT NULL CHECK (price BETWEEN 0 AND 1000000000),
    currency   text NOT NULL DEFAULT 'IDR',
    label      text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    sort_order integer NOT NULL DEFAULT 0,
    is_active  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (mode, minutes),
    CHECK (mode <> 'extension' OR price > 0)
);

CREATE TABLE pricing_tiers_history (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tier_id     uuid NOT NULL REFERENCES pricing_tiers (id),
    change_kind text NOT NULL CHECK (change_kind IN ('create', 'update', 'deactivate', 'reactivate', 'reorder')),
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    before      jsonb NULL,
    after       jsonb NOT NULL
);
CREATE INDEX pricing_tiers_history_tier_idx ON pricing_tiers_history (tier_id, changed_at DESC);

CREATE TABLE pricing_promotions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind                text NOT NULL UNIQUE CHECK (kind IN ('first_session_discount')),
    enabled             boolean NOT NULL DEFAULT false,
    discount_percent    integer NOT NULL DEFAULT 0 CHECK (discount_percent BETWEEN 0 AND 100),
    max_discount_amount bigint NULL CHECK (max_discount_amount IS NULL OR max_discount_amount >= 0),
    eligible_minutes    integer[] NOT NULL DEFAULT '{}',
    label               text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pricing_promotions_history (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    promotion_id uuid NOT NULL REFERENCES pricing_promotions (id),
    change_kind  text NOT NULL CHECK (change_kind IN ('create', 'update')),
    changed_by   text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    before       jsonb NULL,
    after        jsonb NOT NULL
);
CREATE INDEX pricing_promotions_history_idx ON pricing_promotions_history (promotion_id, changed_at DESC);

INSERT INTO pricing_promotions (kind, enabled, discount_percent, label)
VALUES ('first_session_discount', false, 0, '');

CREATE TABLE pairings (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id          uuid NOT NULL REFERENCES clients (id),
    type               text NOT NULL CHECK (type IN ('blast', 'targeted')),
    target_mitra_id    uuid NULL REFERENCES mitras (id),
    status             text NOT NULL CHECK (status IN ('awaiting_payment', 'searching', 'matched', 'failed',
                                                      'cancelled', 'targeted_waiting', 'targeted_unavailable')),
    minutes            integer NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    payment_session_id uuid NULL,
    prepaid            boolean NOT NULL DEFAULT false,
    expires_at         timestamptz NULL,
    matched_mitra_id   uuid NULL REFERENCES mitras (id),
    chat_session_id    uuid NULL,
    failure_reason     text NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pairings_client_idx ON pairings (client_id, created_at DESC);
CREATE INDEX pairings_open_idx ON pairings (expires_at)
    WHERE status IN ('awaiting_payment', 'searching', 'targeted_waiting', 'targeted_unavailable');

CREATE TABLE chat_sessions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id        uuid NOT NULL REFERENCES clients (id),
    mitra_id         uuid NOT NULL REFERENCES mitras (id),
    status           text NOT NULL CHECK (status IN ('pending_payment', 'active', 'ended', 'cancelled')),
    minutes          integer NOT NULL CHECK (minutes >= 1),
    started_at       timestamptz NULL,
    ends_at          timestamptz NULL,
    ended_at         timestamptz NULL,
    end_reason       text NULL CHECK (end_reason IS NULL OR end_reason IN
                        ('expired', 'client_ended', 'mitra_ended', 'rerouted', 'mitra_deactivated', 'payment_expired',
                         'payment_failed', 'cancelled')),
    pairing_id       uuid NOT NULL REFERENCES pairings (id),
    rerouted_from_id uuid NULL REFERENCES chat_sessions (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- At most one chat session per pairing: the database itself refuses a second winner.
CREATE UNIQUE INDEX chat_sessions_pairing_uidx ON chat_sessions (pairing_id);
CREATE INDEX chat_sessions_mitra_open_idx ON chat_sessions (mitra_id) WHERE status IN ('active', 'pending_payment');
CREATE INDEX chat_sessions_client_idx ON chat_sessions (client_id, created_at DESC);
CREATE INDEX chat_sessions_ends_idx ON chat_sessions (ends_at) WHERE status = 'active';

ALTER TABLE pairings ADD CONSTRAINT pairings_chat_session_fk
    FOREIGN KEY (chat_session_id) REFERENCES chat_sessions (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE pairing_offers (
    pairing_id uuid NOT NULL REFERENCES pairings (id),
    mitra_id   uuid NOT NULL REFERENCES mitras (id),
    status     text NOT NULL CHECK (status IN ('offered', 'accepted', 'declined', 'dismissed', 'expired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pairing_id, mitra_id)
);
CREATE INDEX pairing_offers_mitra_idx ON pairing_offers (mitra_id) WHERE status = 'offered';

CREATE TABLE pairing_failures (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    pairing_id      uuid NOT NULL REFERENCES pairings (id),
    client_id       uuid NOT NULL REFERENCES clients (id),
    type            text NOT NULL CHECK (type IN ('blast', 'targeted')),
    target_mitra_id uuid NULL REFERENCES mitras (id),
    reason          text NOT NULL CHECK (reason IN ('no_mitra_available', 'timeout', 'targeted_declined', 'targeted_timeout')),
    offered_count   integer NOT NULL DEFAULT 0 CHECK (offered_count >= 0),
    amount          bigint NOT NULL DEFAULT 0 CHECK (amount >= 0),
    refund_status   text NOT NULL CHECK (refund_status IN ('not_charged', 'refunded', 'refund_failed')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_by     text NULL,
    resolved_at     timestamptz NULL,
    note            text NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pairing_failures_created_idx ON pairing_failures (created_at DESC);

CREATE TABLE extensions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_session_id    uuid NOT NULL REFERENCES chat_sessions (id),
    tier_id            uuid NOT NULL REFERENCES pricing_tiers (id),
    minutes            integer NOT NULL CHECK (minutes >= 1),
    amount             bigint NOT NULL CHECK (amount > 0),
    status             text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'paid', 'expired')),
    decided_by         text NULL CHECK (decided_by IS NULL OR decided_by IN ('auto', 'mitra')),
    reject_reason      text NULL,
    payment_session_id uuid NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    decided_at         timestamptz NULL
);
-- One open extension per chat session at a time.
CREATE UNIQUE INDEX extensions_open_uidx ON extensions (chat_session_id) WHERE status IN ('requested', 'approved');

CREATE TABLE payment_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id       uuid NOT NULL REFERENCES clients (id),
    purpose         text NOT NULL CHECK (purpose IN ('chat_start', 'extension')),
    pairing_id      uuid NULL REFERENCES pairings (id) DEFERRABLE INITIALLY DEFERRED,
    chat_session_id uuid NULL REFERENCES chat_sessions (id) DEFERRABLE INITIALLY DEFERRED,
    extension_id    uuid NULL REFERENCES extensions (id) DEFERRABLE INITIALLY DEFERRED,
    tier_id         uuid NOT NULL REFERENCES pricing_tiers (id),
    minutes         integer NOT NULL CHECK (minutes >= 1),
    base_amount     bigint NOT NULL CHECK (base_amount >= 0),
    discount_amount bigint NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
    amount          bigint NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'expired', 'cancelled', 'refunded', 'refund_failed')),
    provider_ref    text NULL,
    checkout_url    text NULL,
    idempotency_key text NULL,
    expires_at      timestamptz NOT NULL,
    paid_at         timestamptz NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (amount = base_amount - discount_amount)
);
CREATE UNIQUE INDEX payment_sessions_idem_uidx ON payment_sessions (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX payment_sessions_pending_idx ON payment_sessions (expires_at) WHERE status = 'pending';
CREATE INDEX payment_sessions_client_paid_idx ON payment_sessions (client_id) WHERE status = 'paid' AND purpose = 'chat_start';

ALTER TABLE pairings ADD CONSTRAINT pairings_payment_session_fk
    FOREIGN KEY (payment_session_id) REFERENCES payment_sessions (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE extensions ADD CONSTRAINT extensions_payment_session_fk
    FOREIGN KEY (payment_session_id) REFERENCES payment_sessions (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE app_config (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT 'system'
);
