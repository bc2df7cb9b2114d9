package chain

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nectar-indexer/nectar/shared/immutable"
)

// summaryChunk is one row of testdata/chains/SUMMARY.tsv, written from the
// chunks by the fixtures' provenance tooling, not by this decoder.
type summaryChunk struct {
	dir, chunk                string
	blocks, txs               int
	firstHash, lastHash       string
	firstBlockNo, lastBlockNo uint64
}

func loadSummary(tb testing.TB) []summaryChunk {
	tb.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, "chains", "SUMMARY.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var header []string
	var out []summaryChunk
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = cols
			continue
		}
		r := map[string]string{}
		for i, h := range header {
			r[h] = cols[i]
		}
		n := func(k string) uint64 {
			v, err := strconv.ParseUint(r[k], 10, 64)
			if err != nil {
				tb.Fatalf("SUMMARY.tsv %s %s: %v", r["chunk"], k, err)
			}
			return v
		}
		out = append(out, summaryChunk{dir: r["dir"], chunk: r["chunk"], blocks: int(n("blocks")), txs: int(n("txs")),
			firstHash: r["first_hash"], lastHash: r["last_hash"], firstBlockNo: n("first_block_no"), lastBlockNo: n("last_block_no")})
	}
	return out
}

func summaryNetwork(dir string) Network {
	if strings.HasPrefix(dir, "mainnet") {
		return Mainnet
	}
	return Preview
}

// The known fee total of mainnet chunk 00500 (Shelley): 701 transactions
// paying 168,985,399 lovelace (issue 10, from an independent reading).
const (
	shelleyChunkTxs  = 701
	shelleyChunkFees = 168985399
)

// TestShippedChunksMatchSummary decodes every shipped chunk and checks it
// against SUMMARY.tsv: block and transaction counts, first and last hash and
// block number; and the Shelley chunk's fee total.
func TestShippedChunksMatchSummary(t *testing.T) {
	for _, s := range loadSummary(t) {
		t.Run(s.dir+"/"+s.chunk, func(t *testing.T) {
			blocks, err := immutable.ReadFile(filepath.Join(fixtureDir, "chains", s.dir, s.chunk))
			if err != nil {
				t.Fatal(err)
			}
			if len(blocks) != s.blocks {
				t.Fatalf("%d blocks, SUMMARY.tsv %d", len(blocks), s.blocks)
			}
			txs := 0
			fees := new(big.Int)
			var eras []string
			for i, b := range blocks {
				d, err := DecodeBlock(summaryNetwork(s.dir), b.Type, b.CBOR)
				if err != nil {
					t.Fatalf("block %d: %v", i, err)
				}
				if i == 0 && (hex.EncodeToString(d.Hash) != s.firstHash || d.BlockNo != s.firstBlockNo) {
					t.Errorf("first block %x #%d, SUMMARY.tsv %s #%d", d.Hash, d.BlockNo, s.firstHash, s.firstBlockNo)
				}
				if i == len(blocks)-1 && (hex.EncodeToString(d.Hash) != s.lastHash || d.BlockNo != s.lastBlockNo) {
					t.Errorf("last block %x #%d, SUMMARY.tsv %s #%d", d.Hash, d.BlockNo, s.lastHash, s.lastBlockNo)
				}
				if len(eras) == 0 || eras[len(eras)-1] != d.Era.String() {
					eras = append(eras, d.Era.String())
				}
				txs += len(d.Rows[Tx])
				for _, row := range d.Rows[Tx] {
					if f, ok := cell(Tx, row, "fee").(string); ok {
						n, _ := new(big.Int).SetString(f, 10)
						fees.Add(fees, n)
					}
				}
			}
			if txs != s.txs {
				t.Errorf("%d transactions, SUMMARY.tsv %d", txs, s.txs)
			}
			t.Logf("%s: %d blocks, %d txs, eras %v, fees %s", s.chunk, len(blocks), txs, eras, fees)
			if s.dir == "mainnet-shelley" || (strings.HasPrefix(s.dir, "mainnet") && s.chunk == "00500.chunk") {
				if txs != shelleyChunkTxs || fees.Cmp(big.NewInt(shelleyChunkFees)) != 0 {
					t.Errorf("Shelley chunk: %d txs paying %s, want %d paying %d", txs, fees, shelleyChunkTxs, shelleyChunkFees)
				}
			}
		})
	}
}

// previewInvalidTxs is the number of phase-2-invalid transactions in the
// shipped preview chain (issue 10; the raw reading below counts them too).
const previewInvalidTxs = 19

