package chain

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/blinklabs-io/gouroboros/ledger"
)

// fixtureTxs returns the CBOR of every transaction of the fixture blocks
// from Allegra on (the eras whose validity start txBodyHasKey reads).
func fixtureTxs(tb testing.TB) [][]byte {
	tb.Helper()
	var txs [][]byte
	for _, fb := range loadIndex(tb) {
		if fb.BlockType < BlockTypeAllegra {
			continue
		}
		blk, err := ledger.NewBlockFromCbor(fb.BlockType, fb.read(tb))
		if err != nil {
			continue // the index holds a few blocks gouroboros rejects
		}
		for _, tx := range blk.Transactions() {
			txs = append(txs, tx.Cbor())
		}
	}
	if len(txs) == 0 {
		tb.Fatal("no fixture transactions")
	}
	return txs
}

// The key scan answers as decoding the body does, on every fixture
// transaction and every body key.
func TestTxBodyHasKeyFixtures(t *testing.T) {
	for _, tx := range fixtureTxs(t) {
		for k := range uint64(25) {
			want, err := txBodyHasKeyDecoded(tx, k)
			if err != nil {
				t.Fatalf("decode %x: %v", tx, err)
			}
			if got := txBodyHasKey(tx, k); got != want {
				t.Fatalf("key %d of %x: got %v, want %v", k, tx, got, want)
			}
		}
	}
}

func TestTxBodyHasKey(t *testing.T) {
	tests := []struct {
		name string
		tx   string // hex
		key  uint64
		want bool
	}{
		{"present", "83a2000108f6a0f6", 8, true},
		{"absent", "83a2000103f6a0f6", 8, false},
		{"empty body", "83a0a0f6", 8, false},
		{"indefinite body", "83bf00010800ffa0f6", 8, true},
		{"indefinite array", "9fa10800a0f6ff", 8, true},
		{"skips nested values", "83a2008182582000000000000000000000000000000000000000000000000000000000000000000008190100a0f6", 8, true},
		{"two-byte key", "83a1180800a0f6", 8, true},
		{"text key", "83a1616108a0f6", 8, false},
		{"duplicate key", "83a208000801a0f6", 8, false},
		{"not an array", "a10800", 8, false},
		{"empty array", "80", 8, false},
		{"truncated", "83a20801", 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := hex.DecodeString(tt.tx)
			if err != nil {
				t.Fatal(err)
			}
			if got := txBodyHasKey(tx, tt.key); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			want, _ := txBodyHasKeyDecoded(tx, tt.key)
			if want != tt.want {
				t.Errorf("decoding the body says %v", want)
			}
		})
	}
}

// FuzzTxBodyHasKey: the scan never panics and, wherever the body decodes,
// agrees with decoding it.
func FuzzTxBodyHasKey(f *testing.F) {
	for i, tx := range fixtureTxs(f) {
		if i%20 == 0 {
			f.Add(tx, uint64(8))
		}
	}
	f.Fuzz(func(t *testing.T, tx []byte, k uint64) {
		got := txBodyHasKey(tx, k)
		want, err := txBodyHasKeyDecoded(tx, k)
		if err == nil && got != want {
			t.Fatalf("key %d of %x: scan says %v, decoding %v", k, tx, got, want)
		}
		cborSkip(tx, 0)
	})
}

// The address read head by head is the one decoding the output gives, on
// every output of every fixture block (array and map outputs, every era).
func TestOutputAddressRaw(t *testing.T) {
	n := 0
	for _, fb := range loadIndex(t) {
		blk, err := ledger.NewBlockFromCbor(fb.BlockType, fb.read(t))
		if err != nil {
			continue // the index holds a few blocks gouroboros rejects
		}
		for _, tx := range blk.Transactions() {
			for _, o := range tx.Outputs() {
				want, wantOK := outputAddressBytes(o.Cbor())
				got, ok := outputAddressRaw(o.Cbor())
				if ok != wantOK || !bytes.Equal(got, want) {
					t.Fatalf("output %x: read %x (%v), decoded %x (%v)", o.Cbor(), got, ok, want, wantOK)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no outputs")
	}
}

// FuzzOutputAddressRaw: where the head-by-head reading answers, decoding
// the output gives the same bytes; it never panics.
func FuzzOutputAddressRaw(f *testing.F) {
	for _, s := range []string{"825839" + "00" + strings.Repeat("11", 56) + "1a000f4240", "a200581d61" + strings.Repeat("22", 28) + "011a000f4240", "a10140"} {
		raw, _ := hex.DecodeString(s)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := outputAddressRaw(raw)
		if !ok {
			return
		}
		if want, wantOK := outputAddressBytes(raw); wantOK && !bytes.Equal(got, want) {
			t.Fatalf("%x: read %x, decoded %x", raw, got, want)
		}
	})
}
