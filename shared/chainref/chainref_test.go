package chainref

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nectar-indexer/nectar/shared/immutable"
)

const testdata = "../../testdata"

var (
	shippedOnce sync.Once
	shipped     *Shipped
	shippedErr  error
)

// readShipped reads every shipped block once for all tests.
func readShipped(tb testing.TB) *Shipped {
	tb.Helper()
	shippedOnce.Do(func() { shipped, shippedErr = ReadShipped(testdata) })
	if shippedErr != nil {
		tb.Fatal(shippedErr)
	}
	return shipped
}

func (s *Shipped) chunk(tb testing.TB, dir, name string) Chunk {
	tb.Helper()
	for _, c := range s.Chunks {
		if c.Dir == dir && c.Name == name {
			return c
		}
	}
	tb.Fatalf("chunk %s/%s not shipped", dir, name)
	return Chunk{}
}

// eachBlock calls f for every distinct block (by hash) of the chunks and
// fixtures; fixtures that repeat a chunk's block are visited once.
func (s *Shipped) eachBlock(f func(where string, b *Block)) {
	seen := map[string]bool{}
	for _, c := range s.Chunks {
		for i, b := range c.Blocks {
			seen[string(b.Hash)] = true
			f(fmt.Sprintf("%s/%s block %d", c.Dir, c.Name, i), b)
		}
	}
	for _, fx := range s.Fixtures {
		if !seen[string(fx.Block.Hash)] {
			seen[string(fx.Block.Hash)] = true
			f(fx.File, fx.Block)
		}
	}
}

func title(era string) string { return strings.ToUpper(era[:1]) + era[1:] }

// Every chunk agrees with testdata/chains/SUMMARY.tsv (the fixtures'
// published per-chunk facts): block and tx counts, eras, first and last
// slot, block number and hash, and no previous-hash break inside the chunk.
func TestChunksMatchSummary(t *testing.T) {
	s := readShipped(t)
	rows, err := ReadSummary(testdata)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(s.Chunks) {
		t.Errorf("SUMMARY.tsv has %d chunks, testdata has %d", len(rows), len(s.Chunks))
	}
	for _, r := range rows {
		t.Run(r.Dir+"/"+r.Chunk, func(t *testing.T) {
			c := s.chunk(t, r.Dir, r.Chunk)
			bs := c.Blocks
			if len(bs) != r.Blocks {
				t.Fatalf("%d blocks, SUMMARY says %d", len(bs), r.Blocks)
			}
			var eras []string
			txs, breaks := 0, 0
			for i, b := range bs {
				if e := title(b.Era); len(eras) == 0 || eras[len(eras)-1] != e {
					eras = append(eras, e)
				}
				txs += len(b.Txs)
				if i > 0 && !bytes.Equal(b.PrevHash, bs[i-1].Hash) {
					breaks++
				}
			}
			first, last := bs[0], bs[len(bs)-1]
			for _, c := range []struct {
				what       string
				have, want any
			}{
				{"eras", strings.Join(eras, ","), r.Eras},
				{"txs", txs, r.Txs},
				{"prev hash breaks", breaks, r.PrevHashBreaks},
				{"first slot", first.Slot, r.FirstSlot},
				{"last slot", last.Slot, r.LastSlot},
				{"first block no", first.BlockNo, r.FirstBlockNo},
				{"last block no", last.BlockNo, r.LastBlockNo},
				{"first hash", hex.EncodeToString(first.Hash), r.FirstHash},
				{"last hash", hex.EncodeToString(last.Hash), r.LastHash},
			} {
				if fmt.Sprint(c.have) != fmt.Sprint(c.want) {
					t.Errorf("%s: reference %v, SUMMARY %v", c.what, c.have, c.want)
				}
			}
		})
	}
}

