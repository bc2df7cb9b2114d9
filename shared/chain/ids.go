package chain

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/blinklabs-io/gouroboros/ledger/common"
)

// Chain-position ids. db-sync's users join on surrogate ids (tx.id =
// tx_out.tx_id, ma_tx_out.ident = multi_asset.id, ...) and rely on their
// order (max(id) is the latest). Nectar computes them inside one block, from
// its chain position alone, so that batches still land in any order
// (invariant 1) and every row's id is the same however often and in which
// batch its block is written:
//
//	block.id                 slot_no*2 + 1, an EBB slot_no*2 (it shares its slot with the first block of its epoch)
//	per-transaction rows     slot_no<<IDOrdinalBits + the row's position among its table's rows in the block
//	                         (tx: its block_index; other tables: in transaction order, then key order)
//	shared rows              the first 63 bits of Blake2b-256 of the row's key (KeyID)
//
// Per-transaction rows carry their transaction's id (tx_id; tx_in_id for the
// input tables) and the ids of the rows they point at in the same block or
// in a shared table (see refs). docs/schema.md gives the bounds.

// IDOrdinalBits is the room a block has for the rows of one table: 2^20
// rows, 23 times the densest table's maximum in today's largest block
// (90,112 bytes of body, at least 2 bytes per asset quantity in ma_tx_out).
const IDOrdinalBits = 20

// MaxIDSlot is the last slot whose ids fit in a signed BIGINT.
const MaxIDSlot = 1<<(63-IDOrdinalBits) - 1

// EBBSlotLeader is the slot_leader hash of Byron epoch boundary blocks
// (db-sync's: 28 zero bytes, "Epoch boundary slot leader").
var EBBSlotLeader = make([]byte, 28)

// Ref is a computed column that holds the id of another row, found by the
// values of columns From of the same row (the other table's key, in its key
// order). A NULL in From gives NULL.
type Ref struct {
	Column string
	Table  TableID
	From   []string
}

// txIDColumn names, per table, the column holding the owning transaction's
// id, and ownerColumn the column holding its hash. Tables without an owner
// (block, shared tables) have none.
var (
	ownerColumn = map[TableID]string{}
	txIDColumn  = map[TableID]string{}
)

// refs lists the computed reference columns of each table, after id and the
// transaction's id.
var refs = map[TableID][]Ref{
	TxOut: {{"stake_address_id", StakeAddress, []string{"stake_address"}}, {"inline_datum_id", Datum, []string{"inline_datum_hash"}},
		{"reference_script_id", Script, []string{"reference_script_hash"}}},
	CollateralTxOut: {{"stake_address_id", StakeAddress, []string{"stake_address"}}, {"inline_datum_id", Datum, []string{"inline_datum_hash"}},
		{"reference_script_id", Script, []string{"reference_script_hash"}}},
	MaTxOut:             {{"tx_out_id", TxOut, []string{"tx_hash", "index"}}, {"ident", MultiAsset, []string{"policy", "name"}}},
	MaTxMint:            {{"ident", MultiAsset, []string{"policy", "name"}}},
	StakeRegistration:   {{"addr_id", StakeAddress, []string{"stake_address"}}},
	StakeDeregistration: {{"addr_id", StakeAddress, []string{"stake_address"}}},
	Delegation:          {{"addr_id", StakeAddress, []string{"stake_address"}}, {"pool_hash_id", PoolHash, []string{"pool_hash"}}},
	PoolUpdate:          {{"hash_id", PoolHash, []string{"pool_hash"}}, {"reward_addr_id", StakeAddress, []string{"reward_addr"}}},
	PoolOwner:           {{"pool_update_id", PoolUpdate, []string{"tx_hash", "cert_index"}}},
	PoolRelay:           {{"update_id", PoolUpdate, []string{"tx_hash", "cert_index"}}},
	PoolMetadataRef:     {{"pool_id", PoolHash, []string{"pool_hash"}}},
	PoolRetire:          {{"hash_id", PoolHash, []string{"pool_hash"}}},
	Reserve:             {{"addr_id", StakeAddress, []string{"stake_address"}}},
	Treasury:            {{"addr_id", StakeAddress, []string{"stake_address"}}},
	Withdrawal:          {{"addr_id", StakeAddress, []string{"stake_address"}}},
	DrepRegistration:    {{"drep_hash_id", DrepHash, []string{"drep_hash"}}},
	DelegationVote:      {{"addr_id", StakeAddress, []string{"stake_address"}}, {"drep_hash_id", DrepHash, []string{"drep_hash"}}},
	GovActionProposal:   {{"return_address_id", StakeAddress, []string{"return_address"}}},
	SlotLeader:          {{"pool_hash_id", PoolHash, []string{"pool_hash"}}},
}

func computedColumns(t TableID) []string {
	tab := Tables[t]
	var cols []string
	switch {
	case t == Block:
		cols = []string{"id", "slot_leader_id"}
	case t == Tx:
		cols = []string{"id", "block_id"}
	case tab.Shared:
		cols = []string{"id"}
	default:
		owner, id := "tx_hash", "tx_id"
		if slices.Contains(tab.Columns, "tx_in_hash") {
			owner, id = "tx_in_hash", "tx_in_id"
		}
		ownerColumn[t], txIDColumn[t] = owner, id
		cols = []string{"id", id}
	}
	for _, r := range refs[t] {
		cols = append(cols, r.Column)
	}
	return cols
}

