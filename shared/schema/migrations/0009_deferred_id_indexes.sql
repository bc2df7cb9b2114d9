-- Nectar schema, version 9: the id indexes of block, tx, slot_leader and the shared tables (migrations
-- 0005 and 0007), and drep_hash's raw-hash index, become query indexes (schema.QueryIndexes, same
-- names), built after the history backfill like every other index the db-sync views' joins use:
-- ingestion never reads them (ids are computed inside a batch; idempotency and rollback use the
-- primary keys and the slot_no indexes), and each was one more key written per row, a tenth of the
-- keys of a Conway chunk (docs/benchmarks.md, "Bytes per row"). `nectar indexes create`, or the
-- follower when it next reaches the tip, builds them again. Applying it replaces the db-sync views
-- (dbsync/views.sql). Every statement can run twice.
DROP INDEX IF EXISTS block_id ON block;
DROP INDEX IF EXISTS tx_id ON tx;
DROP INDEX IF EXISTS slot_leader_id ON slot_leader;
DROP INDEX IF EXISTS slot_leader_pool_hash_id ON slot_leader;
DROP INDEX IF EXISTS multi_asset_id ON multi_asset;
DROP INDEX IF EXISTS stake_address_id ON stake_address;
DROP INDEX IF EXISTS pool_hash_id ON pool_hash;
DROP INDEX IF EXISTS pool_hash_view ON pool_hash;
DROP INDEX IF EXISTS datum_id ON datum;
DROP INDEX IF EXISTS script_id ON script;
DROP INDEX IF EXISTS drep_hash_id ON drep_hash;
DROP INDEX IF EXISTS drep_hash_raw ON drep_hash;
DROP INDEX IF EXISTS voting_anchor_id ON voting_anchor;
