package chain

import (
	"encoding/hex"
	"math"
	"math/big"
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

func TestDecimal(t *testing.T) {
	huge, _ := new(big.Int).SetString("-340282366920938463463374607431768211456", 10)
	tests := []*big.Int{
		nil, big.NewInt(0), big.NewInt(7), big.NewInt(999), big.NewInt(1000), big.NewInt(-1), big.NewInt(math.MaxInt64), big.NewInt(math.MinInt64),
		new(big.Int).SetUint64(math.MaxUint64), huge,
	}
	for _, x := range tests {
		if got, want := decimal(x), x.String(); got != want {
			t.Errorf("decimal(%v) = %s, want %s", x, got, want)
		}
		if got, want := decimalVal(x), x.String(); got != want {
			t.Errorf("decimalVal(%v) = %v, want %s", x, got, want)
		}
	}
}
