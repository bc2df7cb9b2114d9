package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger/common"
	"golang.org/x/crypto/blake2b"
)

// rawTx is one transaction of a block, cut out of the block's CBOR without
// the ledger decoder.
type rawTx struct {
	hash      []byte
	body      map[uint64]cbor.RawMessage
	witnesses map[uint64]cbor.RawMessage
	aux       cbor.RawMessage // nil without auxiliary data
	invalid   bool            // listed in the block's invalid transactions (phase 2 failed)
}

// rawScript is a script as the ledger hashes it.
type rawScript struct {
	typ   string
	bytes []byte
}

// splitBlock cuts a Shelley-or-later block into transactions with
// gouroboros/cbor only: [header, bodies, witness sets, aux data, invalid].
func splitBlock(tb testing.TB, blockType uint, raw []byte) []rawTx {
	tb.Helper()
	if era, ok := EraOfBlockType(blockType); !ok || era < EraShelley {
		return nil
	}
	var parts []cbor.RawMessage
	mustDecode(tb, raw, &parts)
	var bodies, wits []cbor.RawMessage
	mustDecode(tb, parts[1], &bodies)
	mustDecode(tb, parts[2], &wits)
	aux := map[uint64]cbor.RawMessage{}
	mustDecode(tb, parts[3], &aux)
	invalid := map[uint64]bool{}
	if len(parts) > 4 { // Alonzo on: [header, bodies, witness sets, aux data, invalid indices]
		var idx []uint64
		mustDecode(tb, parts[4], &idx)
		for _, i := range idx {
			invalid[i] = true
		}
	}
	txs := make([]rawTx, len(bodies))
	for i := range bodies {
		h := blake2b.Sum256(bodies[i])
		txs[i] = rawTx{hash: h[:], body: map[uint64]cbor.RawMessage{}, witnesses: map[uint64]cbor.RawMessage{}, invalid: invalid[uint64(i)]}
		mustDecode(tb, bodies[i], &txs[i].body)
		mustDecode(tb, wits[i], &txs[i].witnesses)
		if a, ok := aux[uint64(i)]; ok && !bytes.Equal(a, []byte{0xf6}) {
			txs[i].aux = a
		}
	}
	return txs
}

func mustDecode(tb testing.TB, raw []byte, dst any) {
	tb.Helper()
	if _, err := cbor.Decode(raw, dst); err != nil {
		tb.Fatalf("decode %x...: %v", raw[:min(len(raw), 16)], err)
	}
}

// untag strips a CBOR tag head with the given number (258: set, 24: embedded
// CBOR, 259: auxiliary data map) if the item starts with one.
func untag(raw []byte, number uint64) []byte {
	var head []byte
	switch {
	case number < 24:
		head = []byte{0xc0 | byte(number)}
	case number < 256:
		head = []byte{0xd8, byte(number)}
	default:
		head = []byte{0xd9, byte(number >> 8), byte(number)}
	}
	if bytes.HasPrefix(raw, head) {
		return raw[len(head):]
	}
	return raw
}

// items returns the elements of a CBOR array or tag-258 set.
func items(tb testing.TB, raw []byte) []cbor.RawMessage {
	tb.Helper()
	if raw == nil {
		return nil
	}
	var out []cbor.RawMessage
	mustDecode(tb, untag(raw, 258), &out)
	return out
}

func byteString(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	var b []byte
	mustDecode(tb, raw, &b)
	return b
}

