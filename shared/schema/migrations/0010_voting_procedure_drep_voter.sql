-- Nectar schema, version 10: voting_procedure names a DRep voter's drep_hash row, as db-sync's
-- voting_procedure.drep_voter does: drep_voter is the DRep's CIP-105 id (drep_hash's key; NULL for
-- the other voters) and drep_voter_id that row's id (docs/schema.md, "Ids"), which the query index
-- voting_procedure_drep_voter_id makes a DRep's votes through the views a lookup (the view computed
-- it by a join on drep_hash's raw hash, which no index could serve). Applying it replaces the
-- db-sync views (dbsync/views.sql). Rows written before this version are filled from drep_hash
-- here: a DRep's votes are few. Every statement can run twice.
ALTER TABLE voting_procedure ADD COLUMN IF NOT EXISTS drep_voter VARCHAR(128) NULL, ADD COLUMN IF NOT EXISTS drep_voter_id BIGINT NULL;
UPDATE voting_procedure v JOIN drep_hash d ON d.raw = v.voter_hash AND d.has_script = v.voter_is_script
   SET v.drep_voter = d.view, v.drep_voter_id = d.id
 WHERE v.voter_role = 'DRep' AND v.drep_voter IS NULL;
