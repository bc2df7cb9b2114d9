package chain

import "fmt"

// TableID names one chain table. Rows of a decoded block are grouped by it.
type TableID int

// The chain tables, in the order a batch writes them. Their columns must match
// shared/schema/migrations (a test compares them with the live database).
const (
	Block TableID = iota
	Tx
	TxOut
	CollateralTxOut
	TxIn
	CollateralTxIn
	ReferenceTxIn
	MultiAsset
	MaTxOut
	MaTxMint
	TxMetadata
	StakeAddress
	StakeRegistration
	StakeDeregistration
	Delegation
	PoolHash
	PoolUpdate
	PoolOwner
	PoolRelay
	PoolMetadataRef
	PoolRetire
	Reserve
	Treasury
	PotTransfer
	GenesisKeyDelegation
	Withdrawal
	Datum
	Redeemer
	Script
	ExtraKeyWitness
	ParamProposal
	DrepHash
	DrepRegistration
	DelegationVote
	CommitteeRegistration
	CommitteeDeregistration
	VotingProcedure
	GovActionProposal
	VotingAnchor
	SlotLeader
	NumTables
)

// Table describes one chain table: its name, its columns in insert order, its
// primary key, and whether many batches share its rows.
//
// Shared tables hold content-addressed rows that any batch may reference
// (assets, datums, scripts, addresses, pools, DReps, anchors). Their slot_no is
// the first slot the row was seen in, so that writes from batches in any order
// converge to the same row.
type Table struct {
	Name    string
	Columns []string
	Key     []string
	Shared  bool
	// Computed are the trailing columns of Columns that assignIDs fills in
	// once the block's rows are complete (chain-position and key-derived
	// ids, see ids.go); the decoder's Add gives every other column.
	Computed []string
}

var txOutColumns = []string{"tx_hash", "index", "slot_no", "address", "address_raw", "address_has_script",
	"payment_cred", "stake_cred", "stake_address", "value", "data_hash", "inline_datum_hash", "reference_script_hash"}

var txInColumns = []string{"tx_in_hash", "tx_out_hash", "tx_out_index", "slot_no"}

