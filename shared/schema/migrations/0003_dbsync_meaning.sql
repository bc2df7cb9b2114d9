-- Nectar chain schema, version 3: a column named like one of cardano-db-sync's holds what db-sync's
-- holds (its doc/schema.md and insert code), and phase-2-invalid transactions are stored the ledger's
-- way, as db-sync stores them. docs/schema.md lists every column; docs/runbook.md says which slot
-- ranges to re-ingest for the columns whose meaning this version changes (rows written before it
-- keep the old meaning until then). Every statement can run twice.

-- A Byron epoch boundary block has no block number and no slot within its epoch, and protocol
-- version 0.0 (db-sync's values). Its slot_no stays: rollbacks and order need every row's slot.
ALTER TABLE block MODIFY COLUMN block_no BIGINT UNSIGNED NULL;
UPDATE block SET block_no = NULL, epoch_slot_no = NULL, proto_major = 0, proto_minor = 0 WHERE block_type = 0;

-- tx.deposit: deposits paid minus refunds received (db-sync's). NULL when the transaction does not
-- state the amounts itself (Shelley-style stake and pool certificates): tx_deposit computes it.
ALTER TABLE tx ADD COLUMN IF NOT EXISTS deposit DECIMAL(21,0) NULL AFTER fee;

-- script: a native script has json (db-sync's rendering) and no bytes or serialised_size, which
-- db-sync keeps for Plutus scripts only; Nectar keeps the native script's CBOR in timelock_cbor.
ALTER TABLE script ADD COLUMN IF NOT EXISTS json LONGTEXT NULL AFTER slot_no;
ALTER TABLE script ADD COLUMN IF NOT EXISTS timelock_cbor LONGBLOB NULL;
ALTER TABLE script MODIFY COLUMN serialised_size INT UNSIGNED NULL;
ALTER TABLE script MODIFY COLUMN bytes LONGBLOB NULL;

-- tx_fee: every transaction's fee. A valid Shelley-or-later transaction states it (tx.fee), and so
-- does an invalid one that declares total_collateral. Two kinds of transaction state none: a Byron
-- transaction (fee = inputs' value - outputs' value) and an invalid one without total_collateral
-- (fee = collateral taken = its tx_in rows, which are its collateral inputs, minus its tx_out row, the
-- collateral return, whose value is out_sum). The outputs they spend may be indexed later than they
-- are (history batches land in any order): the fee is NULL until every spent output is indexed, and
-- for the transactions that spend the genesis distribution, which is not a transaction. Any other
-- NULL tx.fee (rows written before this version) stays NULL rather than becoming a wrong number.
CREATE OR REPLACE VIEW tx_fee AS
SELECT t.hash AS tx_hash,
       CASE
         WHEN t.fee IS NOT NULL THEN t.fee
         WHEN t.valid_contract = FALSE
           OR (SELECT b.block_type FROM block b WHERE b.hash = t.block_hash) <= 1
         THEN (SELECT CASE WHEN COUNT(*) = COUNT(o.tx_hash) THEN SUM(o.value) END
                 FROM tx_in i
                 LEFT JOIN tx_out o ON o.tx_hash = i.tx_out_hash AND o.`index` = i.tx_out_index
                WHERE i.tx_in_hash = t.hash) - t.out_sum
       END AS fee
  FROM tx t;

-- tx_deposit: every transaction's deposit (deposits paid minus refunds received, db-sync's
-- tx.deposit): tx.deposit when the row has it, else the transaction's balance, which the ledger
-- keeps exact: inputs' value + withdrawals - outputs' value - fee - treasury donation; NULL until
-- every spent output is indexed.
CREATE OR REPLACE VIEW tx_deposit AS
SELECT t.hash AS tx_hash,
       COALESCE(t.deposit,
                (SELECT CASE WHEN COUNT(*) = COUNT(o.tx_hash) THEN SUM(o.value) END
                   FROM tx_in i
                   LEFT JOIN tx_out o ON o.tx_hash = i.tx_out_hash AND o.`index` = i.tx_out_index
                  WHERE i.tx_in_hash = t.hash)
                + (SELECT COALESCE(SUM(w.amount), 0) FROM withdrawal w WHERE w.tx_hash = t.hash)
                - t.out_sum - t.fee - t.treasury_donation) AS deposit
  FROM tx t;
