package chain

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/crypto/blake2b"
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
// id, ownerColumn the column holding its hash, ownerIndex that column's
// position. Tables without an owner (block, shared tables) have none.
var (
	ownerColumn = map[TableID]string{}
	txIDColumn  = map[TableID]string{}
	ownerIndex  [NumTables]int
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
	PoolOwner:           {{"pool_update_id", PoolUpdate, []string{"tx_hash", "cert_index"}}, {"addr_id", StakeAddress, []string{"stake_address"}}},
	PoolRelay:           {{"update_id", PoolUpdate, []string{"tx_hash", "cert_index"}}},
	PoolMetadataRef:     {{"pool_id", PoolHash, []string{"pool_hash"}}},
	PoolRetire:          {{"hash_id", PoolHash, []string{"pool_hash"}}},
	Reserve:             {{"addr_id", StakeAddress, []string{"stake_address"}}},
	Treasury:            {{"addr_id", StakeAddress, []string{"stake_address"}}},
	Withdrawal:          {{"addr_id", StakeAddress, []string{"stake_address"}}},
	DrepRegistration:    {{"drep_hash_id", DrepHash, []string{"drep_hash"}}},
	DelegationVote:      {{"addr_id", StakeAddress, []string{"stake_address"}}, {"drep_hash_id", DrepHash, []string{"drep_hash"}}},
	GovActionProposal:   {{"return_address_id", StakeAddress, []string{"return_address"}}},
	VotingProcedure:     {{"drep_voter_id", DrepHash, []string{"drep_voter"}}},
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
		ownerColumn[t], txIDColumn[t], ownerIndex[t] = owner, id, slices.Index(tab.Columns, owner)
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
	return hashID(b)
}

// hashID is the first 63 bits of the Blake2b-256 of b.
func hashID(b []byte) int64 {
	h := blake2b.Sum256(b)
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

// refTarget marks the tables some reference column points at.
var refTarget = func() (m [NumTables]bool) {
	for _, rs := range refs {
		for _, r := range rs {
			m[r.Table] = true
		}
	}
	return m
}()

// keyedRow is a row with its encoded key (see Key) and, for a
// per-transaction row, its transaction's position in the block.
type keyedRow struct {
	row []any
	key []byte
	off int // key's offset among its table's keys
	tx  uint64
	pos int // as added: of rows with one key, the first added is kept
}

func cmpKeyed(a, b keyedRow) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.pos, b.pos)
}

