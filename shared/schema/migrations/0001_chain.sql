-- Nectar chain schema, version 1.
-- Names follow cardano-db-sync where the meaning is the same; keys are the chain's own identities
-- (hashes, (tx hash, index) pairs), never surrogate ids, so any batch can be written by itself.
-- Every chain table carries slot_no: a rollback to slot S deletes slot_no > S from every table.
-- Hashes and credentials are raw bytes; *_view / address columns hold their bech32 or base58 text.
-- Amounts are exact DECIMALs. TiDB-only options sit in /*T! ... */ comments so MariaDB runs the same DDL.

CREATE TABLE IF NOT EXISTS block (
  hash            VARBINARY(32) NOT NULL,
  slot_no         BIGINT UNSIGNED NOT NULL,
  block_no        BIGINT UNSIGNED NOT NULL,
  epoch_no        BIGINT UNSIGNED NULL,
  epoch_slot_no   BIGINT UNSIGNED NULL,
  time            DATETIME NULL,
  era             VARCHAR(16) NOT NULL,
  block_type      TINYINT UNSIGNED NOT NULL,
  prev_hash       VARBINARY(32) NULL,
  size            INT UNSIGNED NOT NULL,
  tx_count        INT UNSIGNED NOT NULL,
  slot_leader     VARBINARY(32) NULL,
  proto_major     SMALLINT UNSIGNED NULL,
  proto_minor     SMALLINT UNSIGNED NULL,
  PRIMARY KEY (hash) /*T![clustered_index] CLUSTERED */,
  KEY block_slot_no (slot_no),
  KEY block_block_no (block_no)
);

CREATE TABLE IF NOT EXISTS tx (
  hash              VARBINARY(32) NOT NULL,
  block_hash        VARBINARY(32) NOT NULL,
  slot_no           BIGINT UNSIGNED NOT NULL,
  block_index       INT UNSIGNED NOT NULL,
  out_sum           DECIMAL(38,0) NOT NULL,
  fee               DECIMAL(20,0) NULL,
  size              INT UNSIGNED NOT NULL,
  invalid_before    BIGINT UNSIGNED NULL,
  invalid_hereafter BIGINT UNSIGNED NULL,
  valid_contract    BOOLEAN NOT NULL,
  script_size       INT UNSIGNED NOT NULL,
  total_collateral  DECIMAL(20,0) NULL,
  treasury_donation DECIMAL(20,0) NOT NULL,
  PRIMARY KEY (hash) /*T![clustered_index] CLUSTERED */,
  KEY tx_slot_no (slot_no),
  KEY tx_block_hash (block_hash)
);