// mapPairs returns the key and value items of a definite-length CBOR map.
func mapPairs(tb testing.TB, raw []byte) [][2]cbor.RawMessage {
	tb.Helper()
	if len(raw) == 0 || raw[0]&0xe0 != 0xa0 {
		tb.Fatalf("not a map: %x", raw[:min(len(raw), 8)])
	}
	var n, off int
	switch ai := raw[0] & 0x1f; {
	case ai < 24:
		n, off = int(ai), 1
	case ai == 24:
		n, off = int(raw[1]), 2
	case ai == 25:
		n, off = int(raw[1])<<8|int(raw[2]), 3
	default:
		tb.Fatalf("unsupported map head %x", raw[:min(len(raw), 8)])
	}
	pairs := make([][2]cbor.RawMessage, n)
	for i := range pairs {
		for j := range 2 {
			k, err := cbor.Decode(raw[off:], &pairs[i][j])
			if err != nil {
				tb.Fatalf("map item %d: %v", i, err)
			}
			off += k
		}
	}
	return pairs
}

// wantRedeemer is a redeemer row's content: mem, steps and data.
type wantRedeemer struct {
	mem, steps uint64
	data       []byte
}

var purposeNames = []string{"spend", "mint", "cert", "reward", "voting", "proposing"}

func scriptHashOf(tag byte, b []byte) string {
	h, _ := blake2b.New(28, nil)
	h.Write([]byte{tag})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// plutusKeys maps witness-set keys of Plutus scripts to their language tag and type.
var plutusKeys = []struct {
	key uint64
	tag byte
	typ string
}{{3, 1, "plutusV1"}, {6, 2, "plutusV2"}, {7, 3, "plutusV3"}}

// wantWitnesses is what the witness sets and outputs of a block hold, read
// independently of the ledger decoder.
type wantWitnesses struct {
	datums  map[string][]byte    // hash -> bytes: witness and inline datums
	scripts map[string]rawScript // hash -> script: witness and reference scripts

	witnessDatums, plutus, native  int // occurrences, as index.tsv counts them
	witnessDatumsDistinct          int // distinct hashes over the block
	plutusDistinct, nativeDistinct int
	redeemers                      int
	redeemerRows                   map[string]wantRedeemer // tx hash, purpose, index
	inline, refScripts             int
	rowInline, rowRefs             int             // outputs that are rows (tx_out, collateral_tx_out) with an inline datum / reference script
	auxScripts                     int             // scripts in auxiliary data (index.tsv does not count them)
	signers                        map[string]bool // tx hash + key hash
	scriptSize                     map[string]uint64
}

// readWitnesses reads the witnesses of a block's transactions. Occurrence
// counts cover every transaction, as index.tsv counts them; the expected
// rows follow the ledger: a phase-2-invalid transaction contributes only its
// collateral return's inline datum and reference script (db-sync keeps
// nothing else of it).
func readWitnesses(tb testing.TB, txs []rawTx) wantWitnesses {
	tb.Helper()
	w := wantWitnesses{datums: map[string][]byte{}, scripts: map[string]rawScript{},
		signers: map[string]bool{}, scriptSize: map[string]uint64{}, redeemerRows: map[string]wantRedeemer{}}
	witDatums, plutus, native := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, tx := range txs {
		rows := !tx.invalid
		for _, d := range items(tb, tx.witnesses[4]) {
			h := blake2b.Sum256(d)
			if rows {
				w.datums[hex.EncodeToString(h[:])] = d
			}
			witDatums[hex.EncodeToString(h[:])] = true
			w.witnessDatums++
		}
		for _, s := range items(tb, tx.witnesses[1]) {
			h := scriptHashOf(0, s)
			if rows {
				w.scripts[h] = rawScript{"timelock", s}
			}
			native[h] = true
			w.native++
		}
		for h, sc := range auxScriptsOf(tb, tx.aux) {
			if rows {
				w.scripts[h] = sc
			}
			w.auxScripts++
		}
		txPlutus := map[string]bool{}
		for _, k := range plutusKeys {
			for _, s := range items(tb, tx.witnesses[k.key]) {
				b := byteString(tb, s)
				h := scriptHashOf(k.tag, b)
				if rows {
					w.scripts[h] = rawScript{k.typ, b}
				}
				plutus[h] = true
				w.plutus++
				if !txPlutus[h] {
					txPlutus[h] = true
					w.scriptSize[hex.EncodeToString(tx.hash)] += uint64(len(b))
				}
			}
		}
		if r := tx.witnesses[5]; r != nil {
			// Conway: {[tag, index]: [data, ex_units]}; before: [[tag, index, data, ex_units]].
			var entries [][]cbor.RawMessage
			if r[0]&0xe0 == 0xa0 {
				for _, kv := range mapPairs(tb, r) {
					var k, v []cbor.RawMessage
					mustDecode(tb, kv[0], &k)
					mustDecode(tb, kv[1], &v)
					entries = append(entries, append(k, v...))
				}
			} else {
				for _, it := range items(tb, r) {
					var e []cbor.RawMessage
					mustDecode(tb, it, &e)
					entries = append(entries, e)
				}
			}
			w.redeemers += len(entries)
			for _, e := range entries {
				var tag, index uint64
				var units []uint64
				mustDecode(tb, e[0], &tag)
				mustDecode(tb, e[1], &index)
				mustDecode(tb, e[3], &units)
				key := fmt.Sprintf("%x %s %d", tx.hash, purposeNames[tag], index)
				if rows {
					w.redeemerRows[key] = wantRedeemer{units[0], units[1], e[2]} // a repeated key: the last wins
				}
			}
		}
		if rows {
			for _, s := range items(tb, tx.body[14]) {
				w.signers[hex.EncodeToString(tx.hash)+hex.EncodeToString(byteString(tb, s))] = true
			}
		}
		for _, o := range items(tb, tx.body[1]) {
			w.readOutput(tb, o, rows)
		}
		if cr, ok := tx.body[16]; ok {
			w.readOutput(tb, cr, true) // collateral_tx_out of a valid tx, tx_out of an invalid one
		}
	}
	w.witnessDatumsDistinct, w.plutusDistinct, w.nativeDistinct = len(witDatums), len(plutus), len(native)
	return w
}

// auxScriptsOf reads the scripts of a transaction's auxiliary data, by hash:
// Allegra's [metadata, [native scripts]] or Alonzo's tag-259 map
// {1: native, 2: Plutus V1, 3: V2, 4: V3}. Shelley's bare metadata map has none.
func auxScriptsOf(tb testing.TB, aux []byte) map[string]rawScript {
	tb.Helper()
	out := map[string]rawScript{}
	switch {
	case len(aux) == 0:
	case aux[0]&0xe0 == 0x80:
		var parts []cbor.RawMessage
		mustDecode(tb, aux, &parts)
		if len(parts) > 1 {
			for _, s := range items(tb, parts[1]) {
				out[scriptHashOf(0, s)] = rawScript{"timelock", s}
			}
		}
	case bytes.HasPrefix(aux, []byte{0xd9, 0x01, 0x03}):
		m := map[uint64]cbor.RawMessage{}
		mustDecode(tb, untag(aux, 259), &m)
		for _, s := range items(tb, m[1]) {
			out[scriptHashOf(0, s)] = rawScript{"timelock", s}
		}
		for _, k := range plutusKeys {
			for _, s := range items(tb, m[uint64(k.tag)+1]) {
				b := byteString(tb, s)
				out[scriptHashOf(k.tag, b)] = rawScript{k.typ, b}
			}
		}
	}
	return out
}

// readOutput records the inline datum and reference script of a post-Babbage
// (map-shaped) output.
func (w *wantWitnesses) readOutput(tb testing.TB, o []byte, row bool) {
	tb.Helper()
	if o[0]&0xe0 != 0xa0 {
		return // legacy array output: no inline datum, no script
	}
	out := map[uint64]cbor.RawMessage{}
	mustDecode(tb, o, &out)
	if opt, ok := out[2]; ok {
		var pair []cbor.RawMessage
		mustDecode(tb, opt, &pair)
		if bytes.Equal(pair[0], []byte{0x01}) {
			d := byteString(tb, untag(pair[1], 24))
			h := blake2b.Sum256(d)
			w.inline++
			if row {
				w.datums[hex.EncodeToString(h[:])] = d
				w.rowInline++
			}
		}
	}
	if ref, ok := out[3]; ok {
		var pair []cbor.RawMessage
		mustDecode(tb, byteString(tb, untag(ref, 24)), &pair)
		var lang uint64
		mustDecode(tb, pair[0], &lang)
		w.refScripts++
		if !row {
			return
		}
		w.rowRefs++
		if lang == 0 {
			w.scripts[scriptHashOf(0, pair[1])] = rawScript{"timelock", pair[1]}
		} else {
			b := byteString(tb, pair[1])
			w.scripts[scriptHashOf(byte(lang), b)] = rawScript{[]string{"", "plutusV1", "plutusV2", "plutusV3"}[lang], b}
		}
	}
}

func TestWitnessRowsMatchFixtures(t *testing.T) {
	var withDatums, withScripts, withRedeemers, withRepeats, withAuxScripts int
	for _, fb := range loadIndex(t) {
		t.Run(fb.File, func(t *testing.T) {
			raw := fb.read(t)
			d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := readWitnesses(t, splitBlock(t, fb.BlockType, raw))

			// The independent reading agrees with index.tsv's occurrence counts.
			for _, c := range []struct {
				name string
				got  int
			}{{"witness_datums", want.witnessDatums}, {"plutus_scripts", want.plutus},
				{"native_scripts", want.native}, {"redeemers", want.redeemers},
				{"inline_datums", want.inline}, {"ref_scripts", want.refScripts}} {
				if c.got != fb.Counts[c.name] {
					t.Errorf("independent %s %d, index.tsv %d", c.name, c.got, fb.Counts[c.name])
				}
			}

			// Rows against the independent reading, with the ledger's
			// semantics for invalid transactions (index.tsv counts every
			// transaction's witnesses, so it agrees when none is invalid).
			if got := len(d.Rows[Redeemer]); got != len(want.redeemerRows) {
				t.Errorf("redeemer rows %d, independent %d", got, len(want.redeemerRows))
			}
			if fb.Counts["invalid_txs"] == 0 && len(want.redeemerRows) != fb.Counts["redeemers"] {
				t.Errorf("independent redeemer rows %d, index.tsv %d", len(want.redeemerRows), fb.Counts["redeemers"])
			}
			var inline, refs int
			for _, tab := range []TableID{TxOut, CollateralTxOut} {
				for _, row := range d.Rows[tab] {
					if cell(tab, row, "inline_datum_hash") != nil {
						inline++
						if !bytes.Equal(cell(tab, row, "data_hash").([]byte), cell(tab, row, "inline_datum_hash").([]byte)) {
							t.Errorf("output %x#%v: data_hash %x, inline datum %x", row[0], row[1], cell(tab, row, "data_hash"), cell(tab, row, "inline_datum_hash"))
						}
					}
					if cell(tab, row, "reference_script_hash") != nil {
						refs++
					}
				}
			}
			if inline != want.rowInline {
				t.Errorf("outputs with an inline datum %d, independent %d", inline, want.rowInline)
			}
			if refs != want.rowRefs {
				t.Errorf("outputs with a reference script %d, independent %d", refs, want.rowRefs)
			}
			byType := map[string]int{}
			for _, row := range d.Rows[Script] {
				byType[row[1].(string)]++
			}
			plutusRows := byType["plutusV1"] + byType["plutusV2"] + byType["plutusV3"]
			// Datum and script rows also hold inline datums and reference
			// scripts; with none of those, they are the witness set's alone.
			if fb.Counts["inline_datums"] == 0 && fb.Counts["invalid_txs"] == 0 {
				checkCount(t, "datum rows", len(d.Rows[Datum]), fb.Counts["witness_datums"], want.witnessDatums == want.witnessDatumsDistinct)
			}
			if fb.Counts["ref_scripts"] == 0 && want.auxScripts == 0 && fb.Counts["invalid_txs"] == 0 {
				checkCount(t, "plutus script rows", plutusRows, fb.Counts["plutus_scripts"], want.plutus == want.plutusDistinct)
				checkCount(t, "timelock script rows", byType["timelock"], fb.Counts["native_scripts"], want.native == want.nativeDistinct)
			}
			if want.witnessDatums != want.witnessDatumsDistinct || want.plutus != want.plutusDistinct || want.native != want.nativeDistinct {
				withRepeats++
			}

			// Exact contents against the independent reading.
			gotDatums := map[string][]byte{}
			for _, row := range d.Rows[Datum] {
				if row[1] != d.Slot {
					t.Errorf("datum slot %v, want %d", row[1], d.Slot)
				}
				gotDatums[hex.EncodeToString(row[0].([]byte))] = row[2].([]byte)
			}
			compareMaps(t, "datum", gotDatums, want.datums, bytes.Equal)
			gotScripts := map[string]rawScript{}
			for _, row := range d.Rows[Script] {
				gotScripts[hex.EncodeToString(row[0].([]byte))] = rawScript{row[1].(string), scriptBytes(t, row)}
			}
			compareMaps(t, "script", gotScripts, want.scripts, func(a, b rawScript) bool {
				return a.typ == b.typ && bytes.Equal(a.bytes, b.bytes)
			})
			gotSigners := map[string]bool{}
			for _, row := range d.Rows[ExtraKeyWitness] {
				gotSigners[hex.EncodeToString(row[0].([]byte))+hex.EncodeToString(row[1].([]byte))] = true
			}
			compareMaps(t, "extra_key_witness", gotSigners, want.signers, func(a, b bool) bool { return a == b })
			for _, row := range d.Rows[Tx] {
				h := hex.EncodeToString(row[0].([]byte))
				if got := cell(Tx, row, "script_size"); got != want.scriptSize[h] {
					t.Errorf("tx %s script_size %v, want %d", h, got, want.scriptSize[h])
				}
			}
			gotRedeemers := map[string]wantRedeemer{}
			for _, row := range d.Rows[Redeemer] {
				gotRedeemers[fmt.Sprintf("%x %s %d", row[0], row[1], row[2])] = wantRedeemer{row[4].(uint64), row[5].(uint64), row[7].([]byte)}
			}
			compareMaps(t, "redeemer", gotRedeemers, want.redeemerRows, func(a, b wantRedeemer) bool {
				return a.mem == b.mem && a.steps == b.steps && bytes.Equal(a.data, b.data)
			})
			for _, row := range d.Rows[Redeemer] {
				data := row[7].([]byte)
				if h := blake2b.Sum256(data); !bytes.Equal(row[6].([]byte), h[:]) {
					t.Errorf("redeemer data_hash %x, blake2b-256 of data %x", row[6], h)
				}
				switch row[1] {
				case "spend", "mint", "cert", "reward", "voting", "proposing":
				default:
					t.Errorf("redeemer purpose %v", row[1])
				}
			}
			if len(want.datums) > 0 {
				withDatums++
			}
			if len(want.scripts) > 0 {
				withScripts++
			}
			if want.redeemers > 0 {
				withRedeemers++
			}
			if want.auxScripts > 0 {
				withAuxScripts++
			}
		})
	}
	t.Logf("blocks with datums %d, scripts %d (in auxiliary data %d), redeemers %d, repeated witnesses %d",
		withDatums, withScripts, withAuxScripts, withRedeemers, withRepeats)
	if withRepeats == 0 {
		t.Error("no fixture block repeats a witness: the dedup path is untested")
	}
	if withAuxScripts == 0 {
		t.Error("no fixture block carries a script in its auxiliary data: that path is untested")
	}
}

// checkCount asserts got <= want, and got == want when nothing repeats.
func checkCount(t *testing.T, name string, got, want int, noRepeats bool) {
	t.Helper()
	if got > want || (noRepeats && got != want) {
		t.Errorf("%s %d, index.tsv %d (no repeats: %v)", name, got, want, noRepeats)
	}
}

func compareMaps[V any](t *testing.T, what string, got, want map[string]V, eq func(a, b V) bool) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s %s missing", what, k)
		} else if !eq(g, w) {
			t.Errorf("%s %s differs", what, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s %s unexpected", what, k)
		}
	}
}

