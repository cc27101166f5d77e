-- The heartbeat mirror moves last_heartbeat_at of about nine in ten mitras each minute. An
-- update stays on its page (HOT: no new entry in mitras_pkey or mitras_online_idx, one WAL
-- record instead of three) only if the page has room for the new version. At fillfactor
-- 70 a page holds about 62 rows and room for about 25 new versions, so half of the 90 000
-- updates at 100k mitras went to another page with two index inserts each (measured with
-- EXPLAIN (ANALYZE, BUFFERS, WAL): 236 000 WAL records, 34 MB). At 50 every updated row of
-- a page fits on it (90 000 records, 17 MB; the table takes 2.3k pages instead of 1.6k
-- at 100k). As with 0003, this applies to pages written from now on.
ALTER TABLE mitras SET (fillfactor = 50);
