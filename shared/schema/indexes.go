package schema

// Index is one secondary index the everyday questions need. The ingest path
// does not need it (idempotency and rollback use the primary keys and the
// slot_no indexes of the migrations), so it is built after the history
// backfill, as db-sync (13.1), Kupo (--defer-db-indexes) and Yaci defer
// theirs: shared/indexes builds them (`nectar indexes create`).
type Index struct {
	Table, Name string
	// Columns in key order. A TEXT or BLOB column names its prefix length
	// in characters, as MySQL writes it: "address(64)".
	Columns []string
}

// QueryIndexes are the query indexes, one per line, grouped by table. To add
// one, append it to its table's group (or a new group): every entry is built
// by `nectar indexes create` and reported by `nectar indexes status`; names
// are <table>_<what>, unique in the database.
var QueryIndexes = []Index{
	// An address's outputs (UTxOs, history, balance), by payment credential
	// (every address of a script or key) and by stake address (a wallet's
	// outputs). A bech32 address is 58-108 characters, a Byron one longer:
	// the first 64 characters hold the header, the payment credential and
	// the start of the stake credential, which is as selective as the whole
	// (the database compares the full value of the rows it finds).
	{Table: "tx_out", Name: "tx_out_address", Columns: []string{"address(64)"}},
	{Table: "tx_out", Name: "tx_out_payment_cred", Columns: []string{"payment_cred"}},
	{Table: "tx_out", Name: "tx_out_stake_address", Columns: []string{"stake_address"}},
	{Table: "collateral_tx_out", Name: "collateral_tx_out_address", Columns: []string{"address(64)"}},
	{Table: "collateral_tx_out", Name: "collateral_tx_out_payment_cred", Columns: []string{"payment_cred"}},
	{Table: "collateral_tx_out", Name: "collateral_tx_out_stake_address", Columns: []string{"stake_address"}},

	// An asset's holders and mints.
	{Table: "ma_tx_out", Name: "ma_tx_out_policy_name", Columns: []string{"policy", "name"}},
	{Table: "ma_tx_mint", Name: "ma_tx_mint_policy_name", Columns: []string{"policy", "name"}},

	// A stake address's history: registrations, delegations, withdrawals,
	// votes delegated.
	{Table: "stake_registration", Name: "stake_registration_stake_address", Columns: []string{"stake_address"}},
	{Table: "stake_deregistration", Name: "stake_deregistration_stake_address", Columns: []string{"stake_address"}},
	{Table: "delegation", Name: "delegation_stake_address", Columns: []string{"stake_address"}},
	{Table: "withdrawal", Name: "withdrawal_stake_address", Columns: []string{"stake_address"}},
	{Table: "delegation_vote", Name: "delegation_vote_stake_address", Columns: []string{"stake_address"}},

	// A pool's delegators, updates, retirement and blocks (per epoch: the
	// epoch is in the index, so counting reads no rows).
	{Table: "delegation", Name: "delegation_pool_hash", Columns: []string{"pool_hash"}},
	{Table: "pool_update", Name: "pool_update_pool_hash", Columns: []string{"pool_hash"}},
	{Table: "pool_retire", Name: "pool_retire_pool_hash", Columns: []string{"pool_hash"}},
	{Table: "block", Name: "block_slot_leader", Columns: []string{"slot_leader", "epoch_no"}},

	// A DRep's delegators, registrations and votes; the votes on a proposal.
	{Table: "delegation_vote", Name: "delegation_vote_drep_hash", Columns: []string{"drep_hash"}},
	{Table: "drep_registration", Name: "drep_registration_drep_hash", Columns: []string{"drep_hash"}},
	{Table: "voting_procedure", Name: "voting_procedure_voter", Columns: []string{"voter_hash"}},
	{Table: "voting_procedure", Name: "voting_procedure_gov_action", Columns: []string{"gov_action_tx_hash", "gov_action_index"}},

	// Metadata by label (721: NFTs, 674: messages).
	{Table: "tx_metadata", Name: "tx_metadata_key", Columns: []string{"key"}},

	// tx_in by the spent output (tx_out_hash, tx_out_index) is not here: the
	// migrations create it (tx_in_tx_out), since the fee views need it.
}

