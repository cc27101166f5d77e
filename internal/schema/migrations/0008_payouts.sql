-- Payouts: the mitras' available earnings paid to their bank account or e-wallet through
-- the payout provider. Each payout moves its amount in the ledger (payout_created,
-- payout_succeeded, payout_failed, payout_reversed) in the transaction of its status change.

-- Where a mitra is paid.
CREATE TABLE payout_destinations (
    mitra_id            uuid PRIMARY KEY REFERENCES mitras (id),
    channel_code        text NOT NULL CHECK (channel_code ~ '^[A-Z][A-Z0-9_]{1,49}$'),
    account_number      text NOT NULL CHECK (account_number ~ '^[0-9]{4,34}$'),
    account_holder_name text NOT NULL CHECK (length(account_holder_name) BETWEEN 1 AND 100),
    updated_at          timestamptz NOT NULL
);

CREATE TABLE payouts (
    id                  uuid PRIMARY KEY,
    mitra_id            uuid NOT NULL REFERENCES mitras (id),
    amount              bigint NOT NULL CHECK (amount > 0),
    currency            text NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'reversed')),
    -- The destination as it was when the payout was created.
    channel_code        text NOT NULL,
    account_number      text NOT NULL,
    account_holder_name text NOT NULL,
    provider_ref        text NULL,
    failure_reason      text NULL,
    attempts            integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
-- A mitra has at most one open payout: concurrent runs on any number of instances create
-- one.
CREATE UNIQUE INDEX payouts_open_uidx ON payouts (mitra_id) WHERE status IN ('pending', 'processing');
CREATE INDEX payouts_created_idx ON payouts (created_at DESC, id DESC);
CREATE INDEX payouts_mitra_idx ON payouts (mitra_id, created_at DESC);
-- Pending payouts whose send was cut short are sent again.
CREATE INDEX payouts_pending_idx ON payouts (updated_at) WHERE status = 'pending';
