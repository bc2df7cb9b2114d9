-- The db-sync-named schema: {{dbsync}} holds views with cardano-db-sync's table and column names and
-- meanings (its doc/schema.md) over this database's tables, so that db-sync users' queries run after
-- dialect-only changes. docs/schema.md lists every deliberate difference. The migration runner puts
-- the database's name in place of {{db}} and {{dbsync}} (<database>_dbsync).
CREATE DATABASE IF NOT EXISTS `{{dbsync}}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

CREATE OR REPLACE VIEW `{{dbsync}}`.`block` AS
SELECT b.id, b.hash, b.epoch_no, CASE WHEN b.block_type = 0 THEN NULL ELSE b.slot_no END AS slot_no,
       b.epoch_slot_no, b.block_no, p.id AS previous_id, b.slot_leader_id, b.size, b.time, b.tx_count,
       b.proto_major, b.proto_minor, CAST(NULL AS CHAR) AS vrf_key, CAST(NULL AS BINARY) AS op_cert,
       CAST(NULL AS SIGNED) AS op_cert_counter
  FROM `{{db}}`.block b LEFT JOIN `{{db}}`.block p ON p.hash = b.prev_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`slot_leader` AS
SELECT l.id, l.hash, l.pool_hash_id, l.description FROM `{{db}}`.slot_leader l;

CREATE OR REPLACE VIEW `{{dbsync}}`.`tx` AS
SELECT t.id, t.hash, t.block_id, t.block_index, t.out_sum,
       COALESCE(t.fee, (SELECT f.fee FROM `{{db}}`.tx_fee f WHERE f.tx_hash = t.hash)) AS fee,
       COALESCE(t.deposit, (SELECT d.deposit FROM `{{db}}`.tx_deposit d WHERE d.tx_hash = t.hash)) AS deposit,
       t.size, t.invalid_before, t.invalid_hereafter, t.valid_contract, t.script_size, t.treasury_donation
  FROM `{{db}}`.tx t;

-- consumed_by_tx_id: the transaction whose tx_in row spends the output (a phase-2-invalid one spends
-- its collateral inputs, as in db-sync), through tx_in's index on the spent output. An output is spent
-- at most once, so the join adds no row. A join, not a correlated subquery: TiDB plans a subquery
-- of a view's select list over every tx_out row, before the outer query's filters.
CREATE OR REPLACE VIEW `{{dbsync}}`.`tx_out` AS
SELECT o.id, o.tx_id, o.`index`, o.address, o.address_has_script, o.payment_cred, o.stake_address_id,
       o.value, o.data_hash, o.inline_datum_id, o.reference_script_id, i.tx_in_id AS consumed_by_tx_id
  FROM `{{db}}`.tx_out o
  LEFT JOIN `{{db}}`.tx_in i ON i.tx_out_hash = o.tx_hash AND i.tx_out_index = o.`index`;

CREATE OR REPLACE VIEW `{{dbsync}}`.`collateral_tx_out` AS
SELECT o.id, o.tx_id, o.`index`, o.address, o.address_has_script, o.payment_cred, o.stake_address_id,
       o.value, o.data_hash, o.multi_assets_descr, o.inline_datum_id, o.reference_script_id
  FROM `{{db}}`.collateral_tx_out o;

CREATE OR REPLACE VIEW `{{dbsync}}`.`tx_in` AS
SELECT i.id, i.tx_in_id, s.id AS tx_out_id, i.tx_out_index, r.id AS redeemer_id
  FROM `{{db}}`.tx_in i
  LEFT JOIN `{{db}}`.tx s ON s.hash = i.tx_out_hash
  LEFT JOIN `{{db}}`.redeemer r ON r.tx_hash = i.tx_in_hash AND r.purpose = 'spend'
        AND r.tx_out_hash = i.tx_out_hash AND r.tx_out_index = i.tx_out_index;

CREATE OR REPLACE VIEW `{{dbsync}}`.`collateral_tx_in` AS
SELECT i.id, i.tx_in_id, s.id AS tx_out_id, i.tx_out_index
  FROM `{{db}}`.collateral_tx_in i LEFT JOIN `{{db}}`.tx s ON s.hash = i.tx_out_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`reference_tx_in` AS
SELECT i.id, i.tx_in_id, s.id AS tx_out_id, i.tx_out_index
  FROM `{{db}}`.reference_tx_in i LEFT JOIN `{{db}}`.tx s ON s.hash = i.tx_out_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`multi_asset` AS
SELECT a.id, a.policy, a.name, a.fingerprint FROM `{{db}}`.multi_asset a;

CREATE OR REPLACE VIEW `{{dbsync}}`.`ma_tx_out` AS
SELECT m.id, m.quantity, m.tx_out_id, m.ident FROM `{{db}}`.ma_tx_out m;

CREATE OR REPLACE VIEW `{{dbsync}}`.`ma_tx_mint` AS
SELECT m.id, m.quantity, m.tx_id, m.ident FROM `{{db}}`.ma_tx_mint m;

CREATE OR REPLACE VIEW `{{dbsync}}`.`tx_metadata` AS
SELECT m.id, m.`key`, m.json, m.bytes, m.tx_id FROM `{{db}}`.tx_metadata m;

CREATE OR REPLACE VIEW `{{dbsync}}`.`stake_address` AS
SELECT s.id, s.hash_raw, s.view, s.script_hash FROM `{{db}}`.stake_address s;

-- A certificate's or withdrawal's redeemer_id is a scalar subquery, not a LEFT JOIN: a query that
-- does not read it plans as if it were not there (a LEFT JOIN to redeemer on a constant purpose is
-- not one on its key, so TiDB kept it, and planned it before the joins the query asked for, reading
-- the certificate table whole), and one that reads it looks it up by redeemer's key.
CREATE OR REPLACE VIEW `{{dbsync}}`.`stake_registration` AS
SELECT r.id, r.addr_id, r.cert_index, b.epoch_no, r.tx_id, r.deposit,
       (SELECT x.id FROM `{{db}}`.redeemer x WHERE x.tx_hash = r.tx_hash AND x.purpose = 'cert' AND x.`index` = r.cert_index) AS redeemer_id
  FROM `{{db}}`.stake_registration r
  LEFT JOIN `{{db}}`.tx t ON t.hash = r.tx_hash LEFT JOIN `{{db}}`.block b ON b.hash = t.block_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`stake_deregistration` AS
SELECT r.id, r.addr_id, r.cert_index, b.epoch_no, r.tx_id,
       (SELECT x.id FROM `{{db}}`.redeemer x WHERE x.tx_hash = r.tx_hash AND x.purpose = 'cert' AND x.`index` = r.cert_index) AS redeemer_id
  FROM `{{db}}`.stake_deregistration r
  LEFT JOIN `{{db}}`.tx t ON t.hash = r.tx_hash LEFT JOIN `{{db}}`.block b ON b.hash = t.block_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`delegation` AS
SELECT d.id, d.addr_id, d.cert_index, d.pool_hash_id, b.epoch_no + 2 AS active_epoch_no, d.tx_id, d.slot_no,
       (SELECT x.id FROM `{{db}}`.redeemer x WHERE x.tx_hash = d.tx_hash AND x.purpose = 'cert' AND x.`index` = d.cert_index) AS redeemer_id
  FROM `{{db}}`.delegation d
  LEFT JOIN `{{db}}`.tx t ON t.hash = d.tx_hash LEFT JOIN `{{db}}`.block b ON b.hash = t.block_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`withdrawal` AS
SELECT w.id, w.addr_id, w.amount,
       (SELECT x.id FROM `{{db}}`.redeemer x WHERE x.tx_hash = w.tx_hash AND x.purpose = 'reward' AND x.script_hash = s.script_hash) AS redeemer_id, w.tx_id
  FROM `{{db}}`.withdrawal w
  LEFT JOIN `{{db}}`.stake_address s ON s.view = w.stake_address;

CREATE OR REPLACE VIEW `{{dbsync}}`.`pool_hash` AS
SELECT p.id, p.hash_raw, p.view FROM `{{db}}`.pool_hash p;

CREATE OR REPLACE VIEW `{{dbsync}}`.`pool_update` AS
SELECT u.id, u.hash_id, u.cert_index, u.vrf_key_hash, u.pledge, CAST(NULL AS SIGNED) AS active_epoch_no,
       m.id AS meta_id, CAST(u.margin_numerator / u.margin_denominator AS DOUBLE) AS margin, u.cost AS fixed_cost,
       CAST(NULL AS DECIMAL(20,0)) AS deposit, u.tx_id AS registered_tx_id, u.reward_addr_id
  FROM `{{db}}`.pool_update u
  LEFT JOIN `{{db}}`.pool_metadata_ref m ON m.tx_hash = u.tx_hash AND m.cert_index = u.cert_index;

CREATE OR REPLACE VIEW `{{dbsync}}`.`pool_owner` AS
SELECT o.id, o.addr_id, o.pool_update_id, o.owner FROM `{{db}}`.pool_owner o;

CREATE OR REPLACE VIEW `{{dbsync}}`.`pool_relay` AS
SELECT r.id, r.update_id, r.ipv4, r.ipv6, r.dns_name, r.dns_srv_name, r.port FROM `{{db}}`.pool_relay r;

CREATE OR REPLACE VIEW `{{dbsync}}`.`pool_retire` AS
SELECT r.id, r.hash_id, r.cert_index, r.tx_id AS announced_tx_id, r.retiring_epoch FROM `{{db}}`.pool_retire r;

CREATE OR REPLACE VIEW `{{dbsync}}`.`pool_metadata_ref` AS
SELECT m.id, m.pool_id, m.url, m.hash, m.tx_id AS registered_tx_id FROM `{{db}}`.pool_metadata_ref m;

CREATE OR REPLACE VIEW `{{dbsync}}`.`reserve` AS
SELECT r.id, r.addr_id, r.cert_index, r.amount, r.tx_id FROM `{{db}}`.reserve r;

CREATE OR REPLACE VIEW `{{dbsync}}`.`treasury` AS
SELECT r.id, r.addr_id, r.cert_index, r.amount, r.tx_id FROM `{{db}}`.treasury r;

CREATE OR REPLACE VIEW `{{dbsync}}`.`pot_transfer` AS
SELECT p.id, p.cert_index, p.treasury, p.reserves, p.tx_id FROM `{{db}}`.pot_transfer p;

CREATE OR REPLACE VIEW `{{dbsync}}`.`datum` AS
SELECT d.id, d.hash, CAST(NULL AS SIGNED) AS tx_id, CAST(NULL AS CHAR) AS value, d.bytes FROM `{{db}}`.datum d;

CREATE OR REPLACE VIEW `{{dbsync}}`.`redeemer` AS
SELECT r.id, r.tx_id, r.unit_mem, r.unit_steps, CAST(NULL AS DECIMAL(20,0)) AS fee, r.purpose, r.`index`,
       COALESCE(r.script_hash, CASE WHEN o.address_has_script THEN o.payment_cred END) AS script_hash,
       r.id AS redeemer_data_id
  FROM `{{db}}`.redeemer r
  LEFT JOIN `{{db}}`.tx_out o ON o.tx_hash = r.tx_out_hash AND o.`index` = r.tx_out_index;

CREATE OR REPLACE VIEW `{{dbsync}}`.`redeemer_data` AS
SELECT r.id, r.data_hash AS hash, r.tx_id, CAST(NULL AS CHAR) AS value, r.data AS bytes FROM `{{db}}`.redeemer r;

CREATE OR REPLACE VIEW `{{dbsync}}`.`script` AS
SELECT s.id, CAST(NULL AS SIGNED) AS tx_id, s.hash, s.type, s.json, s.bytes, s.serialised_size FROM `{{db}}`.script s;

CREATE OR REPLACE VIEW `{{dbsync}}`.`extra_key_witness` AS
SELECT w.id, w.hash, w.tx_id FROM `{{db}}`.extra_key_witness w;

CREATE OR REPLACE VIEW `{{dbsync}}`.`epoch` AS
SELECT b.epoch_no AS id, COALESCE(x.out_sum, 0) AS out_sum, COALESCE(x.fee, 0) AS fee, COALESCE(x.tx_count, 0) AS tx_count,
       b.blk_count, b.epoch_no AS no, b.start_time, b.end_time
  FROM (SELECT epoch_no, COUNT(*) AS blk_count, MIN(time) AS start_time, MAX(time) AS end_time
          FROM `{{db}}`.block WHERE epoch_no IS NOT NULL GROUP BY epoch_no) b
  LEFT JOIN (SELECT k.epoch_no, SUM(t.out_sum) AS out_sum, SUM(t.fee) AS fee, COUNT(*) AS tx_count
               FROM `{{db}}`.tx t JOIN `{{db}}`.block k ON k.hash = t.block_hash GROUP BY k.epoch_no) x
    ON x.epoch_no = b.epoch_no;

CREATE OR REPLACE VIEW `{{dbsync}}`.`drep_hash` AS
SELECT d.id, d.raw, d.view, d.has_script FROM `{{db}}`.drep_hash d;

CREATE OR REPLACE VIEW `{{dbsync}}`.`voting_anchor` AS
SELECT a.id, CAST(NULL AS SIGNED) AS block_id, a.data_hash, a.url, CAST(NULL AS CHAR) AS type FROM `{{db}}`.voting_anchor a;

CREATE OR REPLACE VIEW `{{dbsync}}`.`drep_registration` AS
SELECT r.id, r.tx_id, r.cert_index, r.deposit, a.id AS voting_anchor_id, r.drep_hash_id
  FROM `{{db}}`.drep_registration r
  LEFT JOIN `{{db}}`.voting_anchor a ON a.url = r.voting_anchor_url AND a.data_hash = r.voting_anchor_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`delegation_vote` AS
SELECT d.id, d.addr_id, d.cert_index, d.drep_hash_id, d.tx_id,
       (SELECT x.id FROM `{{db}}`.redeemer x WHERE x.tx_hash = d.tx_hash AND x.purpose = 'cert' AND x.`index` = d.cert_index) AS redeemer_id
  FROM `{{db}}`.delegation_vote d;

CREATE OR REPLACE VIEW `{{dbsync}}`.`committee_registration` AS
SELECT c.id, c.tx_id, c.cert_index, c.cold_key, c.hot_key FROM `{{db}}`.committee_registration c;

CREATE OR REPLACE VIEW `{{dbsync}}`.`committee_deregistration` AS
SELECT c.id, c.tx_id, c.cert_index, a.id AS voting_anchor_id, c.cold_key
  FROM `{{db}}`.committee_deregistration c
  LEFT JOIN `{{db}}`.voting_anchor a ON a.url = c.voting_anchor_url AND a.data_hash = c.voting_anchor_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`gov_action_proposal` AS
SELECT g.id, g.tx_id, g.`index`, p.id AS prev_gov_action_proposal, g.deposit, g.return_address_id AS return_address,
       CAST(NULL AS SIGNED) AS expiration, a.id AS voting_anchor_id, g.type, g.description,
       CAST(NULL AS SIGNED) AS param_proposal, CAST(NULL AS SIGNED) AS ratified_epoch, CAST(NULL AS SIGNED) AS enacted_epoch,
       CAST(NULL AS SIGNED) AS dropped_epoch, CAST(NULL AS SIGNED) AS expired_epoch
  FROM `{{db}}`.gov_action_proposal g
  LEFT JOIN `{{db}}`.gov_action_proposal p ON p.tx_hash = g.prev_gov_action_tx_hash AND p.`index` = g.prev_gov_action_index
  LEFT JOIN `{{db}}`.voting_anchor a ON a.url = g.voting_anchor_url AND a.data_hash = g.voting_anchor_hash;

CREATE OR REPLACE VIEW `{{dbsync}}`.`voting_procedure` AS
SELECT v.id, v.tx_id, CAST(NULL AS SIGNED) AS `index`, g.id AS gov_action_proposal_id, v.voter_role,
       CASE WHEN v.voter_role = 'ConstitutionalCommittee' THEN v.voter_hash END AS committee_voter,
       v.drep_voter_id AS drep_voter, p.id AS pool_voter, v.vote, a.id AS voting_anchor_id, CAST(NULL AS SIGNED) AS invalid
  FROM `{{db}}`.voting_procedure v
  LEFT JOIN `{{db}}`.gov_action_proposal g ON g.tx_hash = v.gov_action_tx_hash AND g.`index` = v.gov_action_index
  LEFT JOIN `{{db}}`.pool_hash p ON v.voter_role = 'SPO' AND p.hash_raw = v.voter_hash
  LEFT JOIN `{{db}}`.voting_anchor a ON a.url = v.voting_anchor_url AND a.data_hash = v.voting_anchor_hash;