// The chain-position and key-derived id columns (migration 0005) that
// db-sync-style joins land on, from a transaction to what it owns and from a
// row to the shared row it names: tx.id = tx_out.tx_id, ma_tx_out.tx_out_id =
// tx_out.id, ma_tx_out.ident = multi_asset.id, delegation.addr_id =
// stake_address.id, block.slot_leader_id = slot_leader.id, ... The ids of
// block, tx and the shared tables were indexed by the migrations until
// version 9, which made them query indexes too.
var idQueryIndexes = []Index{
	{Table: "block", Name: "block_id", Columns: []string{"id"}},
	{Table: "tx", Name: "tx_id", Columns: []string{"id"}},
	{Table: "slot_leader", Name: "slot_leader_id", Columns: []string{"id"}},
	{Table: "slot_leader", Name: "slot_leader_pool_hash_id", Columns: []string{"pool_hash_id"}},
	{Table: "multi_asset", Name: "multi_asset_id", Columns: []string{"id"}},
	{Table: "stake_address", Name: "stake_address_id", Columns: []string{"id"}},
	{Table: "pool_hash", Name: "pool_hash_id", Columns: []string{"id"}},
	// A pool found by its bech32 id (pool1…), as every question about one
	// pool starts.
	{Table: "pool_hash", Name: "pool_hash_view", Columns: []string{"view"}},
	{Table: "datum", Name: "datum_id", Columns: []string{"id"}},
	{Table: "script", Name: "script_id", Columns: []string{"id"}},
	{Table: "drep_hash", Name: "drep_hash_id", Columns: []string{"id"}},
	// A DRep's votes: voting_procedure names its voter by raw hash.
	{Table: "drep_hash", Name: "drep_hash_raw", Columns: []string{"raw"}},
	{Table: "voting_anchor", Name: "voting_anchor_id", Columns: []string{"id"}},
	{Table: "tx", Name: "tx_block_id", Columns: []string{"block_id"}},
	{Table: "block", Name: "block_slot_leader_id", Columns: []string{"slot_leader_id"}},
	{Table: "tx_out", Name: "tx_out_id", Columns: []string{"id"}},
	{Table: "tx_out", Name: "tx_out_tx_id", Columns: []string{"tx_id"}},
	{Table: "tx_out", Name: "tx_out_stake_address_id", Columns: []string{"stake_address_id"}},
	{Table: "collateral_tx_out", Name: "collateral_tx_out_tx_id", Columns: []string{"tx_id"}},
	{Table: "tx_in", Name: "tx_in_tx_in_id", Columns: []string{"tx_in_id"}},
	{Table: "collateral_tx_in", Name: "collateral_tx_in_tx_in_id", Columns: []string{"tx_in_id"}},
	{Table: "reference_tx_in", Name: "reference_tx_in_tx_in_id", Columns: []string{"tx_in_id"}},
	{Table: "ma_tx_out", Name: "ma_tx_out_tx_out_id", Columns: []string{"tx_out_id"}},
	{Table: "ma_tx_out", Name: "ma_tx_out_ident", Columns: []string{"ident"}},
	{Table: "ma_tx_mint", Name: "ma_tx_mint_tx_id", Columns: []string{"tx_id"}},
	{Table: "ma_tx_mint", Name: "ma_tx_mint_ident", Columns: []string{"ident"}},
	{Table: "tx_metadata", Name: "tx_metadata_tx_id", Columns: []string{"tx_id"}},
	{Table: "stake_registration", Name: "stake_registration_tx_id", Columns: []string{"tx_id"}},
	{Table: "stake_registration", Name: "stake_registration_addr_id", Columns: []string{"addr_id"}},
	{Table: "stake_deregistration", Name: "stake_deregistration_tx_id", Columns: []string{"tx_id"}},
	{Table: "stake_deregistration", Name: "stake_deregistration_addr_id", Columns: []string{"addr_id"}},
	{Table: "delegation", Name: "delegation_tx_id", Columns: []string{"tx_id"}},
	{Table: "delegation", Name: "delegation_addr_id", Columns: []string{"addr_id"}},
	{Table: "delegation", Name: "delegation_pool_hash_id", Columns: []string{"pool_hash_id"}},
	{Table: "withdrawal", Name: "withdrawal_tx_id", Columns: []string{"tx_id"}},
	{Table: "withdrawal", Name: "withdrawal_addr_id", Columns: []string{"addr_id"}},
	{Table: "pool_update", Name: "pool_update_id", Columns: []string{"id"}},
	{Table: "pool_update", Name: "pool_update_hash_id", Columns: []string{"hash_id"}},
	{Table: "pool_owner", Name: "pool_owner_pool_update_id", Columns: []string{"pool_update_id"}},
	{Table: "pool_relay", Name: "pool_relay_update_id", Columns: []string{"update_id"}},
	{Table: "pool_retire", Name: "pool_retire_hash_id", Columns: []string{"hash_id"}},
	{Table: "redeemer", Name: "redeemer_id", Columns: []string{"id"}},
	{Table: "redeemer", Name: "redeemer_tx_id", Columns: []string{"tx_id"}},
	{Table: "extra_key_witness", Name: "extra_key_witness_tx_id", Columns: []string{"tx_id"}},
	{Table: "delegation_vote", Name: "delegation_vote_addr_id", Columns: []string{"addr_id"}},
	{Table: "delegation_vote", Name: "delegation_vote_drep_hash_id", Columns: []string{"drep_hash_id"}},
	{Table: "drep_registration", Name: "drep_registration_drep_hash_id", Columns: []string{"drep_hash_id"}},
	{Table: "voting_procedure", Name: "voting_procedure_tx_id", Columns: []string{"tx_id"}},
	// A DRep's votes through the views: voting_procedure.drep_voter = drep_hash.id.
	{Table: "voting_procedure", Name: "voting_procedure_drep_voter_id", Columns: []string{"drep_voter_id"}},
	{Table: "gov_action_proposal", Name: "gov_action_proposal_id", Columns: []string{"id"}},
}

func init() { QueryIndexes = append(QueryIndexes, idQueryIndexes...) }
