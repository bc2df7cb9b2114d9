package chain

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/nectar-indexer/nectar/shared/immutable"
	"golang.org/x/crypto/blake2b"
)

// The era mapping agrees with gouroboros's own numbering of transactions and
// with the era names index.tsv gives each fixture block.
func TestEraOfBlockTypeAndTxType(t *testing.T) {
	for bt, want := range map[uint]string{0: "Byron", 1: "Byron", 2: "Shelley", 3: "Allegra", 4: "Mary", 5: "Alonzo", 6: "Babbage", 7: "Conway"} {
		e, ok := EraOfBlockType(bt)
		if !ok || e.String() != want {
			t.Errorf("block type %d: %v %v, want %s", bt, e, ok, want)
		}
	}
	if _, ok := EraOfBlockType(8); ok {
		t.Error("block type 8 (Dijkstra) mapped to an era Nectar does not decode")
	}
	for _, fb := range loadIndex(t) {
		d, err := DecodeBlock(fb.network(), fb.BlockType, fb.read(t))
		if err != nil {
			t.Fatalf("%s: %v", fb.File, err)
		}
		if d.Era.String() != fb.Era || cell(Block, d.Rows[Block][0], "era") != fb.Era {
			t.Errorf("%s: era %v (row %v), index.tsv %s", fb.File, d.Era, cell(Block, d.Rows[Block][0], "era"), fb.Era)
		}
	}
}

// eraFacts is what one era's real blocks showed, read from their raw CBOR.
type eraFacts struct{ blocks, txs, fees, invalid int }