// Tables lists every chain table by TableID.
var Tables = [NumTables]Table{
	Block: {Name: "block", Key: []string{"hash"}, Columns: []string{"hash", "slot_no", "block_no", "epoch_no",
		"epoch_slot_no", "time", "era", "block_type", "prev_hash", "size", "tx_count", "slot_leader",
		"proto_major", "proto_minor"}},
	Tx: {Name: "tx", Key: []string{"hash"}, Columns: []string{"hash", "block_hash", "slot_no", "block_index",
		"out_sum", "fee", "deposit", "size", "invalid_before", "invalid_hereafter", "valid_contract",
		"script_size", "total_collateral", "treasury_donation"}},
	TxOut:           {Name: "tx_out", Key: []string{"tx_hash", "index"}, Columns: txOutColumns},
	CollateralTxOut: {Name: "collateral_tx_out", Key: []string{"tx_hash", "index"}, Columns: append(append([]string{}, txOutColumns...), "multi_assets_descr")},
	TxIn:            {Name: "tx_in", Key: []string{"tx_in_hash", "tx_out_hash", "tx_out_index"}, Columns: txInColumns},
	CollateralTxIn:  {Name: "collateral_tx_in", Key: []string{"tx_in_hash", "tx_out_hash", "tx_out_index"}, Columns: txInColumns},
	ReferenceTxIn:   {Name: "reference_tx_in", Key: []string{"tx_in_hash", "tx_out_hash", "tx_out_index"}, Columns: txInColumns},
	MultiAsset:      {Name: "multi_asset", Shared: true, Key: []string{"policy", "name"}, Columns: []string{"policy", "name", "fingerprint", "slot_no"}},
	MaTxOut:         {Name: "ma_tx_out", Key: []string{"tx_hash", "index", "policy", "name"}, Columns: []string{"tx_hash", "index", "policy", "name", "slot_no", "quantity"}},
	MaTxMint:        {Name: "ma_tx_mint", Key: []string{"tx_hash", "policy", "name"}, Columns: []string{"tx_hash", "policy", "name", "slot_no", "quantity"}},
	TxMetadata:      {Name: "tx_metadata", Key: []string{"tx_hash", "key"}, Columns: []string{"tx_hash", "key", "slot_no", "json", "bytes"}},
	StakeAddress:    {Name: "stake_address", Shared: true, Key: []string{"view"}, Columns: []string{"view", "hash_raw", "script_hash", "slot_no"}},
	StakeRegistration: {Name: "stake_registration", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "stake_address", "deposit"}},
	StakeDeregistration: {Name: "stake_deregistration", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "stake_address", "refund"}},
	Delegation: {Name: "delegation", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "stake_address", "pool_hash"}},
	PoolHash: {Name: "pool_hash", Shared: true, Key: []string{"hash_raw"}, Columns: []string{"hash_raw", "view", "slot_no"}},
	PoolUpdate: {Name: "pool_update", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "pool_hash", "vrf_key_hash", "pledge", "cost",
			"margin_numerator", "margin_denominator", "reward_addr"}},
	PoolOwner: {Name: "pool_owner", Key: []string{"tx_hash", "cert_index", "owner"},
		Columns: []string{"tx_hash", "cert_index", "owner", "slot_no", "stake_address"}},
	PoolRelay: {Name: "pool_relay", Key: []string{"tx_hash", "cert_index", "relay_index"},
		Columns: []string{"tx_hash", "cert_index", "relay_index", "slot_no", "ipv4", "ipv6", "dns_name", "dns_srv_name", "port"}},
	PoolMetadataRef: {Name: "pool_metadata_ref", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "pool_hash", "url", "hash"}},
	PoolRetire: {Name: "pool_retire", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "pool_hash", "retiring_epoch"}},
	Reserve: {Name: "reserve", Key: []string{"tx_hash", "cert_index", "stake_address"},
		Columns: []string{"tx_hash", "cert_index", "stake_address", "slot_no", "amount"}},
	Treasury: {Name: "treasury", Key: []string{"tx_hash", "cert_index", "stake_address"},
		Columns: []string{"tx_hash", "cert_index", "stake_address", "slot_no", "amount"}},
	PotTransfer: {Name: "pot_transfer", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "reserves", "treasury"}},
	GenesisKeyDelegation: {Name: "genesis_key_delegation", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "genesis_hash", "genesis_delegate_hash", "vrf_key_hash"}},
	Withdrawal: {Name: "withdrawal", Key: []string{"tx_hash", "stake_address"},
		Columns: []string{"tx_hash", "stake_address", "slot_no", "amount"}},
	Datum: {Name: "datum", Shared: true, Key: []string{"hash"}, Columns: []string{"hash", "slot_no", "bytes"}},
	Redeemer: {Name: "redeemer", Key: []string{"tx_hash", "purpose", "index"},
		Columns: []string{"tx_hash", "purpose", "index", "slot_no", "unit_mem", "unit_steps", "data_hash", "data",
			"script_hash", "tx_out_hash", "tx_out_index"}},
	Script: {Name: "script", Shared: true, Key: []string{"hash"},
		Columns: []string{"hash", "type", "slot_no", "json", "serialised_size", "bytes", "timelock_cbor"}},
	ExtraKeyWitness: {Name: "extra_key_witness", Key: []string{"tx_hash", "hash"}, Columns: []string{"tx_hash", "hash", "slot_no"}},
	ParamProposal: {Name: "param_proposal", Key: []string{"tx_hash", "key"},
		Columns: []string{"tx_hash", "key", "slot_no", "epoch_no", "json"}},
	DrepHash: {Name: "drep_hash", Shared: true, Key: []string{"view"}, Columns: []string{"view", "raw", "has_script", "slot_no"}},
	DrepRegistration: {Name: "drep_registration", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "drep_hash", "deposit", "voting_anchor_url", "voting_anchor_hash"}},
	DelegationVote: {Name: "delegation_vote", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "stake_address", "drep_hash"}},
	CommitteeRegistration: {Name: "committee_registration", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "cold_key", "cold_key_is_script", "hot_key", "hot_key_is_script"}},
	CommitteeDeregistration: {Name: "committee_deregistration", Key: []string{"tx_hash", "cert_index"},
		Columns: []string{"tx_hash", "cert_index", "slot_no", "cold_key", "cold_key_is_script", "voting_anchor_url", "voting_anchor_hash"}},
	VotingProcedure: {Name: "voting_procedure", Key: []string{"tx_hash", "voter_role", "voter_hash", "gov_action_tx_hash", "gov_action_index"},
		Columns: []string{"tx_hash", "voter_role", "voter_hash", "gov_action_tx_hash", "gov_action_index", "slot_no",
			"voter_is_script", "vote", "voting_anchor_url", "voting_anchor_hash", "drep_voter"}},
	GovActionProposal: {Name: "gov_action_proposal", Key: []string{"tx_hash", "index"},
		Columns: []string{"tx_hash", "index", "slot_no", "deposit", "return_address", "type", "description",
			"prev_gov_action_tx_hash", "prev_gov_action_index", "voting_anchor_url", "voting_anchor_hash"}},
	VotingAnchor: {Name: "voting_anchor", Shared: true, Key: []string{"url", "data_hash"}, Columns: []string{"url", "data_hash", "slot_no"}},
	SlotLeader:   {Name: "slot_leader", Shared: true, Key: []string{"hash"}, Columns: []string{"hash", "pool_hash", "description", "slot_no"}},
}