// Each block's previous hash is the hash of the block before it, within a
// chunk and across the contiguous preview chunks.
func TestChainLinks(t *testing.T) {
	s := readShipped(t)
	var prev *Block
	var prevNet string
	for _, c := range s.Chunks {
		if c.Dir != prevNet {
			prev, prevNet = nil, c.Dir
		}
		if c.Dir != "preview" {
			prev = nil // the mainnet chunks are samples far apart
		}
		for i, b := range c.Blocks {
			if prev != nil && !bytes.Equal(b.PrevHash, prev.Hash) {
				t.Errorf("%s/%s block %d (slot %d): prev hash %x, the block before is %x", c.Dir, c.Name, i, b.Slot, b.PrevHash, prev.Hash)
			}
			if prev != nil && b.Slot < prev.Slot {
				t.Errorf("%s/%s block %d: slot %d before the previous block's %d", c.Dir, c.Name, i, b.Slot, prev.Slot)
			}
			prev = b
		}
	}
	first := s.chunk(t, "preview", "00000.chunk").Blocks[0]
	if first.PrevHash != nil || first.Slot != 0 || first.BlockNo != 0 {
		t.Errorf("preview's first block: prev %x, slot %d, block %d; want none, 0, 0", first.PrevHash, first.Slot, first.BlockNo)
	}
	genesis := s.chunk(t, "mainnet-byron", "00000.chunk").Blocks[0]
	if !genesis.EBB || genesis.HasBlockNo || genesis.Slot != 0 || len(genesis.Txs) != 0 {
		t.Errorf("mainnet's first block: ebb %v, has block no %v, slot %d, %d txs", genesis.EBB, genesis.HasBlockNo, genesis.Slot, len(genesis.Txs))
	}
	// The mainnet genesis EBB's previous hash is the hash of the Byron genesis file.
	if got := hex.EncodeToString(genesis.PrevHash); got != "5f20df933584822601f9e3f8c024eb5eb252fe8cefb24d1317dc3d432e940ebb" {
		t.Errorf("genesis EBB prev hash %s", got)
	}
}

// Every fixture block agrees with its row of blocks/index.tsv: hash (from
// the source's file name), block type, slot, block number (for an EBB the
// difficulty it carries), size and transaction counts.
func TestFixturesMatchIndex(t *testing.T) {
	s := readShipped(t)
	if len(s.Fixtures) != 161 {
		t.Fatalf("%d fixtures, want 161", len(s.Fixtures))
	}
	for _, f := range s.Fixtures {
		b := f.Block
		invalid := 0
		for _, tx := range b.Txs {
			if !tx.Valid {
				invalid++
			}
		}
		for _, c := range []struct {
			what       string
			have, want any
		}{
			{"hash", hex.EncodeToString(b.Hash), hex.EncodeToString(f.Hash)},
			{"ebb", b.EBB, f.BlockType == 0},
			{"slot", b.Slot, f.Slot},
			{"block no", b.BlockNo, f.BlockNo},
			{"size", b.Size, f.Size},
			{"txs", len(b.Txs), f.Counts["txs"]},
			{"invalid txs", invalid, f.Counts["invalid_txs"]},
		} {
			if fmt.Sprint(c.have) != fmt.Sprint(c.want) {
				t.Errorf("%s %s: reference %v, index.tsv %v", f.File, c.what, c.have, c.want)
			}
		}
		if !strings.HasPrefix(f.File, b.Era+"/") {
			t.Errorf("%s: reference reads era %s", f.File, b.Era)
		}
		if !strings.Contains(f.File, hex.EncodeToString(b.Hash)[:12]) {
			t.Errorf("%s: hash %x is not the file's", f.File, b.Hash)
		}
	}
}

// The feature counts of blocks/index.tsv (which gouroboros produced when the
// fixtures were collected: a cross-check between two decoders, not ground
// truth) agree with the reference's reading.
func TestFixtureFeatureCounts(t *testing.T) {
	for _, f := range readShipped(t).Fixtures {
		c := map[string]int{}
		for _, tx := range f.Block.Txs {
			for _, o := range tx.Outputs {
				if len(o.Assets) > 0 {
					c["multiasset_outputs"]++
				}
				if o.InlineDatum != nil {
					c["inline_datums"]++
				}
				if o.ScriptRef != nil {
					c["ref_scripts"]++
				}
			}
			if len(tx.Mint) > 0 {
				c["mint_txs"]++
			}
			if tx.HasMetadataMap {
				c["metadata_txs"]++
			}
			for _, s := range tx.Scripts {
				switch {
				case s.From != FromWitness:
				case s.Type == ScriptTimelock || s.Type == ScriptMultisig:
					c["native_scripts"]++
				default:
					c["plutus_scripts"]++
				}
			}
			c["certs"] += len(tx.Certs)
			c["withdrawals"] += len(tx.Withdrawals)
			c["redeemers"] += len(tx.Redeemers)
			c["witness_datums"] += len(tx.Datums)
			c["voting_procedures"] += len(tx.Votes)
			c["proposals"] += len(tx.Proposals)
		}
		for _, k := range []string{"multiasset_outputs", "mint_txs", "metadata_txs", "certs", "withdrawals",
			"plutus_scripts", "native_scripts", "redeemers", "witness_datums", "inline_datums", "ref_scripts",
			"voting_procedures", "proposals"} {
			if c[k] != f.Counts[k] {
				t.Errorf("%s %s: reference %d, index.tsv %d", f.File, k, c[k], f.Counts[k])
			}
		}
	}
}

