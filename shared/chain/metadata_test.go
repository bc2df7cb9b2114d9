package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger/common"
)

// txMetadata reads a transaction's metadata map from its auxiliary data
// without the ledger decoder: label -> the value's CBOR. ok is false when the
// transaction has no metadata map.
func txMetadata(tb testing.TB, aux []byte) (labels map[uint64][]byte, ok bool) {
	tb.Helper()
	if aux == nil {
		return nil, false
	}
	var md []byte
	switch {
	case aux[0]&0xe0 == 0xa0: // Shelley: the metadata map itself
		md = aux
	case aux[0]&0xe0 == 0x80: // Allegra/Mary: [metadata, scripts]
		var parts []cbor.RawMessage
		mustDecode(tb, aux, &parts)
		md = parts[0]
	default: // Alonzo on: #6.259({0: metadata, ...})
		m := map[uint64]cbor.RawMessage{}
		mustDecode(tb, untag(aux, 259), &m)
		md = m[0]
	}
	if md == nil || bytes.Equal(md, []byte{0xf6}) {
		return nil, false
	}
	labels = map[uint64][]byte{}
	raw := map[uint64]cbor.RawMessage{}
	mustDecode(tb, md, &raw)
	for k, v := range raw {
		labels[k] = v
	}
	return labels, true
}

func TestMetadataRowsMatchFixtures(t *testing.T) {
	var blocksWithEmpty, rowsSeen int
	for _, fb := range loadIndex(t) {
		t.Run(fb.File, func(t *testing.T) {
			raw := fb.read(t)
			d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := map[string][]byte{} // tx hash + label -> bytes
			withMap, empty := 0, 0
			for _, tx := range splitBlock(t, fb.BlockType, raw) {
				labels, ok := txMetadata(t, tx.aux)
				if !ok {
					continue
				}
				withMap++
				if len(labels) == 0 {
					empty++
				}
				for k, v := range labels {
					want[hex.EncodeToString(tx.hash)+" "+big.NewInt(0).SetUint64(k).String()] = v
				}
			}
			if withMap != fb.Counts["metadata_txs"] {
				t.Errorf("independent txs with a metadata map %d, index.tsv %d", withMap, fb.Counts["metadata_txs"])
			}
			if empty > 0 {
				blocksWithEmpty++
			}

			got := map[string][]byte{}
			txs := map[string]bool{}
			for _, row := range d.Rows[TxMetadata] {
				rowsSeen++
				h := hex.EncodeToString(row[0].([]byte))
				txs[h] = true
				got[h+" "+row[1].(string)] = metadataValueOf(t, row)
				if row[2] != d.Slot {
					t.Errorf("slot %v, want %d", row[2], d.Slot)
				}
				text, ok := row[3].(string)
				if !ok || !json.Valid([]byte(text)) {
					t.Errorf("tx %s label %s: json %v is not valid JSON text", h, row[1], row[3])
				}
			}
			checkCount(t, "txs with tx_metadata rows", len(txs), fb.Counts["metadata_txs"], empty == 0)
			if len(txs) != withMap-empty {
				t.Errorf("txs with tx_metadata rows %d, want %d (%d with a map, %d empty)", len(txs), withMap-empty, withMap, empty)
			}
			compareMaps(t, "tx_metadata", got, want, bytes.Equal)
		})
	}
	t.Logf("%d tx_metadata rows; %d blocks have an empty metadata map", rowsSeen, blocksWithEmpty)
}

// TestMetadataSpotValues checks JSON of real metadata with integers past 64
// bits, byte-string keys and text keys, and its bytes against the raw block.
func TestMetadataSpotValues(t *testing.T) {
	for _, tc := range []struct {
		file, tx, label, json string
	}{
		{"mary/testnet-unknown_mary_slot23475099_1002afa1ca0c.cbor", "c3262509", "1302243434517352162",
			`["UJB3",-16236436627090480302]`},
		{"mary/testnet-unknown_mary_slot23475099_1002afa1ca0c.cbor", "c3262509", "1351859328329939190",
			`{"0x0e":"0x3bdefda92265","0x14ff8d":-13139667629422286119}`},
		{"mary/testnet-unknown_mary_slot23475099_1002afa1ca0c.cbor", "c3262509", "945845007538436815",
			`"0x4ebc4ea3b43bb0cc76bb326f17a30d8f"`},
		{"alonzo/mainnet_alonzo_slot46104248_9811acbdc17c.cbor", "932c3785", "7283", `{"action":"cancel"}`},
		{"conway/mainnet_conway_slot133692570_253b65488d3b.cbor", "403a4687", "674", `{"msg":"Tokeo"}`},
	} {
		t.Run(tc.file+"/"+tc.label, func(t *testing.T) {
			fb := fixtureByFile(t, tc.file)
			raw := fb.read(t)
			d, err := DecodeBlock(fb.network(), fb.BlockType, raw)
			if err != nil {
				t.Fatal(err)
			}
			var wantBytes []byte
			for _, tx := range splitBlock(t, fb.BlockType, raw) {
				if strings.HasPrefix(hex.EncodeToString(tx.hash), tc.tx) {
					labels, _ := txMetadata(t, tx.aux)
					for k, v := range labels {
						if big.NewInt(0).SetUint64(k).String() == tc.label {
							wantBytes = v
						}
					}
				}
			}
			if wantBytes == nil {
				t.Fatal("label not in the raw block")
			}
			for _, row := range d.Rows[TxMetadata] {
				if strings.HasPrefix(hex.EncodeToString(row[0].([]byte)), tc.tx) && row[1] == tc.label {
					if row[3] != tc.json {
						t.Errorf("json %v, want %s", row[3], tc.json)
					}
					if got := metadataValueOf(t, row); !bytes.Equal(got, wantBytes) {
						t.Errorf("bytes %x, want {%s: %x}", row[4], tc.label, wantBytes)
					}
					return
				}
			}
			t.Error("row not found")
		})
	}
}

