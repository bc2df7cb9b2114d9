package chain

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestTimelockJSON renders native scripts written by hand in CBOR as
// db-sync's script.json does (its Generic/Script.hs): every constructor,
// nesting, and a tag-258 set of scripts.
func TestTimelockJSON(t *testing.T) {
	key := strings.Repeat("ab", 28)
	for _, tc := range []struct{ name, cbor, want string }{
		{"sig", "8200581c" + key, `{"keyHash":"` + key + `","type":"sig"}`},
		{"after", "82041a00bc614e", `{"slot":12345678,"type":"after"}`},
		{"before", "820519ffff", `{"slot":65535,"type":"before"}`},
		{"all", "82018282051864" + "8200581c" + key, `{"scripts":[{"slot":100,"type":"before"},{"keyHash":"` + key + `","type":"sig"}],"type":"all"}`},
		{"any of a set", "8202d90102818200581c" + key, `{"scripts":[{"keyHash":"` + key + `","type":"sig"}],"type":"any"}`},
		{"atLeast", "830302828200581c" + key + "820400", `{"required":2,"scripts":[{"keyHash":"` + key + `","type":"sig"},{"slot":0,"type":"after"}],"type":"atLeast"}`},
		{"empty all", "820180", `{"scripts":[],"type":"all"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := hex.DecodeString(tc.cbor)
			if err != nil {
				t.Fatal(err)
			}
			got, err := timelockJSON(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "80", "8206", "8200", "820100", "8303"} {
		raw, _ := hex.DecodeString(bad)
		if got, err := timelockJSON(raw); err == nil {
			t.Errorf("%q: %s, want an error", bad, got)
		}
	}
}

// FuzzTimelockJSON: where the head-by-head reading answers, decoding the
// script gives the same text; it never panics.
func FuzzTimelockJSON(f *testing.F) {
	key := strings.Repeat("ab", 28)
	for _, s := range []string{
		"8200581c" + key, "82041a00bc614e", "82018282051864" + "8200581c" + key, "8202d90102818200581c" + key,
		"830302828200581c" + key + "820400", "820180", "8201818201818201818200581c" + key, "9f00ff", "8200f6",
	} {
		raw, _ := hex.DecodeString(s)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, _, ok := appendTimelockScan(nil, raw, 0, 0)
		if !ok {
			return
		}
		want, err := appendTimelock(nil, raw, 0)
		if err != nil {
			t.Fatalf("%x: read %s, decoding fails: %v", raw, got, err)
		}
		if string(got) != string(want) {
			t.Fatalf("%x: read %s, decoded %s", raw, got, want)
		}
	})
}
