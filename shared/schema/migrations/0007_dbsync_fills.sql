-- Nectar schema, version 7: the db-sync views' gaps that EXPLAIN showed (docs/queries.md, "What
-- EXPLAIN shows"). Applying a migration replaces the views (dbsync/views.sql): with this one, tx_out's
-- consumed_by_tx_id is a join through tx_in's index on the spent output (was a correlated subquery,
-- which TiDB ran over every output), and withdrawal and stake_registration name their redeemers.
-- Every statement can run twice.

-- A pool found by its bech32 id (pool1…), as every question about one pool starts (its blocks, its
-- delegators, its updates): one row per pool, a shared table, indexed here like the shared tables'
-- ids (migration 0005).
CREATE INDEX IF NOT EXISTS pool_hash_view ON pool_hash (view);
