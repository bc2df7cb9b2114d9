package chain

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every fixture block's ids follow the encodings of ids.go, are unique per
// table, point at rows of the same block or at shared rows' keys, and come
// out the same on every decoding (the decoder ranges over maps).
func TestChainPositionIDs(t *testing.T) {
	for _, fb := range loadIndex(t) {
		t.Run(fb.File, func(t *testing.T) {
			raw := fb.read(t)
			d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				again, err := DecodeBlock(fb.network(), fb.BlockType, raw)
				if err != nil {
					t.Fatal(err)
				}
				for tab := range NumTables {
					if !reflect.DeepEqual(again.Rows[tab], d.Rows[tab]) {
						t.Fatalf("two decodings give different %s rows", Tables[tab].Name)
					}
				}
			}
			col := func(tab TableID, r []any, name string) any { return r[colIndex(tab, name)] }
			ebb := fb.BlockType == BlockTypeByronEBB
			if got := col(Block, d.Rows[Block][0], "id"); got != BlockID(d.Slot, ebb) {
				t.Errorf("block.id %v, want %d", got, BlockID(d.Slot, ebb))
			}
			txIDs := map[int64]bool{}
			for _, r := range d.Rows[Tx] {
				id := col(Tx, r, "id").(int64)
				if want := PositionID(d.Slot, int(r[3].(uint64))); id != want {
					t.Errorf("tx.id %d, want %d", id, want)
				}
				if col(Tx, r, "block_id") != BlockID(d.Slot, false) {
					t.Errorf("tx.block_id %v", col(Tx, r, "block_id"))
				}
				txIDs[id] = true
			}
			ids := map[TableID]map[int64]bool{}
			for tab := range NumTables {
				if tab == Block || len(d.Rows[tab]) == 0 {
					continue
				}
				ids[tab] = map[int64]bool{}
				for i, r := range d.Rows[tab] {
					id := col(tab, r, "id").(int64)
					if ids[tab][id] {
						t.Errorf("%s: id %d twice", Tables[tab].Name, id)
					}
					ids[tab][id] = true
					if tab == Tx || Tables[tab].Shared {
						if Tables[tab].Shared && id != KeyID(tab, keyValues(tab, r)...) {
							t.Errorf("%s: id %d is not its key's", Tables[tab].Name, id)
						}
						continue
					}
					if id != PositionID(d.Slot, i) {
						t.Errorf("%s row %d: id %d, want %d", Tables[tab].Name, i, id, PositionID(d.Slot, i))
					}
					if !txIDs[col(tab, r, txIDColumn[tab]).(int64)] {
						t.Errorf("%s row %d: %s names no transaction of the block", Tables[tab].Name, i, txIDColumn[tab])
					}
				}
			}
			for _, r := range d.Rows[MaTxOut] {
				if !ids[TxOut][col(MaTxOut, r, "tx_out_id").(int64)] {
					t.Errorf("ma_tx_out row names no tx_out of the block: %v", r)
				}
			}
			if fb.era(t) >= EraShelley {
				leader := d.Rows[Block][0][colIndex(Block, "slot_leader")]
				if !gcHasKey(&d.Rows, PoolHash, leader) || !gcHasKey(&d.Rows, SlotLeader, leader) {
					t.Errorf("issuer %x has no pool_hash or slot_leader row", leader)
				}
				if col(Block, d.Rows[Block][0], "slot_leader_id") != KeyID(SlotLeader, leader) {
					t.Error("block.slot_leader_id is not its slot leader's id")
				}
			}
			for _, r := range d.Rows[Redeemer] {
				script, out := col(Redeemer, r, "script_hash"), col(Redeemer, r, "tx_out_hash")
				if r[1] == "spend" && (script != nil || out == nil) {
					t.Errorf("spend redeemer %v: script %v, spent output %v", r[2], script, out)
				}
				if r[1] != "spend" && r[1] != "proposing" && script == nil {
					t.Errorf("%s redeemer %v names no script", r[1], r[2])
				}
			}
		})
	}
}