// The first transaction of mainnet has a published id (cardano-rosetta's and
// Ogmios's test vectors): 6497b33b… in the block at slot 3313, spending the
// genesis redemption output a12a839c…#0. Its Byron tx hash covers the tx
// without its witnesses.
func TestPublishedByronTx(t *testing.T) {
	for _, b := range readShipped(t).chunk(t, "mainnet-byron", "00000.chunk").Blocks {
		if b.Slot != 3313 || b.EBB {
			continue
		}
		if len(b.Txs) != 1 {
			t.Fatalf("%d txs at slot 3313", len(b.Txs))
		}
		tx := b.Txs[0]
		if got := hex.EncodeToString(tx.Hash); got != "6497b33b10fa2619c6efbd9f874ecd1c91badb10bf70850732aab45b90524d9e" {
			t.Errorf("tx hash %s", got)
		}
		if len(tx.Inputs) != 1 || hex.EncodeToString(tx.Inputs[0].TxHash) != "a12a839c25a01fa5d118167db5acdbd9e38172ae8f00e5ac0a4997ef792a2007" || tx.Inputs[0].Index != 0 {
			t.Errorf("inputs %x", tx.Inputs)
		}
		if len(tx.Outputs) != 1 || tx.Outputs[0].Lovelace != 1_000_000 {
			t.Errorf("outputs %+v", tx.Outputs)
		}
		return
	}
	t.Fatal("no block at slot 3313")
}

// A fixture that is also in a shipped chunk is the same bytes there.
func TestFixturesInChunks(t *testing.T) {
	s := readShipped(t)
	byHash := map[string]*Block{}
	for _, c := range s.Chunks {
		for _, b := range c.Blocks {
			byHash[string(b.Hash)] = b
		}
	}
	n := 0
	for _, f := range s.Fixtures {
		cb, ok := byHash[string(f.Block.Hash)]
		if !ok {
			continue
		}
		n++
		if cb.Size != f.Block.Size || cb.BlockType != f.Block.BlockType || len(cb.Txs) != len(f.Block.Txs) {
			t.Errorf("%s differs from its chunk copy", f.File)
		}
	}
	t.Logf("%d fixtures are also in a shipped chunk", n)
}

// The header commits to the body: Shelley on, the body size and body hash
// the reference recomputes from the body parts it split agree with the
// header; Byron, the body proof's transaction count.
func TestBodyCommitments(t *testing.T) {
	s := readShipped(t)
	n := 0
	s.eachBlock(func(where string, b *Block) {
		n++
		if !b.BodyOK {
			t.Errorf("%s (%x): body does not match the header's commitment (size %d)", where, b.Hash, b.BodySize)
		}
	})
	t.Logf("%d distinct blocks", n)
}

// Known totals from published data: mainnet chunk 00500 (Shelley) declares
// 168,985,399 lovelace of fees over 701 transactions.
func TestShelleyChunkFees(t *testing.T) {
	c := readShipped(t).chunk(t, "mainnet-shelley", "00500.chunk")
	var txs int
	var fees uint64
	for _, b := range c.Blocks {
		if b.Era != Shelley {
			t.Fatalf("block %x is %s", b.Hash, b.Era)
		}
		for _, tx := range b.Txs {
			if !tx.HasFee {
				t.Fatalf("tx %x has no fee", tx.Hash)
			}
			txs++
			fees += tx.Fee
		}
	}
	if txs != 701 || fees != 168_985_399 {
		t.Errorf("%d txs, fees %d; want 701 txs, 168985399 lovelace", txs, fees)
	}
}

// The preview chain's 300 chunks hold 19 phase-2-invalid transactions. Each
// has collateral and redeemers (a phase-2 failure needs a script to run).
func TestPreviewInvalidTxs(t *testing.T) {
	s := readShipped(t)
	var found []string
	for _, c := range s.Chunks {
		if c.Network != "preview" {
			continue
		}
		for _, b := range c.Blocks {
			for _, tx := range b.Txs {
				if tx.Valid {
					continue
				}
				found = append(found, fmt.Sprintf("%s slot %d block %x tx %d %x", c.Name, b.Slot, b.Hash, tx.Index, tx.Hash))
				if len(tx.Collateral) == 0 || len(tx.Redeemers) == 0 {
					t.Errorf("invalid tx %x: %d collateral inputs, %d redeemers", tx.Hash, len(tx.Collateral), len(tx.Redeemers))
				}
			}
		}
	}
	for _, f := range found {
		t.Log(f)
	}
	if len(found) != 19 {
		t.Errorf("%d invalid transactions on preview, want 19", len(found))
	}
}

