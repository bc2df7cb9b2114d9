-- Nectar schema, version 5: chain-position ids and the db-sync-named schema (docs/schema.md, "Ids"
-- and "The db-sync views"). Every id is computed inside one batch from chain position alone (block and
-- per-transaction rows) or from the row's key (shared rows), so batches still land in any order
-- (shared/chain/ids.go). Rows written before this version have NULL ids until their slots are
-- re-ingested (docs/runbook.md). Every statement can run twice.

-- The block issuers (db-sync's slot_leader), shared like pool_hash: every Shelley-and-later issuer is
-- also a pool_hash row; Byron epoch boundary blocks share one leader of 28 zero bytes.
CREATE TABLE IF NOT EXISTS slot_leader (
  hash         VARBINARY(28) NOT NULL,
  pool_hash    VARBINARY(28) NULL,
  description  VARCHAR(64) NOT NULL,
  slot_no      BIGINT UNSIGNED NOT NULL,
  id           BIGINT NULL,
  pool_hash_id BIGINT NULL,
  PRIMARY KEY (hash) /*T![clustered_index] CLUSTERED */,
  KEY slot_leader_slot_no (slot_no),
  KEY slot_leader_id (id),
  KEY slot_leader_pool_hash_id (pool_hash_id)
);

-- id: block slot_no*2 + (not an EBB); per-transaction rows slot_no*2^20 + position in the block;
-- shared rows the first 63 bits of Blake2b-256 of the key. tx_id / tx_in_id: the owning transaction's
-- id; the other *_id columns: the id of the row they point at (db-sync's names). redeemer: the script
-- it ran where the transaction alone determines it (script_hash), and for spend the output it spends.
ALTER TABLE block ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS slot_leader_id BIGINT NULL;
ALTER TABLE tx ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS block_id BIGINT NULL;
ALTER TABLE tx_out ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS stake_address_id BIGINT NULL, ADD COLUMN IF NOT EXISTS inline_datum_id BIGINT NULL, ADD COLUMN IF NOT EXISTS reference_script_id BIGINT NULL;
ALTER TABLE collateral_tx_out ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS stake_address_id BIGINT NULL, ADD COLUMN IF NOT EXISTS inline_datum_id BIGINT NULL, ADD COLUMN IF NOT EXISTS reference_script_id BIGINT NULL;
ALTER TABLE tx_in ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_in_id BIGINT NULL;
ALTER TABLE collateral_tx_in ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_in_id BIGINT NULL;
ALTER TABLE reference_tx_in ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_in_id BIGINT NULL;
ALTER TABLE ma_tx_out ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_out_id BIGINT NULL, ADD COLUMN IF NOT EXISTS ident BIGINT NULL;
ALTER TABLE ma_tx_mint ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS ident BIGINT NULL;
ALTER TABLE tx_metadata ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE stake_registration ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS addr_id BIGINT NULL;
ALTER TABLE stake_deregistration ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS addr_id BIGINT NULL;
ALTER TABLE delegation ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS addr_id BIGINT NULL, ADD COLUMN IF NOT EXISTS pool_hash_id BIGINT NULL;
ALTER TABLE pool_update ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS hash_id BIGINT NULL, ADD COLUMN IF NOT EXISTS reward_addr_id BIGINT NULL;
ALTER TABLE pool_owner ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS pool_update_id BIGINT NULL;
ALTER TABLE pool_relay ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS update_id BIGINT NULL;
ALTER TABLE pool_metadata_ref ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS pool_id BIGINT NULL;
ALTER TABLE pool_retire ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS hash_id BIGINT NULL;
ALTER TABLE reserve ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS addr_id BIGINT NULL;
ALTER TABLE treasury ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS addr_id BIGINT NULL;
ALTER TABLE pot_transfer ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE genesis_key_delegation ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE withdrawal ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS addr_id BIGINT NULL;
ALTER TABLE redeemer ADD COLUMN IF NOT EXISTS script_hash VARBINARY(28) NULL, ADD COLUMN IF NOT EXISTS tx_out_hash VARBINARY(32) NULL, ADD COLUMN IF NOT EXISTS tx_out_index INT UNSIGNED NULL, ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE extra_key_witness ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE param_proposal ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE drep_registration ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS drep_hash_id BIGINT NULL;
ALTER TABLE delegation_vote ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS addr_id BIGINT NULL, ADD COLUMN IF NOT EXISTS drep_hash_id BIGINT NULL;
ALTER TABLE committee_registration ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE committee_deregistration ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE voting_procedure ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL;
ALTER TABLE gov_action_proposal ADD COLUMN IF NOT EXISTS id BIGINT NULL, ADD COLUMN IF NOT EXISTS tx_id BIGINT NULL, ADD COLUMN IF NOT EXISTS return_address_id BIGINT NULL;
ALTER TABLE multi_asset ADD COLUMN IF NOT EXISTS id BIGINT NULL;
ALTER TABLE stake_address ADD COLUMN IF NOT EXISTS id BIGINT NULL;
ALTER TABLE pool_hash ADD COLUMN IF NOT EXISTS id BIGINT NULL;
ALTER TABLE datum ADD COLUMN IF NOT EXISTS id BIGINT NULL;
ALTER TABLE script ADD COLUMN IF NOT EXISTS id BIGINT NULL;
ALTER TABLE drep_hash ADD COLUMN IF NOT EXISTS id BIGINT NULL;
ALTER TABLE voting_anchor ADD COLUMN IF NOT EXISTS id BIGINT NULL;

-- The ids that db-sync-style lookups start from and that the views' joins land on, at any size:
-- block and tx, and the shared tables (small next to the per-transaction ones).
CREATE INDEX IF NOT EXISTS block_id ON block (id);
CREATE INDEX IF NOT EXISTS tx_id ON tx (id);
CREATE INDEX IF NOT EXISTS multi_asset_id ON multi_asset (id);
CREATE INDEX IF NOT EXISTS stake_address_id ON stake_address (id);
CREATE INDEX IF NOT EXISTS pool_hash_id ON pool_hash (id);
CREATE INDEX IF NOT EXISTS datum_id ON datum (id);
CREATE INDEX IF NOT EXISTS script_id ON script (id);
CREATE INDEX IF NOT EXISTS drep_hash_id ON drep_hash (id);
CREATE INDEX IF NOT EXISTS drep_hash_raw ON drep_hash (raw);
CREATE INDEX IF NOT EXISTS voting_anchor_id ON voting_anchor (id);