// The encodings' bounds: slot_no*2 and slot_no<<20 fit a signed BIGINT up
// to MaxIDSlot, thousands of centuries of one-second slots away.
func TestIDBounds(t *testing.T) {
	if id := PositionID(MaxIDSlot, 1<<IDOrdinalBits-1); id <= 0 || uint64(id) != 1<<63-1 {
		t.Errorf("the last position id is %d", id)
	}
	if id := BlockID(MaxIDSlot, false); id <= 0 {
		t.Errorf("the last block id is %d", id)
	}
	const year = 365 * 24 * 3600
	if years := MaxIDSlot / year; years < 100_000 {
		t.Errorf("ids last %d years of one-second slots", years)
	}
}

// assignIDs gives what the plain definition gives, for every fixture block's
// rows as the decoder adds them and shuffled, with repeated keys.
func TestAssignIDsMatchesPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fb := range loadIndex(t) {
		t.Run(fb.File, func(t *testing.T) {
			d, err := DecodeBlock(fb.network(), fb.BlockType, fb.read(t))
			if err != nil {
				t.Skip(err) // the index holds a few blocks gouroboros rejects
			}
			base := d.Rows
			for tab := range NumTables {
				n := len(Tables[tab].Columns) - len(Tables[tab].Computed)
				base[tab] = make([][]any, len(d.Rows[tab]))
				for i, r := range d.Rows[tab] {
					base[tab][i] = slices.Clone(r[:n])
				}
			}
			for round := range 4 {
				in := base
				if round > 0 {
					in = shuffledWithRepeats(rng, base)
				}
				got, want := *d, *d
				got.Rows, want.Rows = cloneRows(in), cloneRows(in)
				errGot, errWant := got.assignIDs(), want.assignIDsPlain()
				if (errGot == nil) != (errWant == nil) {
					t.Fatalf("round %d: assignIDs: %v, plain: %v", round, errGot, errWant)
				}
				for tab := range NumTables {
					if !reflect.DeepEqual(got.Rows[tab], want.Rows[tab]) {
						t.Fatalf("round %d: %s rows differ:\n%v\n%v", round, Tables[tab].Name, got.Rows[tab], want.Rows[tab])
					}
				}
				if round == 0 && !reflect.DeepEqual(got.Rows, d.Rows) {
					t.Fatal("rows differ from DecodeBlock's")
				}
			}
		})
	}
}

func cloneRows(r Rows) (out Rows) {
	for tab := range r {
		for _, row := range r[tab] {
			out[tab] = append(out[tab], slices.Clone(row))
		}
	}
	return out
}

// shuffledWithRepeats shuffles each table's rows (but the block's) and
// repeats some of them later, with a column that is neither key nor
// reference nor owner changed: the first added must be the one kept.
func shuffledWithRepeats(rng *rand.Rand, r Rows) (out Rows) {
	for tab := range NumTables {
		rows := slices.Clone(r[tab])
		if tab == Block {
			out[tab] = rows
			continue
		}
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		free := -1
		for i := len(Tables[tab].Columns) - len(Tables[tab].Computed) - 1; i >= 0 && free < 0; i-- {
			used := slices.Contains(keyIndex[tab], i) || !Tables[tab].Shared && i == ownerIndex[tab] || tab == Tx && i == 3
			for _, from := range refFrom[tab] {
				used = used || slices.Contains(from, i)
			}
			if !used {
				free = i
			}
		}
		for i := range rows {
			if rng.IntN(4) == 0 {
				dup := slices.Clone(rows[i])
				if free >= 0 {
					dup[free] = fmt.Sprintf("repeat of row %d", i)
				}
				at := i + 1 + rng.IntN(len(rows)-i)
				rows = slices.Insert(rows, at, dup)
			}
		}
		out[tab] = rows
	}
	return out
}

// assignIDsPlain is assignIDs as ids.go defines it, written plainly (every
// key encoded where it is needed, every table sorted whole, KeyID hashed for
// every reference), after Rows.Dedup: the reference for the one the decoder
// runs.
func (d *Decoded) assignIDsPlain() error {
	d.Rows.Dedup()
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
