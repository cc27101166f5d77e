-- One open pairing per client, kept by the database: CreatePairing is one INSERT whose
-- unique violation says "already open", instead of a transaction that locked the client
-- and looked for an open pairing first. A prepaid blast (the continuation of a rerouted
-- session, which Reroute inserts while the client may have a pairing of its own open) is
-- left out; CreatePairing still refuses a new pairing while one of those is open.
-- The statuses are pairing.OpenStatuses.
CREATE UNIQUE INDEX pairings_one_open_per_client_uidx ON pairings (client_id)
    WHERE status IN ('awaiting_payment', 'searching', 'targeted_waiting', 'targeted_unavailable', 'queued')
        AND NOT prepaid;
