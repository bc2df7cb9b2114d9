-- Nectar schema, version 6: the follower's tip mark. Before the follower publishes a tip-route
-- message beyond it, it raises the mark to the message's last slot, so the mark is at or above
-- every block any run published on the tip route (the blocks a fork can abandon). A run that
-- restarts deeper than k, or without a saved cursor, rolls back to its intersection from the mark
-- when the mark lies above it: the blocks a killed run published after its last saved cursor go,
-- however long it was down. History-route blocks were deeper than k, so no fork abandons them.
CREATE TABLE IF NOT EXISTS ingest_tip_mark (
  network VARCHAR(32) NOT NULL,
  slot_no BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (network) /*T![clustered_index] CLUSTERED */
);
