package chain

import (
	"reflect"
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