// TestWitnessRepeatsCollapse checks a block whose witness sets repeat a
// datum or script: each is one row, and the tx's script_size counts it once.
func TestWitnessRepeatsCollapse(t *testing.T) {
	found := false
	for _, fb := range loadIndex(t) {
		raw := fb.read(t)
		txs := splitBlock(t, fb.BlockType, raw)
		for _, tx := range txs {
			seen := map[string]int{}
			for _, k := range []uint64{1, 3, 4, 6, 7} {
				for _, it := range items(t, tx.witnesses[k]) {
					seen[string(it)]++
				}
			}
			repeats := 0
			for _, n := range seen {
				if n > 1 {
					repeats++
				}
			}
			if repeats == 0 {
				continue
			}
			found = true
			d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
			if err != nil {
				t.Fatalf("%s: %v", fb.File, err)
			}
			keys := map[string]bool{}
			for _, tab := range []TableID{Datum, Script} {
				for _, row := range d.Rows[tab] {
					k := Key(tab, row)
					if keys[k] {
						t.Errorf("%s: %s row %x twice", fb.File, Tables[tab].Name, row[0])
					}
					keys[k] = true
				}
			}
			t.Logf("%s: tx %x repeats %d witness items", fb.File, tx.hash, repeats)
		}
	}
	if !found {
		t.Error("no fixture repeats a witness item: the fixtures changed")
	}
}

