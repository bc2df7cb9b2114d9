-- tx_fee: every transaction's fee. Shelley and later transactions state theirs (tx.fee). A Byron
-- transaction has no fee field: its fee is what its inputs spend minus what its outputs pay, and
-- the outputs it spends may be indexed later than it (history batches land in any order), so
-- tx.fee stays NULL and this view computes it once every spent output is indexed (NULL until
-- then, and for the transactions that spend the genesis distribution, which is not a transaction).
CREATE OR REPLACE VIEW tx_fee AS
SELECT t.hash AS tx_hash,
       COALESCE(t.fee,
                (SELECT CASE WHEN COUNT(*) = COUNT(o.tx_hash) THEN SUM(o.value) END
                   FROM tx_in i
                   LEFT JOIN tx_out o ON o.tx_hash = i.tx_out_hash AND o.`index` = i.tx_out_index
                  WHERE i.tx_in_hash = t.hash) - t.out_sum) AS fee
  FROM tx t;