// Transaction hashes are unique across all shipped blocks.
func TestTxHashesUnique(t *testing.T) {
	s := readShipped(t)
	where := map[string]string{}
	n := 0
	s.eachBlock(func(w string, b *Block) {
		for _, tx := range b.Txs {
			n++
			k := string(tx.Hash)
			if prev, dup := where[k]; dup {
				t.Errorf("tx %x in %s and %s", tx.Hash, prev, w)
			}
			where[k] = fmt.Sprintf("%s tx %d", w, tx.Index)
		}
	})
	t.Logf("%d distinct transactions", n)
}

// Mainnet and preview charge minFeeA = 44 and minFeeB = 155381 lovelace (their
// Shelley genesis; unchanged over the shipped ranges), so a transaction
// without scripts to run pays at least 44 * size + 155381. This bounds the
// size definition from below: a reference size too small by one byte would
// put the transactions that pay exactly the minimum under it.
func TestFeesCoverSize(t *testing.T) {
	s := readShipped(t)
	exact := 0
	for _, c := range s.Chunks {
		for _, b := range c.Blocks {
			for _, tx := range b.Txs {
				if !tx.HasFee || len(tx.Redeemers) > 0 {
					continue
				}
				minFee := 44*uint64(tx.Size) + 155381
				if tx.Fee < minFee {
					t.Errorf("%s/%s tx %x: fee %d below 44*%d+155381", c.Dir, c.Name, tx.Hash, tx.Fee, tx.Size)
				}
				if tx.Fee == minFee {
					exact++
				}
			}
		}
	}
	if exact == 0 {
		t.Error("no transaction pays exactly the minimum fee: the size bound says nothing")
	}
	t.Logf("%d transactions pay exactly 44*size+155381", exact)
}

// Structural facts that hold for every transaction of the shipped chain.
func TestTxInvariants(t *testing.T) {
	s := readShipped(t)
	s.eachBlock(func(where string, b *Block) {
		for _, tx := range b.Txs {
			id := fmt.Sprintf("%s tx %d (%x)", where, tx.Index, tx.Hash)
			if b.Era == Byron {
				if tx.HasFee || !tx.Valid || len(tx.Inputs) == 0 || len(tx.Outputs) == 0 {
					t.Errorf("%s: Byron tx with fee %v, valid %v, %d inputs, %d outputs", id, tx.HasFee, tx.Valid, len(tx.Inputs), len(tx.Outputs))
				}
				continue
			}
			if !tx.HasFee || len(tx.Inputs) == 0 {
				t.Errorf("%s: fee %v, %d inputs", id, tx.HasFee, len(tx.Inputs))
			}
			if tx.CollateralReturn != nil && tx.CollateralReturn.Index != len(tx.Outputs) {
				t.Errorf("%s: collateral return index %d, %d outputs", id, tx.CollateralReturn.Index, len(tx.Outputs))
			}
			if (tx.AuxData != nil) != (tx.AuxDataHash != nil) {
				t.Errorf("%s: auxiliary data %v, hash %x", id, tx.AuxData != nil, tx.AuxDataHash)
			}
			if tx.AuxData != nil && !bytes.Equal(Blake2b256(tx.AuxData), tx.AuxDataHash) {
				t.Errorf("%s: auxiliary data hash %x, body says %x", id, Blake2b256(tx.AuxData), tx.AuxDataHash)
			}
			if b.Era == Shelley && tx.TTL == nil {
				t.Errorf("%s: Shelley tx without ttl", id)
			}
			sum := new(big.Int)
			for _, o := range tx.Outputs {
				sum.Add(sum, new(big.Int).SetUint64(o.Lovelace))
				if o.InlineDatum != nil && o.DatumHash != nil {
					t.Errorf("%s output %d: both a datum hash and an inline datum", id, o.Index)
				}
			}
			if sum.Cmp(new(big.Int).SetUint64(45_000_000_000_000_000)) > 0 {
				t.Errorf("%s: outputs hold %s lovelace, more than the supply", id, sum)
			}
		}
	})
}