// TestWitnessSpotValues checks concrete hashes computed by hand from one
// fixture block's bytes.
func TestWitnessSpotValues(t *testing.T) {
	fb := fixtureByFile(t, "alonzo/mainnet_alonzo_slot67283737_4eb14e80bc66.cbor")
	raw := fb.read(t)
	d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
	if err != nil {
		t.Fatal(err)
	}
	txs := splitBlock(t, fb.BlockType, raw)
	// First witness datum of the block, and its hash, from the raw bytes.
	var datum, script []byte
	var scriptTag byte
	for _, tx := range txs {
		if ds := items(t, tx.witnesses[4]); datum == nil && len(ds) > 0 {
			datum = ds[0]
		}
		if ss := items(t, tx.witnesses[3]); script == nil && len(ss) > 0 {
			script, scriptTag = byteString(t, ss[0]), 1
		}
	}
	if datum == nil || script == nil {
		t.Fatal("fixture has no witness datum or Plutus V1 script")
	}
	dh := blake2b.Sum256(datum)
	found := false
	for _, row := range d.Rows[Datum] {
		if bytes.Equal(row[0].([]byte), dh[:]) {
			found = bytes.Equal(row[2].([]byte), datum)
		}
	}
	if !found {
		t.Errorf("datum %x with its bytes not in rows", dh)
	}
	sh := scriptHashOf(scriptTag, script)
	found = false
	for _, row := range d.Rows[Script] {
		if hex.EncodeToString(row[0].([]byte)) == sh {
			found = row[1] == "plutusV1" && bytes.Equal(scriptBytes(t, row), script)
		}
	}
	if !found {
		t.Errorf("plutusV1 script %s not in rows", sh)
	}
	// The same values, computed once with Python's hashlib over these bytes.
	if got := hex.EncodeToString(dh[:]); got != "a748942cb211b4e5cb288783f49c0b1a1a3c33822db62a50105f4b8adbb164d8" {
		t.Errorf("first witness datum hash %s", got)
	}
	if sh != "39a1eb3db6faeb44e5e5ac3c902ef28d285869ec47596e0507727722" {
		t.Errorf("first Plutus V1 script hash %s", sh)
	}
}