// KeyID is a shared row's id: the first 63 bits of Blake2b-256 of its key
// values, encoded as Key encodes them. Any batch computes the same id from
// the key alone.
func KeyID(t TableID, key ...any) int64 {
	var b []byte
	b = append(b, Tables[t].Name...)
	for _, v := range key {
		b = appendKeyValue(b, v)
	}
	h := common.Blake2b256Hash(b)
	return int64(binary.BigEndian.Uint64(h[:8]) >> 1)
}

// PositionID is a per-transaction row's id: its slot and its position
// among its table's rows in the block.
func PositionID(slot uint64, ordinal int) int64 {
	return int64(slot<<IDOrdinalBits | uint64(ordinal))
}

// BlockID is block.id: slot_no*2, plus 1 unless the block is an EBB.
func BlockID(slot uint64, ebb bool) int64 {
	if ebb {
		return int64(slot * 2)
	}
	return int64(slot*2 + 1)
}

func colIndex(t TableID, name string) int {
	i := slices.Index(Tables[t].Columns, name)
	if i < 0 {
		panic("chain: table " + Tables[t].Name + " has no column " + name)
	}
	return i
}

// assignIDs orders the block's per-transaction rows (transaction order,
// then key order: map iteration in the decoder must not change ids) and
// appends every computed column to every row.
func (d *Decoded) assignIDs() error {
	if d.Slot > MaxIDSlot {
		return fmt.Errorf("slot %d is beyond the ids' range (%d)", d.Slot, uint64(MaxIDSlot))
	}
	rows := &d.Rows
	ebb := d.BlockType == BlockTypeByronEBB
	blockID := BlockID(d.Slot, ebb)
	for _, r := range rows[Block] {
		var leader any
		switch {
		case ebb:
			leader = KeyID(SlotLeader, EBBSlotLeader)
		case r[colIndex(Block, "slot_leader")] != nil:
			leader = KeyID(SlotLeader, r[colIndex(Block, "slot_leader")])
		}
		rows[Block][0] = append(r, blockID, leader)
	}
	txIndex := map[string]uint64{}
	txID := map[string]int64{}
	slices.SortFunc(rows[Tx], func(a, b []any) int { return cmpU(a[3].(uint64), b[3].(uint64)) })
	for i, r := range rows[Tx] {
		h := string(r[0].([]byte))
		txIndex[h] = r[3].(uint64)
		id := PositionID(d.Slot, int(r[3].(uint64)))
		txID[h] = id
		rows[Tx][i] = append(r, id, blockID)
		if i >= 1<<IDOrdinalBits {
			return fmt.Errorf("block has more than %d transactions", 1<<IDOrdinalBits)
		}
	}
	// ids of per-transaction rows by key, for references within the block
	// (ma_tx_out → tx_out, pool_owner → pool_update).
	byKey := map[TableID]map[string]int64{}
	for t := range NumTables {
		tab := Tables[t]
		if t == Block || t == Tx || tab.Shared || len(rows[t]) == 0 {
			continue
		}
		owner := colIndex(t, ownerColumn[t])
		keys := make(map[*any]string, len(rows[t]))
		for _, r := range rows[t] {
			keys[&r[0]] = Key(t, r)
		}
		slices.SortStableFunc(rows[t], func(a, b []any) int {
			if c := cmpU(txIndex[string(a[owner].([]byte))], txIndex[string(b[owner].([]byte))]); c != 0 {
				return c
			}
			return strings.Compare(keys[&a[0]], keys[&b[0]])
		})
		if len(rows[t]) > 1<<IDOrdinalBits {
			return fmt.Errorf("block has %d %s rows, more than %d", len(rows[t]), tab.Name, 1<<IDOrdinalBits)
		}
		m := make(map[string]int64, len(rows[t]))
		for i, r := range rows[t] {
			id := PositionID(d.Slot, i)
			m[keys[&r[0]]] = id
			tid, ok := txID[string(r[owner].([]byte))]
			if !ok {
				return fmt.Errorf("%s row of a transaction not in the block", tab.Name)
			}
			rows[t][i] = append(r, id, tid)
		}
		byKey[t] = m
	}
	for t := range NumTables {
		if Tables[t].Shared {
			// Key order (map iteration in the decoder must not show).
			keys := make(map[*any]string, len(rows[t]))
			for _, r := range rows[t] {
				keys[&r[0]] = Key(t, r)
			}
			slices.SortFunc(rows[t], func(a, b []any) int { return strings.Compare(keys[&a[0]], keys[&b[0]]) })
			for i, r := range rows[t] {
				rows[t][i] = append(r, KeyID(t, keyValues(t, r)...))
			}
		}
	}
	for t := range NumTables {
		for _, ref := range refs[t] {
			from := make([]int, len(ref.From))
			for i, c := range ref.From {
				from[i] = colIndex(t, c)
			}
			for i, r := range rows[t] {
				vals := make([]any, len(from))
				var id any
				null := false
				for j, k := range from {
					vals[j] = r[k]
					null = null || r[k] == nil
				}
				switch {
				case null:
				case Tables[ref.Table].Shared:
					id = KeyID(ref.Table, vals...)
				default:
					var b []byte
					for _, v := range vals {
						b = appendKeyValue(b, v)
					}
					if x, ok := byKey[ref.Table][string(b)]; ok {
						id = x
					}
				}
				rows[t][i] = append(r, id)
			}
		}
	}
	for t := range NumTables {
		for _, r := range rows[t] {
			if len(r) != len(Tables[t].Columns) {
				return fmt.Errorf("%s row has %d values for %d columns", Tables[t].Name, len(r), len(Tables[t].Columns))
			}
		}
	}
	return nil
}

func keyValues(t TableID, r []any) []any {
	out := make([]any, len(keyIndex[t]))
	for i, k := range keyIndex[t] {
		out[i] = r[k]
	}
	return out
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
