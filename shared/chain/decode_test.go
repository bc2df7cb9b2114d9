package chain

import (
	"encoding/hex"
	"testing"
)

func TestDecodeAllFixtureBlocks(t *testing.T) {
	for _, fb := range loadIndex(t) {
		t.Run(fb.File, func(t *testing.T) {
			d, err := DecodeBlock(fb.network(), fb.BlockType, fb.read(t))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := hex.EncodeToString(d.Hash); got != fb.Hash {
				t.Errorf("hash %s, want %s", got, fb.Hash)
			}
			if d.Slot != fb.Slot {
				t.Errorf("slot %d, want %d", d.Slot, fb.Slot)
			}
			if got := len(d.Rows[Tx]); got != fb.Counts["txs"] {
				t.Errorf("tx rows %d, want %d", got, fb.Counts["txs"])
			}
		})
	}
}
