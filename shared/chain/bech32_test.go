package chain

import (
	"testing"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

// btcutilBech32 is what gouroboros computes: ConvertBits then Encode.
func btcutilBech32(tb testing.TB, hrp string, data []byte) string {
	tb.Helper()
	conv, err := bech32.ConvertBits(data, 8, 5, true)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := bech32.Encode(hrp, conv)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestBech32Encode(t *testing.T) {
	tests := []struct {
		name, hrp string
		data      []byte
	}{
		{"empty", "addr", nil},
		{"one byte", "stake", []byte{0xe1}},
		{"fingerprint", "asset", make([]byte, 20)},
		{"pool id", "pool", []byte("0123456789abcdefghijklmnopqr")},
		{"base address", "addr_test", append([]byte{0x00}, make([]byte, 56)...)},
		{"all ones", "drep_script", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"long", "addr", make([]byte, 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := bech32Encode(tt.hrp, tt.data), btcutilBech32(t, tt.hrp, tt.data); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func FuzzBech32Encode(f *testing.F) {
	f.Add("addr", []byte{0x01, 0x02, 0x03})
	f.Add("asset", make([]byte, 20))
	f.Add("stake_test", []byte{0xe0})
	f.Fuzz(func(t *testing.T, hrp string, data []byte) {
		for i := 0; i < len(hrp); i++ {
			if hrp[i] < '!' || hrp[i] > '~' || hrp[i] >= 'A' && hrp[i] <= 'Z' {
				t.Skip("hrps are lowercase ASCII")
			}
		}
		if got, want := bech32Encode(hrp, data), btcutilBech32(t, hrp, data); got != want {
			t.Fatalf("bech32Encode(%q, %x) = %s, want %s", hrp, data, got, want)
		}
	})
}