// readChunk splits an ImmutableDB chunk into its [era tag, block] items.
func readChunk(tb testing.TB, path string) (types []uint, blocks [][]byte) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	for off := 0; off < len(data); {
		var item struct {
			cbor.StructAsArray
			Era   uint
			Block cbor.RawMessage
		}
		n, err := cbor.Decode(data[off:], &item)
		if err != nil {
			tb.Fatalf("chunk item at %d: %v", off, err)
		}
		types = append(types, item.Era)
		blocks = append(blocks, item.Block)
		off += n
	}
	return types, blocks
}

// TestMetadataConwayChunk checks DESIGN §6b on mainnet chunk 06189: 2,291
// transactions carry a metadata map, 1,963 of them with at least one label.
func TestMetadataConwayChunk(t *testing.T) {
	types, blocks := readChunk(t, filepath.Join(fixtureDir, "chains", "mainnet", "06189.chunk"))
	if len(blocks) != 1054 {
		t.Fatalf("%d blocks, want 1054", len(blocks))
	}
	withRows, withMap, rows := 0, 0, 0
	for i, raw := range blocks {
		d, err := DecodeBlock(Mainnet, types[i], raw)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		txs := map[string]bool{}
		for _, row := range d.Rows[TxMetadata] {
			txs[string(row[0].([]byte))] = true
			if s, ok := row[3].(string); !ok || !json.Valid([]byte(s)) {
				t.Errorf("block %d tx %x label %s: invalid json", i, row[0], row[1])
			}
		}
		rows += len(d.Rows[TxMetadata])
		withRows += len(txs)
		for _, tx := range splitBlock(t, types[i], raw) {
			if _, ok := txMetadata(t, tx.aux); ok {
				withMap++
			}
		}
	}
	if withRows != 1963 {
		t.Errorf("txs with tx_metadata rows %d, want 1963", withRows)
	}
	if withMap != 2291 {
		t.Errorf("txs with a metadata map %d, want 2291", withMap)
	}
	t.Logf("%d tx_metadata rows in %d txs", rows, withRows)
}

func metaInt(s string) common.MetaInt {
	v, _ := new(big.Int).SetString(s, 10)
	return common.MetaInt{Value: v}
}

func metaText(s string) common.MetaText { return common.MetaText{Value: s} }

func metaMap(kv ...common.TransactionMetadatum) common.MetaMap {
	var m common.MetaMap
	for i := 0; i+1 < len(kv); i += 2 {
		m.Pairs = append(m.Pairs, common.MetaPair{Key: kv[i], Value: kv[i+1]})
	}
	return m
}

func metaList(items ...common.TransactionMetadatum) common.MetaList {
	return common.MetaList{Items: items}
}

func TestMetadataJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		md   common.TransactionMetadatum
		want string
	}{
		{"int", metaInt("42"), `42`},
		{"negative int", metaInt("-7"), `-7`},
		{"uint64 max", metaInt("18446744073709551615"), `18446744073709551615`},
		{"past 64 bits", metaInt("-18446744073709551616"), `-18446744073709551616`},
		{"bytes", common.MetaBytes{Value: []byte{0xde, 0xad}}, `"0xdead"`},
		{"empty bytes", common.MetaBytes{}, `"0x"`},
		{"text", metaText("héllo 🌟"), `"héllo 🌟"`},
		{"escapes as aeson", metaText("a\"b\\c\nd\re\tf\x00g\x1fh\x7f<>&\u2028"),
			`"a\"b\\c\nd\re\tf\u0000g\u001fh` + "\x7f<>&\u2028" + `"`},
		{"invalid utf-8", metaText("a\xffb"), "\"a\uFFFDb\""},
		{"list", metaList(metaInt("1"), metaText("x"), metaList()), `[1,"x",[]]`},
		{"empty map", metaMap(), `{}`},
		{"sorted keys", metaMap(metaText("b"), metaInt("1"), metaText("a"), metaInt("2")), `{"a":2,"b":1}`},
		{"repeated key keeps last", metaMap(metaText("k"), metaInt("1"), metaText("k"), metaInt("2")), `{"k":2}`},
		{"int and bytes keys", metaMap(metaInt("-5"), metaText("n"), common.MetaBytes{Value: []byte{1}}, metaText("b")),
			`{"-5":"n","0x01":"b"}`},
		{"int key equal to text key", metaMap(metaInt("1"), metaText("int"), metaText("1"), metaText("text")), `{"1":"text"}`},
		{"list key", metaMap(metaList(metaInt("1"), metaText("a")), metaInt("0")), `{"[1,\"a\"]":0}`},
		{"map key", metaMap(metaMap(metaText("k"), metaText("v\n")), metaInt("0")), `{"{\"k\":\"v\\n\"}":0}`},
		{"pointers", &common.MetaList{Items: []common.TransactionMetadatum{&common.MetaInt{Value: big.NewInt(3)}}}, `[3]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := MetadataJSON(tc.md)
			if !ok {
				t.Fatal("not rendered")
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("invalid JSON %s", got)
			}
		})
	}
	for _, tc := range []struct {
		name string
		md   common.TransactionMetadatum
	}{
		{"nil", nil},
		{"nil int", common.MetaInt{}},
		{"nil pointer", (*common.MetaMap)(nil)},
		{"nil key", metaMap(nil, metaInt("1"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := MetadataJSON(tc.md); ok {
				t.Errorf("rendered %q", got)
			}
		})
	}
}

// TestMetadataJSONBounded: map keys that are maps nest their JSON text in
// strings, doubling the escapes at each level; the rendering gives up rather
// than grow without bound.
func TestMetadataJSONBounded(t *testing.T) {
	var md common.TransactionMetadatum = metaText(`"`)
	for range 40 {
		md = metaMap(md, metaInt("0"))
	}
	if got, ok := MetadataJSON(md); ok {
		t.Errorf("rendered %d bytes", len(got))
	}
	// Deep but small nesting renders.
	md = metaInt("1")
	for range 5000 {
		md = metaList(md)
	}
	got, ok := MetadataJSON(md)
	if !ok || len(got) != 10001 || !json.Valid([]byte(got)) {
		t.Errorf("deep list: ok %v, %d bytes", ok, len(got))
	}
}

// TestMetadataLabels: labels are Word64 on the ledger; anything else is an
// error, a repeated label keeps its last value, and an empty map gives no row.
func TestMetadataLabels(t *testing.T) {
	// As decoded from a block: every node carries its CBOR.
	decoded := func(tb testing.TB, m common.TransactionMetadatum, rawHex string) common.TransactionMetadatum {
		tb.Helper()
		b, _ := hex.DecodeString(rawHex)
		if m != nil {
			var err error
			if b, err = cbor.Encode(m); err != nil {
				tb.Fatal(err)
			}
		}
		md, err := common.DecodeMetadatumRaw(b)
		if err != nil {
			tb.Fatal(err)
		}
		return md
	}
	for _, tc := range []struct {
		name    string
		md      common.TransactionMetadatum
		rawHex  string // instead of md
		wantErr bool
		want    map[string]string // label -> json
	}{
		{"empty map", metaMap(), "", false, map[string]string{}},
		{"labels", metaMap(metaInt("0"), metaText("a"), metaInt("18446744073709551615"), metaInt("1")), "", false,
			map[string]string{"0": `"a"`, "18446744073709551615": `1`}},
		// {674: "first", 674: "last"}: the encoder refuses to write it.
		{"repeated label", nil, "a21902a26566697273741902a2646c617374", false,
			map[string]string{"674": `"last"`}},
		{"negative label", metaMap(metaInt("-1"), metaText("a")), "", true, nil},
		{"text label", metaMap(metaText("x"), metaText("a")), "", true, nil},
		{"not a map", metaList(metaInt("1")), "", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rows Rows
			c := &txCtx{blockCtx: &blockCtx{slot: 9, rows: &rows}, hash: []byte{1},
				tx: &metadataTx{md: decoded(t, tc.md, tc.rawHex)}}
			err := c.metadata()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			got := map[string]string{}
			for _, row := range rows[TxMetadata] {
				got[row[1].(string)] = row[3].(string)
			}
			if len(got) != len(rows[TxMetadata]) || len(got) != len(tc.want) {
				t.Fatalf("rows %v, want %v", rows[TxMetadata], tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("label %s: %s, want %s", k, got[k], v)
				}
			}
		})
	}
}

// metadataTx is a transaction that has only metadata.
type metadataTx struct {
	common.Transaction
	md common.TransactionMetadatum
}

func (t *metadataTx) Metadata() common.TransactionMetadatum { return t.md }

// metadataValueOf checks that a tx_metadata row's bytes are the CBOR of the
// one-entry map {key: value}, as db-sync's are, and returns the value's bytes.
func metadataValueOf(tb testing.TB, row []any) []byte {
	tb.Helper()
	pairs := mapPairs(tb, row[4].([]byte))
	if len(pairs) != 1 {
		tb.Fatalf("tx_metadata bytes %x: %d map entries, want 1", row[4], len(pairs))
	}
	var key uint64
	mustDecode(tb, pairs[0][0], &key)
	if strconv.FormatUint(key, 10) != row[1] {
		tb.Errorf("tx_metadata bytes key %d, row key %v", key, row[1])
	}
	return pairs[0][1]
}