func fixtureByFile(tb testing.TB, file string) fixtureBlock {
	tb.Helper()
	for _, fb := range loadIndex(tb) {
		if fb.File == file {
			return fb
		}
	}
	tb.Fatalf("fixture %s not in index", file)
	return fixtureBlock{}
}

func TestAddScriptTypes(t *testing.T) {
	native := common.NativeScript{}
	// [0, h'00..'] : a pubkey native script.
	nativeCbor, _ := hex.DecodeString("8200581c" + "00112233445566778899aabbccddeeff00112233445566778899aabb")
	if err := native.UnmarshalCBOR(nativeCbor); err != nil {
		t.Fatal(err)
	}
	plutus := []byte{0x46, 0x01, 0x00, 0x00, 0x22, 0x20, 0x01}
	for _, tc := range []struct {
		name  string
		s     common.Script
		typ   string
		tag   byte
		bytes []byte
	}{
		{"timelock", native, "timelock", 0, nativeCbor},
		{"timelock pointer", &native, "timelock", 0, nativeCbor},
		{"plutusV1", common.PlutusV1Script(plutus), "plutusV1", 1, plutus},
		{"plutusV2", common.PlutusV2Script(plutus), "plutusV2", 2, plutus},
		{"plutusV3", common.PlutusV3Script(plutus), "plutusV3", 3, plutus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rows Rows
			c := &txCtx{blockCtx: &blockCtx{slot: 7, rows: &rows}}
			h := c.addScript(tc.s)
			if want := scriptHashOf(tc.tag, tc.bytes); hex.EncodeToString(h) != want {
				t.Fatalf("hash %x, want %s", h, want)
			}
			if len(rows[Script]) != 1 {
				t.Fatalf("%d script rows", len(rows[Script]))
			}
			row := rows[Script][0]
			if row[1] != tc.typ || row[2] != uint64(7) || !bytes.Equal(scriptBytes(t, row), tc.bytes) {
				t.Errorf("row %v", row)
			}
		})
	}
	var rows Rows
	c := &txCtx{blockCtx: &blockCtx{rows: &rows}}
	if h := c.addScript(nil); h != nil || len(rows[Script]) != 0 {
		t.Errorf("nil script: hash %x, %d rows", h, len(rows[Script]))
	}
	if h := c.addDatum(nil); h != nil || len(rows[Datum]) != 0 {
		t.Errorf("nil datum: hash %x, %d rows", h, len(rows[Datum]))
	}
}

// scriptBytes returns the bytes a script row keeps, after checking the row
// has db-sync's columns: a Plutus script its bytes and serialised_size (their
// length), a native script neither, its json and its CBOR in timelock_cbor.
func scriptBytes(tb testing.TB, row []any) []byte {
	tb.Helper()
	js, size, b, native := cell(Script, row, "json"), cell(Script, row, "serialised_size"), cell(Script, row, "bytes"), cell(Script, row, "timelock_cbor")
	if row[1] == scriptTypeTimelock {
		if size != nil || b != nil {
			tb.Errorf("timelock script %x: serialised_size %v, bytes %x: want NULL", row[0], size, b)
		}
		if s, ok := js.(string); !ok || !json.Valid([]byte(s)) {
			tb.Errorf("timelock script %x: json %v", row[0], js)
		}
		return native.([]byte)
	}
	if js != nil || native != nil {
		tb.Errorf("%v script %x: json %v, timelock_cbor %x: want NULL", row[1], row[0], js, native)
	}
	if size != uint64(len(b.([]byte))) {
		tb.Errorf("script %x serialised_size %v, bytes %d", row[0], size, len(b.([]byte)))
	}
	return b.([]byte)
}