func init() {
	for t := range Tables {
		tab := &Tables[t]
		tab.Computed = computedColumns(TableID(t))
		tab.Columns = append(tab.Columns[:len(tab.Columns):len(tab.Columns)], tab.Computed...)
	}
}

// Rows holds decoded rows grouped by table. Each row's values follow the
// table's Columns; values are nil, bool, int64, uint64, string (also for exact
// decimals) or []byte.
type Rows [NumTables][][]any

// Add appends one row to table t. The number of values must match the
// table's columns, but for the computed ones (assignIDs appends those: the
// row has room for them).
func (r *Rows) Add(t TableID, values ...any) {
	row := make([]any, len(values), max(len(values), len(Tables[t].Columns)))
	copy(row, values)
	r[t] = append(r[t], row)
}

// Append adds every row of o to r.
func (r *Rows) Append(o *Rows) {
	for t := range o {
		r[t] = append(r[t], o[t]...)
	}
}

// Count returns the number of rows across all tables.
func (r *Rows) Count() int {
	n := 0
	for t := range r {
		n += len(r[t])
	}
	return n
}

// TableByName finds a table by its SQL name.
func TableByName(name string) (TableID, bool) {
	for i, t := range Tables {
		if t.Name == name {
			return TableID(i), true
		}
	}
	return 0, false
}

// keyIndex holds, per table, the positions of its key columns.
var keyIndex = func() (idx [NumTables][]int) {
	for t, tab := range Tables {
		for _, k := range tab.Key {
			for i, c := range tab.Columns {
				if c == k {
					idx[t] = append(idx[t], i)
				}
			}
		}
		if len(idx[t]) != len(tab.Key) {
			panic("chain: table " + tab.Name + " has a key column that is not a column")
		}
	}
	return idx
}()

// Key returns the encoded primary key of a row of table t.
func Key(t TableID, row []any) string {
	var b []byte
	for _, i := range keyIndex[t] {
		b = appendKeyValue(b, row[i])
	}
	return string(b)
}

func appendKeyValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case []byte:
		b = append(b, 'b', byte(len(x)>>8), byte(len(x)))
		return append(b, x...)
	case string:
		b = append(b, 's', byte(len(x)>>8), byte(len(x)))
		return append(b, x...)
	case uint64:
		return append(b, 'u', byte(x>>56), byte(x>>48), byte(x>>40), byte(x>>32), byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
	case bool:
		if x {
			return append(b, 't')
		}
		return append(b, 'f')
	case nil:
		return append(b, 'n')
	}
	return append(b, fmt.Sprint(v)...)
}

// Dedup drops rows whose key repeats an earlier row of the same table, keeping
// the first: witness sets are sets, and shared rows (assets, datums, scripts,
// addresses) recur across transactions. Blocks are decoded in slot order, so
// the first row of a shared table carries the lowest slot.
func (r *Rows) Dedup() {
	for t := range r {
		rows := r[t]
		if len(rows) < 2 {
			continue
		}
		seen := make(map[string]struct{}, len(rows))
		out := rows[:0]
		for _, row := range rows {
			k := Key(TableID(t), row)
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			out = append(out, row)
		}
		clear(rows[len(out):])
		r[t] = out
	}
}
