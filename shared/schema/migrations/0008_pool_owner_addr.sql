-- Nectar schema, version 8: pool_owner names its owner's stake address, as db-sync's pool_owner.addr_id
-- does: stake_address is the owner's reward address (its stake key hash with this chain's network id;
-- ingest writes that stake_address row too) and addr_id that row's id (docs/schema.md, "Ids").
-- Applying it replaces the db-sync views (dbsync/views.sql), whose pool_owner.addr_id was NULL and
-- whose redeemer_id columns were LEFT JOINs (now scalar subqueries, which a query that does not read
-- them leaves out of its plan).
-- Rows written before this version have NULL in both until their slots are re-ingested
-- (docs/runbook.md). Every statement can run twice.
ALTER TABLE pool_owner ADD COLUMN IF NOT EXISTS stake_address VARCHAR(128) NULL, ADD COLUMN IF NOT EXISTS addr_id BIGINT NULL;
