package chain

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/blinklabs-io/gouroboros/ledger"
	"github.com/blinklabs-io/gouroboros/ledger/common"
)

// gouroborosAssets lists a multi-asset as gouroboros gives it, in key order.
func gouroborosAssets(m *common.MultiAsset[common.MultiAssetTypeOutput]) []string {
	var out []string
	if m == nil {
		return out
	}
	for _, p := range sortedPolicies(m.Policies()) {
		for _, n := range sortedNames(m.Assets(p)) {
			out = append(out, fmt.Sprintf("%x.%x=%s", p[:], n, m.Asset(p, n).String()))
		}
	}
	return out
}

func entriesText(es []assetEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%x.%x=%d", e.policy, e.name, e.qty))
	}
	return out
}

// An output's coin and assets read from its CBOR are gouroboros's, on every
// output of every fixture block; and nearly every output is read.
func TestOutputValueFixtures(t *testing.T) {
	read, all := 0, 0
	for _, fb := range loadIndex(t) {
		blk, err := ledger.NewBlockFromCbor(fb.BlockType, fb.read(t))
		if err != nil {
			continue // the index holds a few blocks gouroboros rejects
		}
		for _, tx := range blk.Transactions() {
			for _, o := range tx.Outputs() {
				all++
				coin, entries, ok := outputValue(o.Cbor(), nil)
				c, cok := outputCoin(o.Cbor())
				if ok && (!cok || c != coin) {
					t.Fatalf("output %x: coin %d (%v), value's coin %d", o.Cbor(), c, cok, coin)
				}
				if want := o.Amount(); cok && (want == nil || want.Cmp(new(big.Int).SetUint64(c)) != 0) {
					t.Fatalf("output %x: coin %d, gouroboros %v", o.Cbor(), c, want)
				}
				if !ok {
					continue
				}
				read++
				if got, want := entriesText(entries), gouroborosAssets(o.Assets()); !slices.Equal(got, want) {
					t.Fatalf("output %x: assets\n%v\nwant\n%v", o.Cbor(), got, want)
				}
			}
		}
	}
	if read < all*99/100 {
		t.Errorf("%d of %d outputs read from their CBOR", read, all)
	}
}

func TestReadMultiAsset(t *testing.T) {
	p1, p2 := strings.Repeat("11", 28), strings.Repeat("22", 28)
	tests := []struct {
		name, cbor string
		want       []string // nil: left to gouroboros
	}{
		{"sorted", "a2581c" + p1 + "a2410a01420a0b02" + "581c" + p2 + "a14003", []string{p1 + ".0a=1", p1 + ".0a0b=2", p2 + ".=3"}},
		{"policies out of order", "a2581c" + p2 + "a14003" + "581c" + p1 + "a1410a01", []string{p1 + ".0a=1", p2 + ".=3"}},
		{"names by length first", "a1581c" + p1 + "a2420a0b02410c01", []string{p1 + ".0c=1", p1 + ".0a0b=2"}},
		{"zero dropped", "a1581c" + p1 + "a2410a00410b05", []string{p1 + ".0b=5"}},
		{"empty policy", "a1581c" + p1 + "a0", []string{}},
		{"repeated policy", "a2581c" + p1 + "a1410a01" + "581c" + p1 + "a1410b01", nil},
		{"repeated name", "a1581c" + p1 + "a2410a01410a02", nil},
		{"big quantity", "a1581c" + p1 + "a1410ac249010000000000000000", nil},
		{"short policy", "a1581b" + p1[:54] + "a1410a01", nil},
		{"indefinite map", "bf581c" + p1 + "a1410a01ff", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := hex.DecodeString(tt.cbor)
			if err != nil {
				t.Fatal(err)
			}
			es, ok := readMultiAsset(raw, 0, nil)
			if tt.want == nil {
				if ok {
					t.Fatalf("read %v, want it left to gouroboros", entriesText(es))
				}
				return
			}
			if !ok {
				t.Fatal("not read")
			}
			got := entriesText(es)
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzReadMultiAsset: what the head-by-head reading gives, gouroboros
// decodes to the same assets.
func FuzzReadMultiAsset(f *testing.F) {
	p := strings.Repeat("11", 28)
	for _, s := range []string{"a1581c" + p + "a2410a01420a0b02", "a0", "a1581c" + p + "a2410a00410b05"} {
		raw, _ := hex.DecodeString(s)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		es, ok := readMultiAsset(raw, 0, nil)
		if !ok {
			return
		}
		var m common.MultiAsset[common.MultiAssetTypeOutput]
		if err := m.UnmarshalCBOR(raw); err != nil {
			return // what gouroboros rejects no block holds
		}
		if got, want := entriesText(es), gouroborosAssets(&m); !slices.Equal(got, want) {
			t.Fatalf("%x: read %v, gouroboros %v", raw, got, want)
		}
	})
}