// TestErasByName checks, era by era over every fixture block and every
// shipped chunk, the columns whose value depends on the era, against the
// blocks' raw CBOR read without the ledger decoder:
//   - tx.fee: NULL for Byron; the body's fee field (key 2) from Shelley on;
//     for a phase-2-invalid transaction its total_collateral (key 17) or NULL;
//   - tx.size: Byron: the transaction without its witnesses; from Shelley on
//     the transaction as the ledger sizes it ([body, witnesses, auxiliary
//     data or null], without Alonzo's validity flag);
//   - block.size: Byron: the whole block; from Shelley on the block body
//     (transaction bodies, witness sets, auxiliary data, invalid indices), the
//     size the header declares;
//   - block.block_no and epoch_slot_no: NULL for a Byron EBB only; proto 0.0 for it.
//
// Every era from Byron to Conway must have transactions among them.
func TestErasByName(t *testing.T) {
	facts := map[Era]*eraFacts{}
	check := func(t *testing.T, name string, net Network, blockType uint, raw []byte) {
		t.Helper()
		d, err := DecodeBlock(net, blockType, raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f := facts[d.Era]
		if f == nil {
			f = &eraFacts{}
			facts[d.Era] = f
		}
		f.blocks++
		checkBlockRow(t, name, d, raw)
		want := rawTxFacts(t, blockType, raw)
		if len(want) != len(d.Rows[Tx]) {
			t.Fatalf("%s: %d tx rows, %d transactions in the CBOR", name, len(d.Rows[Tx]), len(want))
		}
		for i, row := range d.Rows[Tx] {
			w := want[i]
			f.txs++
			if !bytes.Equal(row[0].([]byte), w.hash) {
				t.Errorf("%s tx %d: hash %x, CBOR %x", name, i, row[0], w.hash)
			}
			if got := cell(Tx, row, "fee"); fmt.Sprint(got) != fmt.Sprint(w.fee) {
				t.Errorf("%s (%s) tx %x: fee %v, CBOR %v", name, d.Era, w.hash, got, w.fee)
			} else if got != nil {
				f.fees++
			}
			if got := cell(Tx, row, "size"); got != w.size {
				t.Errorf("%s (%s) tx %x: size %v, CBOR %d", name, d.Era, w.hash, got, w.size)
			}
			if got := cell(Tx, row, "valid_contract"); got != !w.invalid {
				t.Errorf("%s tx %x: valid_contract %v, CBOR invalid %v", name, w.hash, got, w.invalid)
			}
			if w.invalid {
				f.invalid++
			}
		}
	}
	for _, fb := range loadIndex(t) {
		check(t, fb.File, fb.network(), fb.BlockType, fb.read(t))
	}
	for _, c := range []struct {
		dir string
		net Network
	}{{"mainnet", Mainnet}, {"preview", Preview}} {
		chunks, err := immutable.Chunks(filepath.Join(fixtureDir, "chains", c.dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range chunks {
			blocks, err := immutable.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range blocks {
				check(t, fmt.Sprintf("%s/%s block %d", c.dir, filepath.Base(path), i), c.net, b.Type, b.CBOR)
			}
		}
	}
	eras := make([]Era, 0, len(facts))
	for e := range facts {
		eras = append(eras, e)
	}
	sort.Slice(eras, func(i, j int) bool { return eras[i] < eras[j] })
	for _, e := range eras {
		f := facts[e]
		t.Logf("%-8s %6d blocks %6d txs %6d with a fee %3d invalid", e, f.blocks, f.txs, f.fees, f.invalid)
	}
	for e := EraByron; e <= EraConway; e++ {
		f := facts[e]
		switch {
		case f == nil || f.txs == 0:
			t.Errorf("no %s transaction in the shipped data", e)
		case e.HasFeeField() && f.fees == 0:
			t.Errorf("no %s transaction with a fee", e)
		case !e.HasFeeField() && f.fees != 0:
			t.Errorf("%d %s transactions with a fee", f.fees, e)
		}
	}
}

// checkBlockRow checks a block row's era-dependent columns against the raw block.
func checkBlockRow(t *testing.T, name string, d *Decoded, raw []byte) {
	t.Helper()
	row := d.Rows[Block][0]
	var parts []cbor.RawMessage
	mustDecode(t, raw, &parts)
	wantSize := uint64(len(raw))
	if d.Era >= EraShelley {
		wantSize = 0
		for _, p := range parts[1:] {
			wantSize += uint64(len(p))
		}
	}
	if got := cell(Block, row, "size"); got != wantSize {
		t.Errorf("%s (%s): block size %v, want %d", name, d.Era, got, wantSize)
	}
	ebb := d.BlockType == BlockTypeByronEBB
	if got := cell(Block, row, "block_no"); (got == nil) != ebb || (!ebb && got != d.BlockNo) {
		t.Errorf("%s: block_no %v (EBB %v)", name, got, ebb)
	}
	if got := cell(Block, row, "epoch_slot_no"); cell(Block, row, "epoch_no") != nil && (got == nil) != ebb {
		t.Errorf("%s: epoch_slot_no %v (EBB %v)", name, got, ebb)
	}
	if ebb && (cell(Block, row, "proto_major") != uint64(0) || cell(Block, row, "proto_minor") != uint64(0)) {
		t.Errorf("%s: EBB protocol %v.%v, want 0.0", name, cell(Block, row, "proto_major"), cell(Block, row, "proto_minor"))
	}
	if d.BlockType == BlockTypeByronMain {
		// [header, body, extra]; header = [magic, prev, proof, consensus, extra data];
		// extra data = [block version [major, minor, alt], software version, attrs, proof].
		var hdr, extra, version []cbor.RawMessage
		mustDecode(t, parts[0], &hdr)
		mustDecode(t, hdr[4], &extra)
		mustDecode(t, extra[0], &version)
		var major, minor uint64
		mustDecode(t, version[0], &major)
		mustDecode(t, version[1], &minor)
		if cell(Block, row, "proto_major") != major || cell(Block, row, "proto_minor") != minor {
			t.Errorf("%s: protocol %v.%v, header %d.%d", name, cell(Block, row, "proto_major"), cell(Block, row, "proto_minor"), major, minor)
		}
	}
}

// wantTx is what a transaction's raw CBOR says about its tx row.
type wantTx struct {
	hash    []byte
	fee     any // decimal string, or nil
	size    uint64
	invalid bool
}

// rawTxFacts reads a block's transactions from its CBOR with generic decoding only.
func rawTxFacts(tb testing.TB, blockType uint, raw []byte) []wantTx {
	tb.Helper()
	era, _ := EraOfBlockType(blockType)
	if era == EraByron {
		if blockType == BlockTypeByronEBB {
			return nil
		}
		var out []wantTx
		for _, tx := range byronTxs(tb, raw) {
			h := blake2b.Sum256(tx)
			out = append(out, wantTx{hash: h[:], size: uint64(len(tx))})
		}
		return out
	}
	var parts []cbor.RawMessage
	mustDecode(tb, raw, &parts)
	var bodies, wits []cbor.RawMessage
	mustDecode(tb, parts[1], &bodies)
	mustDecode(tb, parts[2], &wits)
	aux := map[uint64]cbor.RawMessage{}
	mustDecode(tb, parts[3], &aux)
	txs := splitBlock(tb, blockType, raw)
	out := make([]wantTx, len(txs))
	for i, tx := range txs {
		// The ledger's size (sizeTxF): [body, witnesses, aux or null], an
		// array head of one byte; from Alonzo on it leaves the validity flag
		// out (toCBORForSizeComputation), so that the fee does not depend on it.
		size := 1 + len(bodies[i]) + len(wits[i])
		if a, ok := aux[uint64(i)]; ok {
			size += len(a)
		} else {
			size++ // null
		}
		w := wantTx{hash: tx.hash, size: uint64(size), invalid: tx.invalid}
		if !tx.invalid {
			w.fee = uintText(tb, tx.body[2])
		} else if tc, ok := tx.body[17]; ok {
			w.fee = uintText(tb, tc)
		}
		out[i] = w
	}
	return out
}

func uintText(tb testing.TB, raw []byte) string {
	tb.Helper()
	var n uint64
	mustDecode(tb, raw, &n)
	return strconv.FormatUint(n, 10)
}

// byronTxs cuts the transactions ([inputs, outputs, attributes], without
// witnesses) out of a Byron main block: [header, [txPayload, ...], extra],
// txPayload = [[tx, witnesses], ...].
func byronTxs(tb testing.TB, raw []byte) []cbor.RawMessage {
	tb.Helper()
	var parts, body, payload []cbor.RawMessage
	mustDecode(tb, raw, &parts)
	mustDecode(tb, parts[1], &body)
	mustDecode(tb, body[0], &payload)
	out := make([]cbor.RawMessage, len(payload))
	for i, p := range payload {
		var aux []cbor.RawMessage
		mustDecode(tb, p, &aux)
		out[i] = aux[0]
	}
	return out
}

// rawOutputValue reads an output's lovelace: [address, value, ...] or
// {0: address, 1: value}; value = coin or [coin, assets].
func rawOutputValue(tb testing.TB, o []byte) *big.Int {
	tb.Helper()
	var v cbor.RawMessage
	if o[0]&0xe0 == 0xa0 {
		m := map[uint64]cbor.RawMessage{}
		mustDecode(tb, o, &m)
		v = m[1]
	} else {
		var a []cbor.RawMessage
		mustDecode(tb, o, &a)
		v = a[1]
	}
	if v[0]&0xe0 == 0x80 {
		var pair []cbor.RawMessage
		mustDecode(tb, v, &pair)
		v = pair[0]
	}
	var n uint64
	mustDecode(tb, v, &n)
	return new(big.Int).SetUint64(n)
}

// rawInputs reads a set of inputs [[txid, index], ...] as "txid#index" keys.
func rawInputs(tb testing.TB, raw []byte) map[string]bool {
	tb.Helper()
	out := map[string]bool{}
	for _, it := range items(tb, raw) {
		var in []cbor.RawMessage
		mustDecode(tb, it, &in)
		var index uint64
		mustDecode(tb, in[1], &index)
		out[hex.EncodeToString(byteString(tb, in[0]))+"#"+strconv.FormatUint(index, 10)] = true
	}
	return out
}
