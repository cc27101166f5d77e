-- The offer rows of a blast are written in one statement, up to the fan-out cap (1,000 and
-- more) at a time: the two foreign keys cost a trigger call, an index probe and a row lock
-- per row (about 6 of 10 ms for 1,000 offers). Both are kept by the statements that
-- insert offers instead: each selects the pairing it offers under its row lock and joins
-- the mitras it offers to, and neither pairings nor mitras are ever deleted.
ALTER TABLE pairing_offers DROP CONSTRAINT pairing_offers_pairing_id_fkey;
ALTER TABLE pairing_offers DROP CONSTRAINT pairing_offers_mitra_id_fkey;
