-- Nectar schema, version 4: rollbacks are ordered operations recorded in a ledger of their own.
-- A rollback delivered again (its id is here) is skipped; one the follower saw before a rollback
-- recorded here (seen_at), or one whose tip batches went ahead without it (their envelopes' "after"
-- id is here as followed), is stale and refused, so a rollback redriven from a DLQ an hour later
-- cannot delete what was written after it; a tip batch waits while the rollback it follows is here
-- as failed. Rows are never deleted by a rollback, unlike ingest_batch's.
-- The operator's `nectar rollback` records itself here first (outcome pending), deletes in
-- bounded chunks, then moves the cursor and marks itself applied in one transaction: run again
-- after a crash, it finishes.

CREATE TABLE IF NOT EXISTS ingest_rollback (
  id          VARBINARY(32) NOT NULL,
  network     VARCHAR(32) NOT NULL,
  kind        VARCHAR(16) NOT NULL,     -- follower (a rollback message), operator (nectar rollback), batch (followed)
  slot_no     BIGINT UNSIGNED NOT NULL, -- the point rolled back to
  hash        VARBINARY(32) NULL,
  from_slot   BIGINT UNSIGNED NOT NULL, -- the highest slot it deletes
  from_hash   VARBINARY(32) NULL,
  seen_at     BIGINT NOT NULL,          -- when the follower (operator) saw it, unix ns: the order
  outcome     VARCHAR(16) NOT NULL,     -- applied, stale (refused), failed (tried, not applied), pending
                                        -- (operator, unfinished), followed (tip batches followed the id first)
  recorded_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id) /*T![clustered_index] CLUSTERED */,
  KEY ingest_rollback_seen (network, seen_at)
);