// assignIDs drops rows whose key repeats an earlier row of their table (as
// Rows.Dedup), orders the block's rows (per-transaction rows in transaction
// order, then key order; shared rows in key order: map iteration in the
// decoder must not change ids) and appends every computed column to every
// row. Each row's key is encoded once; the decoder adds a transaction's rows
// together, so only rows within one transaction are sorted, and only when
// they are out of order.
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
	if len(rows[Tx]) > 1 {
		seen := make(map[string]struct{}, len(rows[Tx]))
		out := rows[Tx][:0]
		for _, r := range rows[Tx] {
			if _, dup := seen[string(r[0].([]byte))]; !dup {
				seen[string(r[0].([]byte))] = struct{}{}
				out = append(out, r)
			}
		}
		clear(rows[Tx][len(out):])
		rows[Tx] = out
	}
	blockIDVal := any(blockID)
	txIndex := make(map[string]uint64, len(rows[Tx]))
	txID := make(map[string]any, len(rows[Tx])) // boxed once for the transaction's rows
	slices.SortFunc(rows[Tx], func(a, b []any) int { return cmpU(a[3].(uint64), b[3].(uint64)) })
	for i, r := range rows[Tx] {
		h := string(r[0].([]byte))
		txIndex[h] = r[3].(uint64)
		id := any(PositionID(d.Slot, int(r[3].(uint64))))
		txID[h] = id
		rows[Tx][i] = append(r, id, blockIDVal)
		if i >= 1<<IDOrdinalBits {
			return fmt.Errorf("block has more than %d transactions", 1<<IDOrdinalBits)
		}
	}
	// Ids by key of the rows that reference columns point at: within the
	// block for per-transaction rows (ma_tx_out → tx_out, pool_owner →
	// pool_update), and shared rows' KeyIDs, computed (and boxed) once.
	var byKey [NumTables]map[string]any
	buf := idBuffers.Get().(*idBuffer)
	defer buf.put()
	arena, scratch, ks := buf.arena[:0], buf.scratch[:0], buf.rows[:0]
	if n := 96 * d.Rows.Count(); cap(arena) < n {
		arena = make([]byte, 0, n) // most keys are shorter
	}
	defer func() { buf.arena, buf.scratch, buf.rows = arena, scratch, ks }()
	for t := range NumTables {
		tab := Tables[t]
		if t == Block || t == Tx || len(rows[t]) == 0 {
			continue
		}
		ks = ks[:0]
		inTxOrder := true
		var owner int
		if !tab.Shared {
			owner = ownerIndex[t]
		}
		keysStart := len(arena)
		for _, r := range rows[t] {
			n := len(arena)
			for _, i := range keyIndex[t] {
				arena = appendKeyValue(arena, r[i])
			}
			k := keyedRow{row: r, key: arena[n:len(arena):len(arena)], off: n - keysStart, pos: len(ks)}
			if !tab.Shared {
				k.tx = txIndex[string(r[owner].([]byte))]
				inTxOrder = inTxOrder && (len(ks) == 0 || ks[len(ks)-1].tx <= k.tx)
			}
			ks = append(ks, k)
		}
		if !inTxOrder {
			slices.SortFunc(ks, func(a, b keyedRow) int {
				if c := cmpU(a.tx, b.tx); c != 0 {
					return c
				}
				return cmp.Compare(a.pos, b.pos)
			})
		}
		// Key order within each transaction (every row of a shared table
		// counts as one transaction's), then the order added: of rows with
		// one key the first added comes first and is the one kept.
		for lo := 0; lo < len(ks); {
			hi := lo + 1
			for hi < len(ks) && ks[hi].tx == ks[lo].tx {
				hi++
			}
			if seg := ks[lo:hi]; !slices.IsSortedFunc(seg, cmpKeyed) {
				slices.SortFunc(seg, cmpKeyed)
			}
			lo = hi
		}
		out := ks[:0]
		for _, k := range ks {
			if len(out) > 0 && bytes.Equal(out[len(out)-1].key, k.key) {
				continue
			}
			out = append(out, k)
		}
		if !tab.Shared && len(out) > 1<<IDOrdinalBits {
			return fmt.Errorf("block has %d %s rows, more than %d", len(out), tab.Name, 1<<IDOrdinalBits)
		}
		var keys string // the table's keys in one string: the map's keys are parts of it
		if refTarget[t] {
			byKey[t] = make(map[string]any, len(out))
			keys = string(arena[keysStart:])
		}
		for i, k := range out {
			var id any
			if tab.Shared {
				scratch = append(append(scratch[:0], tab.Name...), k.key...)
				id = hashID(scratch)
				rows[t][i] = append(k.row, id)
			} else {
				id = PositionID(d.Slot, i)
				tid, ok := txID[string(k.row[owner].([]byte))]
				if !ok {
					return fmt.Errorf("%s row of a transaction not in the block", tab.Name)
				}
				rows[t][i] = append(k.row, id, tid)
			}
			if byKey[t] != nil {
				byKey[t][keys[k.off:k.off+len(k.key)]] = id
			}
		}
		clear(rows[t][len(out):])
		rows[t] = rows[t][:len(out)]
	}
	for t := range NumTables {
		for _, ref := range refs[t] {
			from := refFrom[t][ref.Column]
			shared := Tables[ref.Table].Shared
			for i, r := range rows[t] {
				var id any
				null := false
				scratch = scratch[:0]
				if shared {
					scratch = append(scratch, Tables[ref.Table].Name...)
				}
				n := len(scratch)
				for _, k := range from {
					null = null || r[k] == nil
					scratch = appendKeyValue(scratch, r[k])
				}
				switch x, ok := byKey[ref.Table][string(scratch[n:])]; {
				case null:
				case ok:
					id = x
				case shared:
					id = hashID(scratch)
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

// idBuffer is assignIDs' working memory, reused across blocks: the keys are
// not kept (maps copy them), the rows are let go.
type idBuffer struct {
	arena, scratch []byte
	rows           []keyedRow
}

var idBuffers = sync.Pool{New: func() any { return new(idBuffer) }}

func (b *idBuffer) put() {
	clear(b.rows[:cap(b.rows)])
	idBuffers.Put(b)
}

// refFrom holds, per table and reference column, the positions of the
// columns its id is found by.
var refFrom = func() (m [NumTables]map[string][]int) {
	for t, rs := range refs {
		m[t] = map[string][]int{}
		for _, r := range rs {
			for _, c := range r.From {
				m[t][r.Column] = append(m[t][r.Column], colIndex(t, c))
			}
		}
	}
	return m
}()

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