CREATE TABLE IF NOT EXISTS tx_out (
  tx_hash               VARBINARY(32) NOT NULL,
  `index`               INT UNSIGNED NOT NULL,
  slot_no               BIGINT UNSIGNED NOT NULL,
  address               TEXT NOT NULL,
  address_raw           BLOB NOT NULL,
  address_has_script    BOOLEAN NOT NULL,
  payment_cred          VARBINARY(28) NULL,
  stake_cred            VARBINARY(28) NULL,
  stake_address         VARCHAR(128) NULL,
  value                 DECIMAL(20,0) NOT NULL,
  data_hash             VARBINARY(32) NULL,
  inline_datum_hash     VARBINARY(32) NULL,
  reference_script_hash VARBINARY(28) NULL,
  PRIMARY KEY (tx_hash, `index`) /*T![clustered_index] CLUSTERED */,
  KEY tx_out_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS collateral_tx_out (
  tx_hash               VARBINARY(32) NOT NULL,
  `index`               INT UNSIGNED NOT NULL,
  slot_no               BIGINT UNSIGNED NOT NULL,
  address               TEXT NOT NULL,
  address_raw           BLOB NOT NULL,
  address_has_script    BOOLEAN NOT NULL,
  payment_cred          VARBINARY(28) NULL,
  stake_cred            VARBINARY(28) NULL,
  stake_address         VARCHAR(128) NULL,
  value                 DECIMAL(20,0) NOT NULL,
  data_hash             VARBINARY(32) NULL,
  inline_datum_hash     VARBINARY(32) NULL,
  reference_script_hash VARBINARY(28) NULL,
  multi_assets_descr    TEXT NULL,
  PRIMARY KEY (tx_hash, `index`) /*T![clustered_index] CLUSTERED */,
  KEY collateral_tx_out_slot_no (slot_no)
);

-- tx_in, collateral_tx_in and reference_tx_in: the spending tx and the spent output (tx_out_hash, tx_out_index).
CREATE TABLE IF NOT EXISTS tx_in (
  tx_in_hash   VARBINARY(32) NOT NULL,
  tx_out_hash  VARBINARY(32) NOT NULL,
  tx_out_index INT UNSIGNED NOT NULL,
  slot_no      BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (tx_in_hash, tx_out_hash, tx_out_index) /*T![clustered_index] CLUSTERED */,
  KEY tx_in_slot_no (slot_no),
  KEY tx_in_tx_out (tx_out_hash, tx_out_index)
);

CREATE TABLE IF NOT EXISTS collateral_tx_in (
  tx_in_hash   VARBINARY(32) NOT NULL,
  tx_out_hash  VARBINARY(32) NOT NULL,
  tx_out_index INT UNSIGNED NOT NULL,
  slot_no      BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (tx_in_hash, tx_out_hash, tx_out_index) /*T![clustered_index] CLUSTERED */,
  KEY collateral_tx_in_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS reference_tx_in (
  tx_in_hash   VARBINARY(32) NOT NULL,
  tx_out_hash  VARBINARY(32) NOT NULL,
  tx_out_index INT UNSIGNED NOT NULL,
  slot_no      BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (tx_in_hash, tx_out_hash, tx_out_index) /*T![clustered_index] CLUSTERED */,
  KEY reference_tx_in_slot_no (slot_no)
);

-- multi_asset is shared by many batches: slot_no is the first slot it was seen in.
CREATE TABLE IF NOT EXISTS multi_asset (
  policy      VARBINARY(28) NOT NULL,
  name        VARBINARY(64) NOT NULL,
  fingerprint VARCHAR(64) NOT NULL,
  slot_no     BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (policy, name) /*T![clustered_index] CLUSTERED */,
  KEY multi_asset_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS ma_tx_out (
  tx_hash  VARBINARY(32) NOT NULL,
  `index`  INT UNSIGNED NOT NULL,
  policy   VARBINARY(28) NOT NULL,
  name     VARBINARY(64) NOT NULL,
  slot_no  BIGINT UNSIGNED NOT NULL,
  quantity DECIMAL(20,0) NOT NULL,
  PRIMARY KEY (tx_hash, `index`, policy, name) /*T![clustered_index] CLUSTERED */,
  KEY ma_tx_out_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS ma_tx_mint (
  tx_hash  VARBINARY(32) NOT NULL,
  policy   VARBINARY(28) NOT NULL,
  name     VARBINARY(64) NOT NULL,
  slot_no  BIGINT UNSIGNED NOT NULL,
  quantity DECIMAL(20,0) NOT NULL,
  PRIMARY KEY (tx_hash, policy, name) /*T![clustered_index] CLUSTERED */,
  KEY ma_tx_mint_slot_no (slot_no)
);

-- One row per metadata label: json is the value rendered as JSON, bytes its CBOR.
CREATE TABLE IF NOT EXISTS tx_metadata (
  tx_hash VARBINARY(32) NOT NULL,
  `key`   DECIMAL(20,0) NOT NULL,
  slot_no BIGINT UNSIGNED NOT NULL,
  json    LONGTEXT NULL,
  bytes   LONGBLOB NOT NULL,
  PRIMARY KEY (tx_hash, `key`) /*T![clustered_index] CLUSTERED */,
  KEY tx_metadata_slot_no (slot_no)
);

-- Shared: view is the bech32 reward address (stake1... / stake_test1...).
CREATE TABLE IF NOT EXISTS stake_address (
  view        VARCHAR(128) NOT NULL,
  hash_raw    VARBINARY(29) NOT NULL,
  script_hash VARBINARY(28) NULL,
  slot_no     BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (view) /*T![clustered_index] CLUSTERED */,
  KEY stake_address_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS stake_registration (
  tx_hash       VARBINARY(32) NOT NULL,
  cert_index    INT UNSIGNED NOT NULL,
  slot_no       BIGINT UNSIGNED NOT NULL,
  stake_address VARCHAR(128) NOT NULL,
  deposit       DECIMAL(20,0) NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY stake_registration_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS stake_deregistration (
  tx_hash       VARBINARY(32) NOT NULL,
  cert_index    INT UNSIGNED NOT NULL,
  slot_no       BIGINT UNSIGNED NOT NULL,
  stake_address VARCHAR(128) NOT NULL,
  refund        DECIMAL(20,0) NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY stake_deregistration_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS delegation (
  tx_hash       VARBINARY(32) NOT NULL,
  cert_index    INT UNSIGNED NOT NULL,
  slot_no       BIGINT UNSIGNED NOT NULL,
  stake_address VARCHAR(128) NOT NULL,
  pool_hash     VARBINARY(28) NOT NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY delegation_slot_no (slot_no)
);

-- Shared: view is the bech32 pool id (pool1...).
CREATE TABLE IF NOT EXISTS pool_hash (
  hash_raw VARBINARY(28) NOT NULL,
  view     VARCHAR(64) NOT NULL,
  slot_no  BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (hash_raw) /*T![clustered_index] CLUSTERED */,
  KEY pool_hash_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS pool_update (
  tx_hash           VARBINARY(32) NOT NULL,
  cert_index        INT UNSIGNED NOT NULL,
  slot_no           BIGINT UNSIGNED NOT NULL,
  pool_hash         VARBINARY(28) NOT NULL,
  vrf_key_hash      VARBINARY(32) NOT NULL,
  pledge            DECIMAL(20,0) NOT NULL,
  cost              DECIMAL(20,0) NOT NULL,
  margin_numerator  DECIMAL(20,0) NOT NULL,
  margin_denominator DECIMAL(20,0) NOT NULL,
  reward_addr       VARCHAR(128) NOT NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY pool_update_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS pool_owner (
  tx_hash    VARBINARY(32) NOT NULL,
  cert_index INT UNSIGNED NOT NULL,
  owner      VARBINARY(28) NOT NULL,
  slot_no    BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (tx_hash, cert_index, owner) /*T![clustered_index] CLUSTERED */,
  KEY pool_owner_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS pool_relay (
  tx_hash      VARBINARY(32) NOT NULL,
  cert_index   INT UNSIGNED NOT NULL,
  relay_index  INT UNSIGNED NOT NULL,
  slot_no      BIGINT UNSIGNED NOT NULL,
  ipv4         VARCHAR(16) NULL,
  ipv6         VARCHAR(64) NULL,
  dns_name     VARCHAR(128) NULL,
  dns_srv_name VARCHAR(128) NULL,
  port         INT UNSIGNED NULL,
  PRIMARY KEY (tx_hash, cert_index, relay_index) /*T![clustered_index] CLUSTERED */,
  KEY pool_relay_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS pool_metadata_ref (
  tx_hash    VARBINARY(32) NOT NULL,
  cert_index INT UNSIGNED NOT NULL,
  slot_no    BIGINT UNSIGNED NOT NULL,
  pool_hash  VARBINARY(28) NOT NULL,
  url        VARCHAR(255) NOT NULL,
  hash       VARBINARY(64) NOT NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY pool_metadata_ref_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS pool_retire (
  tx_hash        VARBINARY(32) NOT NULL,
  cert_index     INT UNSIGNED NOT NULL,
  slot_no        BIGINT UNSIGNED NOT NULL,
  pool_hash      VARBINARY(28) NOT NULL,
  retiring_epoch BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY pool_retire_slot_no (slot_no)
);

-- Move-instantaneous-rewards certificates: reserve and treasury pay stake addresses;
-- pot_transfer moves coin between the two pots.
CREATE TABLE IF NOT EXISTS reserve (
  tx_hash       VARBINARY(32) NOT NULL,
  cert_index    INT UNSIGNED NOT NULL,
  stake_address VARCHAR(128) NOT NULL,
  slot_no       BIGINT UNSIGNED NOT NULL,
  amount        DECIMAL(21,0) NOT NULL,
  PRIMARY KEY (tx_hash, cert_index, stake_address) /*T![clustered_index] CLUSTERED */,
  KEY reserve_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS treasury (
  tx_hash       VARBINARY(32) NOT NULL,
  cert_index    INT UNSIGNED NOT NULL,
  stake_address VARCHAR(128) NOT NULL,
  slot_no       BIGINT UNSIGNED NOT NULL,
  amount        DECIMAL(21,0) NOT NULL,
  PRIMARY KEY (tx_hash, cert_index, stake_address) /*T![clustered_index] CLUSTERED */,
  KEY treasury_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS pot_transfer (
  tx_hash    VARBINARY(32) NOT NULL,
  cert_index INT UNSIGNED NOT NULL,
  slot_no    BIGINT UNSIGNED NOT NULL,
  reserves   DECIMAL(21,0) NOT NULL,
  treasury   DECIMAL(21,0) NOT NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY pot_transfer_slot_no (slot_no)
);

-- Genesis key delegations (Shelley to Babbage), kept so that every certificate has a row.
CREATE TABLE IF NOT EXISTS genesis_key_delegation (
  tx_hash             VARBINARY(32) NOT NULL,
  cert_index          INT UNSIGNED NOT NULL,
  slot_no             BIGINT UNSIGNED NOT NULL,
  genesis_hash        VARBINARY(28) NOT NULL,
  genesis_delegate_hash VARBINARY(28) NOT NULL,
  vrf_key_hash        VARBINARY(32) NOT NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY genesis_key_delegation_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS withdrawal (
  tx_hash       VARBINARY(32) NOT NULL,
  stake_address VARCHAR(128) NOT NULL,
  slot_no       BIGINT UNSIGNED NOT NULL,
  amount        DECIMAL(20,0) NOT NULL,
  PRIMARY KEY (tx_hash, stake_address) /*T![clustered_index] CLUSTERED */,
  KEY withdrawal_slot_no (slot_no)
);

-- Shared: datums from witness sets and inline datums in outputs, by hash.
CREATE TABLE IF NOT EXISTS datum (
  hash    VARBINARY(32) NOT NULL,
  slot_no BIGINT UNSIGNED NOT NULL,
  bytes   LONGBLOB NOT NULL,
  PRIMARY KEY (hash) /*T![clustered_index] CLUSTERED */,
  KEY datum_slot_no (slot_no)
);

-- purpose: spend, mint, cert, reward, voting, proposing. data is the redeemer's Plutus data (CBOR).
CREATE TABLE IF NOT EXISTS redeemer (
  tx_hash    VARBINARY(32) NOT NULL,
  purpose    VARCHAR(16) NOT NULL,
  `index`    INT UNSIGNED NOT NULL,
  slot_no    BIGINT UNSIGNED NOT NULL,
  unit_mem   BIGINT UNSIGNED NOT NULL,
  unit_steps BIGINT UNSIGNED NOT NULL,
  data_hash  VARBINARY(32) NOT NULL,
  data       LONGBLOB NOT NULL,
  PRIMARY KEY (tx_hash, purpose, `index`) /*T![clustered_index] CLUSTERED */,
  KEY redeemer_slot_no (slot_no)
);

-- Shared: native (timelock) and Plutus V1-V3 scripts from witness sets and reference scripts.
CREATE TABLE IF NOT EXISTS script (
  hash            VARBINARY(28) NOT NULL,
  type            VARCHAR(16) NOT NULL,
  slot_no         BIGINT UNSIGNED NOT NULL,
  serialised_size INT UNSIGNED NOT NULL,
  bytes           LONGBLOB NOT NULL,
  PRIMARY KEY (hash) /*T![clustered_index] CLUSTERED */,
  KEY script_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS extra_key_witness (
  tx_hash VARBINARY(32) NOT NULL,
  hash    VARBINARY(28) NOT NULL,
  slot_no BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (tx_hash, hash) /*T![clustered_index] CLUSTERED */,
  KEY extra_key_witness_slot_no (slot_no)
);

-- Pre-Conway protocol parameter update proposals: one row per proposing genesis key.
CREATE TABLE IF NOT EXISTS param_proposal (
  tx_hash  VARBINARY(32) NOT NULL,
  `key`    VARBINARY(28) NOT NULL,
  slot_no  BIGINT UNSIGNED NOT NULL,
  epoch_no BIGINT UNSIGNED NOT NULL,
  json     LONGTEXT NOT NULL,
  PRIMARY KEY (tx_hash, `key`) /*T![clustered_index] CLUSTERED */,
  KEY param_proposal_slot_no (slot_no)
);

-- Conway governance. Shared: view is the bech32 DRep id, or drep_always_abstain / drep_always_no_confidence.
CREATE TABLE IF NOT EXISTS drep_hash (
  view       VARCHAR(128) NOT NULL,
  raw        VARBINARY(28) NULL,
  has_script BOOLEAN NOT NULL,
  slot_no    BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (view) /*T![clustered_index] CLUSTERED */,
  KEY drep_hash_slot_no (slot_no)
);

-- deposit is positive for a registration, negative (the refund) for a retirement, NULL for an update.
CREATE TABLE IF NOT EXISTS drep_registration (
  tx_hash            VARBINARY(32) NOT NULL,
  cert_index         INT UNSIGNED NOT NULL,
  slot_no            BIGINT UNSIGNED NOT NULL,
  drep_hash          VARCHAR(128) NOT NULL,
  deposit            DECIMAL(21,0) NULL,
  voting_anchor_url  VARCHAR(255) NULL,
  voting_anchor_hash VARBINARY(32) NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY drep_registration_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS delegation_vote (
  tx_hash       VARBINARY(32) NOT NULL,
  cert_index    INT UNSIGNED NOT NULL,
  slot_no       BIGINT UNSIGNED NOT NULL,
  stake_address VARCHAR(128) NOT NULL,
  drep_hash     VARCHAR(128) NOT NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY delegation_vote_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS committee_registration (
  tx_hash           VARBINARY(32) NOT NULL,
  cert_index        INT UNSIGNED NOT NULL,
  slot_no           BIGINT UNSIGNED NOT NULL,
  cold_key          VARBINARY(28) NOT NULL,
  cold_key_is_script BOOLEAN NOT NULL,
  hot_key           VARBINARY(28) NOT NULL,
  hot_key_is_script BOOLEAN NOT NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY committee_registration_slot_no (slot_no)
);

CREATE TABLE IF NOT EXISTS committee_deregistration (
  tx_hash            VARBINARY(32) NOT NULL,
  cert_index         INT UNSIGNED NOT NULL,
  slot_no            BIGINT UNSIGNED NOT NULL,
  cold_key           VARBINARY(28) NOT NULL,
  cold_key_is_script BOOLEAN NOT NULL,
  voting_anchor_url  VARCHAR(255) NULL,
  voting_anchor_hash VARBINARY(32) NULL,
  PRIMARY KEY (tx_hash, cert_index) /*T![clustered_index] CLUSTERED */,
  KEY committee_deregistration_slot_no (slot_no)
);

-- voter_role: ConstitutionalCommittee, DRep, SPO; vote: Yes, No, Abstain.
CREATE TABLE IF NOT EXISTS voting_procedure (
  tx_hash            VARBINARY(32) NOT NULL,
  voter_role         VARCHAR(32) NOT NULL,
  voter_hash         VARBINARY(28) NOT NULL,
  gov_action_tx_hash VARBINARY(32) NOT NULL,
  gov_action_index   INT UNSIGNED NOT NULL,
  slot_no            BIGINT UNSIGNED NOT NULL,
  voter_is_script    BOOLEAN NOT NULL,
  vote               VARCHAR(8) NOT NULL,
  voting_anchor_url  VARCHAR(255) NULL,
  voting_anchor_hash VARBINARY(32) NULL,
  PRIMARY KEY (tx_hash, voter_role, voter_hash, gov_action_tx_hash, gov_action_index) /*T![clustered_index] CLUSTERED */,
  KEY voting_procedure_slot_no (slot_no)
);

-- type: ParameterChange, HardForkInitiation, TreasuryWithdrawals, NoConfidence, NewCommittee,
-- NewConstitution, InfoAction. description is the action as JSON.
CREATE TABLE IF NOT EXISTS gov_action_proposal (
  tx_hash                 VARBINARY(32) NOT NULL,
  `index`                 INT UNSIGNED NOT NULL,
  slot_no                 BIGINT UNSIGNED NOT NULL,
  deposit                 DECIMAL(20,0) NOT NULL,
  return_address          VARCHAR(128) NOT NULL,
  type                    VARCHAR(32) NOT NULL,
  description             LONGTEXT NOT NULL,
  prev_gov_action_tx_hash VARBINARY(32) NULL,
  prev_gov_action_index   INT UNSIGNED NULL,
  voting_anchor_url       VARCHAR(255) NOT NULL,
  voting_anchor_hash      VARBINARY(32) NOT NULL,
  PRIMARY KEY (tx_hash, `index`) /*T![clustered_index] CLUSTERED */,
  KEY gov_action_proposal_slot_no (slot_no)
);

-- Shared: every anchor (url, data hash) seen in certificates, votes and proposals.
CREATE TABLE IF NOT EXISTS voting_anchor (
  url       VARCHAR(255) NOT NULL,
  data_hash VARBINARY(32) NOT NULL,
  slot_no   BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (url, data_hash) /*T![clustered_index] CLUSTERED */,
  KEY voting_anchor_slot_no (slot_no)
);

-- Ingestion's own tables.
CREATE TABLE IF NOT EXISTS ingest_batch (
  id          VARBINARY(32) NOT NULL,
  network     VARCHAR(32) NOT NULL,
  first_slot  BIGINT UNSIGNED NOT NULL,
  first_hash  VARBINARY(32) NOT NULL,
  last_slot   BIGINT UNSIGNED NOT NULL,
  last_hash   VARBINARY(32) NOT NULL,
  prev_hash   VARBINARY(32) NULL,
  block_count INT UNSIGNED NOT NULL,
  applied_at  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id) /*T![clustered_index] CLUSTERED */,
  KEY ingest_batch_last_slot (last_slot)
);

-- The follower's cursor: the last published points per network, newest first by slot.
CREATE TABLE IF NOT EXISTS ingest_cursor (
  network VARCHAR(32) NOT NULL,
  slot_no BIGINT UNSIGNED NOT NULL,
  hash    VARBINARY(32) NOT NULL,
  PRIMARY KEY (network, slot_no, hash) /*T![clustered_index] CLUSTERED */
);

-- Blocks that could not be decoded, kept raw. slot_no, hash and prev_hash come from the header where it decodes.
CREATE TABLE IF NOT EXISTS quarantine (
  hash       VARBINARY(32) NOT NULL,
  slot_no    BIGINT UNSIGNED NOT NULL,
  block_type TINYINT UNSIGNED NOT NULL,
  prev_hash  VARBINARY(32) NULL,
  network    VARCHAR(32) NOT NULL,
  error      TEXT NOT NULL,
  cbor       LONGBLOB NOT NULL,
  PRIMARY KEY (hash) /*T![clustered_index] CLUSTERED */,
  KEY quarantine_slot_no (slot_no)
);