// Script hashes are the ledger's: before Babbage (no reference scripts) a
// transaction that mints must carry every minting policy's script in its
// witness set, so each policy is the hash of one of the scripts read. From
// Babbage on the script may come from a reference input instead; most still
// carry it.
func TestMintPoliciesWitnessed(t *testing.T) {
	s := readShipped(t)
	counts := map[string][2]int{}
	s.eachBlock(func(where string, b *Block) {
		for _, tx := range b.Txs {
			if len(tx.Mint) == 0 || !tx.Valid {
				continue
			}
			have := map[string]bool{}
			for _, sc := range tx.Scripts {
				if sc.From == FromWitness {
					have[string(sc.Hash)] = true
				}
			}
			for _, m := range tx.Mint {
				c := counts[b.Era]
				if have[string(m.Policy)] {
					c[0]++
				} else {
					c[1]++
					if !atLeast(b.Era, Babbage) {
						t.Errorf("%s tx %x: no witness script hashes to policy %x", where, tx.Hash, m.Policy)
					}
				}
				counts[b.Era] = c
			}
		}
	})
	for era, c := range counts {
		t.Logf("%s: %d minted assets with the policy script in the witness set, %d without", era, c[0], c[1])
	}
	if counts[Mary][0] == 0 || counts[Alonzo][0] == 0 || counts[Babbage][0] == 0 {
		t.Errorf("too few mints to check script hashes: %v", counts)
	}
}

// Datum hashes are taken over the original bytes: witness-set datums match
// datum hashes of outputs created earlier in the shipped chains.
func TestDatumHashesMatch(t *testing.T) {
	s := readShipped(t)
	outputs := map[string]bool{}
	matched, datums := 0, 0
	for _, c := range s.Chunks {
		for _, b := range c.Blocks {
			for _, tx := range b.Txs {
				for _, d := range tx.Datums {
					datums++
					if outputs[string(d.Hash)] {
						matched++
					}
				}
				for _, o := range tx.Outputs {
					if o.DatumHash != nil {
						outputs[string(o.DatumHash)] = true
					}
					if o.InlineDatum != nil && !bytes.Equal(o.InlineDatumHash, Blake2b256(o.InlineDatum)) {
						t.Errorf("tx %x output %d: inline datum hash", tx.Hash, o.Index)
					}
				}
			}
		}
	}
	t.Logf("%d witness datums, %d match an earlier output's datum hash", datums, matched)
	if matched < datums/4 {
		t.Errorf("only %d of %d witness datums match an output's datum hash", matched, datums)
	}
}

// The reference reads the raw chunk bytes the same way through DecodeWrapped.
func TestDecodeWrapped(t *testing.T) {
	path := filepath.Join(testdata, "chains", "mainnet-shelley", "00500.chunk")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := readShipped(t).chunk(t, "mainnet-shelley", "00500.chunk").Blocks
	for i := 0; len(data) > 0; i++ {
		item, rest, err := first(data)
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeWrapped(item)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if !bytes.Equal(b.Hash, want[i].Hash) {
			t.Fatalf("block %d: hash %x, want %x", i, b.Hash, want[i].Hash)
		}
		data = rest
	}
}

func FuzzDecodeBlock(f *testing.F) {
	for _, p := range []string{
		"byron/mainnet_byron_slot3313_cf80534e520f.cbor",
		"shelley/mainnet_shelley_slot10800922_6c6465617aa4.cbor",
		"mary/mainnet_mary_slot26250031_52fd6283bc5a.cbor",
		"alonzo/mainnet_alonzo_slot49503576_faaeda2a014e.cbor",
		"babbage/preview_babbage_slot1174147_3b968d403595.cbor",
		"conway/mainnet_conway_slot133683092_276121d08b0f.cbor",
	} {
		raw, err := os.ReadFile(filepath.Join(testdata, "blocks", p))
		if err != nil {
			f.Fatal(err)
		}
		bt := map[string]uint{"byron": 1, "shelley": 2, "mary": 4, "alonzo": 5, "babbage": 6, "conway": 7}[strings.Split(p, "/")[0]]
		f.Add(bt, raw)
	}
	f.Fuzz(func(t *testing.T, bt uint, raw []byte) {
		_, _ = DecodeBlock(bt%8, raw)
	})
}

// BenchmarkPreview measures reading the 300 preview chunks' blocks.
func BenchmarkPreview(b *testing.B) {
	chunks, err := immutable.Chunks(filepath.Join(testdata, "chains", "preview"))
	if err != nil {
		b.Fatal(err)
	}
	var blocks []immutable.Block
	for _, c := range chunks {
		bs, err := immutable.ReadFile(c)
		if err != nil {
			b.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	b.ResetTimer()
	for range b.N {
		for _, blk := range blocks {
			if _, err := DecodeBlock(blk.Type, blk.CBOR); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(blocks)*b.N)/b.Elapsed().Seconds(), "blocks/s")
}