// TestPreviewInvalidTransactions finds the phase-2-invalid transactions of
// the preview chain from the blocks' raw CBOR (the invalid-transactions list
// of each block), and checks that their rows follow the ledger as db-sync
// stores them: tx_in is the collateral inputs, tx_out only the collateral
// return at index = the number of body outputs, fee the total_collateral (or
// NULL), out_sum the return's value, and no row of any other table but the
// return's assets. The collateral taken, computed from the outputs the chain
// created before, equals total_collateral where the body declares it.
func TestPreviewInvalidTransactions(t *testing.T) {
	chunks, err := immutable.Chunks(filepath.Join(fixtureDir, "chains", "preview"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]*big.Int{} // "txid#index" -> lovelace of every tx_out row so far
	found := 0
	for _, path := range chunks {
		blocks, err := immutable.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range blocks {
			d, err := DecodeBlock(Preview, b.Type, b.CBOR)
			if err != nil {
				t.Fatalf("%s block %d: %v", filepath.Base(path), i, err)
			}
			name := fmt.Sprintf("%s block %d (slot %d)", filepath.Base(path), i, d.Slot)
			for _, tx := range splitBlock(t, b.Type, b.CBOR) {
				if tx.invalid {
					found++
					checkInvalidTx(t, name, d, tx, values)
				} else {
					ins := map[string]bool{}
					for _, row := range d.Rows[TxIn] {
						if bytes.Equal(row[0].([]byte), tx.hash) {
							ins[fmt.Sprintf("%x#%d", row[1], row[2])] = true
						}
					}
					if want := rawInputs(t, tx.body[0]); !sameSet(ins, want) {
						t.Errorf("%s valid tx %x: tx_in %v, body inputs %v", name, tx.hash, ins, want)
					}
				}
			}
			for _, row := range d.Rows[TxOut] {
				v, _ := new(big.Int).SetString(cell(TxOut, row, "value").(string), 10)
				values[fmt.Sprintf("%x#%d", row[0], row[1])] = v
			}
		}
	}
	if found != previewInvalidTxs {
		t.Errorf("%d invalid transactions in the preview chain, want %d", found, previewInvalidTxs)
	}
}

func checkInvalidTx(t *testing.T, name string, d *Decoded, tx rawTx, values map[string]*big.Int) {
	t.Helper()
	mine := func(tab TableID) [][]any {
		var out [][]any
		for _, row := range d.Rows[tab] {
			if b, ok := row[0].([]byte); ok && bytes.Equal(b, tx.hash) {
				out = append(out, row)
			}
		}
		return out
	}
	txRows := mine(Tx)
	if len(txRows) != 1 || cell(Tx, txRows[0], "valid_contract") != false {
		t.Fatalf("%s tx %x: tx rows %v", name, tx.hash, txRows)
	}
	row := txRows[0]
	// tx_in: the collateral inputs.
	ins := map[string]bool{}
	for _, r := range mine(TxIn) {
		ins[fmt.Sprintf("%x#%d", r[1], r[2])] = true
	}
	collateral := rawInputs(t, tx.body[13])
	if !sameSet(ins, collateral) {
		t.Errorf("%s tx %x: tx_in %v, collateral %v", name, tx.hash, ins, collateral)
	}
	// tx_out: the collateral return only, at index = number of body outputs.
	outs := mine(TxOut)
	ret, hasReturn := tx.body[16]
	wantOutSum := big.NewInt(0)
	if hasReturn {
		wantOutSum = rawOutputValue(t, ret)
		if len(outs) != 1 || outs[0][1] != uint64(len(items(t, tx.body[1]))) || cell(TxOut, outs[0], "value") != wantOutSum.String() {
			t.Errorf("%s tx %x: tx_out %v, want the collateral return (%s) at index %d", name, tx.hash, outs, wantOutSum, len(items(t, tx.body[1])))
		}
	} else if len(outs) != 0 {
		t.Errorf("%s tx %x: %d tx_out rows without a collateral return", name, tx.hash, len(outs))
	}
	if got := cell(Tx, row, "out_sum"); got != wantOutSum.String() {
		t.Errorf("%s tx %x: out_sum %v, want %s", name, tx.hash, got, wantOutSum)
	}
	// fee: total_collateral, or NULL (the tx_fee view computes it).
	var wantFee any
	if tc, ok := tx.body[17]; ok {
		wantFee = uintText(t, tc)
	}
	if got := cell(Tx, row, "fee"); fmt.Sprint(got) != fmt.Sprint(wantFee) {
		t.Errorf("%s tx %x: fee %v, want %v", name, tx.hash, got, wantFee)
	}
	if cell(Tx, row, "deposit") != "0" || cell(Tx, row, "treasury_donation") != "0" {
		t.Errorf("%s tx %x: deposit %v, donation %v, want 0", name, tx.hash, cell(Tx, row, "deposit"), cell(Tx, row, "treasury_donation"))
	}
	// The collateral taken, from the outputs it spends.
	taken := new(big.Int)
	resolved := true
	for in := range collateral {
		v, ok := values[in]
		if !ok {
			resolved = false
			break
		}
		taken.Add(taken, v)
	}
	if resolved {
		taken.Sub(taken, wantOutSum)
		if wantFee != nil && taken.String() != wantFee {
			t.Errorf("%s tx %x: collateral taken %s, total_collateral %v", name, tx.hash, taken, wantFee)
		}
	}
	t.Logf("%s tx %x: %d collateral inputs, return %v, total_collateral %v, taken %s (resolved %v)",
		name, tx.hash, len(collateral), hasReturn, wantFee, taken, resolved)
	// Nothing else: every other table keyed by the transaction has no row.
	for tab := range NumTables {
		switch tab {
		case Tx, TxIn, TxOut, MaTxOut:
			continue
		}
		if Tables[tab].Shared {
			continue
		}
		if rs := mine(tab); len(rs) > 0 {
			t.Errorf("%s tx %x: %d %s rows", name, tx.hash, len(rs), Tables[tab].Name)
		}
	}
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
