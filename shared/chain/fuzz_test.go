package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger/common"
	"golang.org/x/crypto/blake2b"
)

// invalidSeeds reads testdata/invalid: real blocks that gouroboros rejects,
// stored as raw CBOR or as hex, bare or HFC-wrapped as [era tag, block].
func invalidSeeds(tb testing.TB) (types []uint, blocks [][]byte) {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "invalid", "*"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no invalid fixtures: %v", err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		if b, err := hex.DecodeString(string(bytes.TrimSpace(raw))); err == nil {
			raw = b
		}
		// [era tag < 24, block]: 0x82, the tag, then the block's array head.
		blockType := BlockTypeConway
		if len(raw) > 2 && raw[0] == 0x82 && raw[1] <= byte(MaxBlockType) && raw[2]&0xe0 == 0x80 {
			blockType, raw = uint(raw[1]), raw[2:]
		}
		types = append(types, blockType)
		blocks = append(blocks, raw)
	}
	return types, blocks
}

// FuzzDecodeBlock feeds DecodeBlock mutations of every fixture block and of
// the invalid blocks. It must never panic, and must return either rows or a
// *DecodeError that identifies the block.
func FuzzDecodeBlock(f *testing.F) {
	for _, fb := range loadIndex(f) {
		f.Add(fb.BlockType, fb.read(f))
	}
	types, blocks := invalidSeeds(f)
	for i := range blocks {
		f.Add(types[i], blocks[i])
	}
	f.Fuzz(func(t *testing.T, blockType uint, raw []byte) {
		checkDecode(t, blockType, raw)
		// A mutated body fails the body hash check before any row is mapped:
		// give the mutation a matching hash so that it reaches the mapping.
		if fixed, ok := withBodyHash(blockType, raw); ok {
			checkDecode(t, blockType, fixed)
		}
	})
}

// checkDecode asserts DecodeBlock's contract: rows, or a *DecodeError that
// identifies the block; values of the types the store accepts.
func checkDecode(t *testing.T, blockType uint, raw []byte) {
	t.Helper()
	d, err := DecodeBlock(Mainnet, blockType, raw)
	if err != nil {
		de, ok := err.(*DecodeError)
		if !ok {
			t.Fatalf("error %T is not a *DecodeError: %v", err, err)
		}
		if len(de.Hash) == 0 {
			t.Fatalf("decode error without a hash: %v", err)
		}
		if d != nil {
			t.Fatal("rows and an error together")
		}
		return
	}
	if d == nil {
		t.Fatal("neither rows nor an error")
	}
	if len(d.Rows[Block]) != 1 || len(d.Hash) != 32 {
		t.Fatalf("%d block rows, hash %x", len(d.Rows[Block]), d.Hash)
	}
	for tab, rows := range d.Rows {
		for _, row := range rows {
			if len(row) != len(Tables[tab].Columns) {
				t.Fatalf("%s row has %d values, want %d", Tables[tab].Name, len(row), len(Tables[tab].Columns))
			}
			for i, v := range row {
				switch v.(type) {
				case nil, bool, uint64, int64, string, []byte:
				default:
					t.Fatalf("%s.%s is a %T", Tables[tab].Name, Tables[tab].Columns[i], v)
				}
			}
		}
	}
	for _, row := range d.Rows[TxMetadata] {
		if s, ok := row[3].(string); ok && !json.Valid([]byte(s)) {
			t.Fatalf("tx_metadata json %q is not valid", s)
		}
	}
}

// withBodyHash rewrites a Shelley-to-Conway block's header so that its body
// hash matches the body: blake2b-256 over the blake2b-256 of each body part.
func withBodyHash(blockType uint, raw []byte) ([]byte, bool) {
	era, ok := EraOfBlockType(blockType)
	if !ok || era < EraShelley {
		return nil, false
	}
	parts, field := 4, 8 // TPraos header body: body hash after the body size
	if era >= EraAlonzo {
		parts = 5
	}
	if era >= EraBabbage {
		field = 7 // Praos: one VRF result instead of two
	}
	var blk, hdr, hdrBody []cbor.RawMessage
	if _, err := cbor.Decode(raw, &blk); err != nil || len(blk) != parts {
		return nil, false
	}
	if _, err := cbor.Decode(blk[0], &hdr); err != nil || len(hdr) != 2 {
		return nil, false
	}
	if _, err := cbor.Decode(hdr[0], &hdrBody); err != nil || len(hdrBody) <= field {
		return nil, false
	}
	var hashes []byte
	for _, p := range blk[1:] {
		h := blake2b.Sum256(p)
		hashes = append(hashes, h[:]...)
	}
	sum := blake2b.Sum256(hashes)
	var err error
	if hdrBody[field], err = cbor.Encode(sum[:]); err != nil {
		return nil, false
	}
	if hdr[0], err = cbor.Encode(hdrBody); err != nil {
		return nil, false
	}
	if blk[0], err = cbor.Encode(hdr); err != nil {
		return nil, false
	}
	out, err := cbor.Encode(blk)
	return out, err == nil
}

// FuzzMetadata feeds metadata CBOR to the tx_metadata mapping: it must never
// panic, and every json it writes must be valid JSON.
func FuzzMetadata(f *testing.F) {
	for _, fb := range loadIndex(f) {
		for _, tx := range splitBlock(f, fb.BlockType, fb.read(f)) {
			if labels, ok := txMetadata(f, tx.aux); ok {
				for _, v := range labels {
					f.Add(v)
				}
			}
		}
	}
	f.Add([]byte{0xa1, 0x00, 0xa1, 0x82, 0x01, 0x41, 0x22, 0x00}) // {0: {[1, h'22']: 0}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		md, err := common.DecodeMetadatumRaw(raw)
		if err != nil {
			return
		}
		if s, ok := MetadataJSON(md); ok && !json.Valid([]byte(s)) {
			t.Fatalf("invalid JSON %q", s)
		}
		// As a value under label 1, and as the label map itself.
		wrapped := append([]byte{0xa1, 0x01}, raw...)
		for _, m := range [][]byte{raw, wrapped} {
			md, err := common.DecodeMetadatumRaw(m)
			if err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			var rows Rows
			c := &txCtx{blockCtx: &blockCtx{rows: &rows}, hash: []byte{1}, tx: &metadataTx{md: md}}
			if err := c.metadata(); err != nil {
				continue
			}
			for _, row := range rows[TxMetadata] {
				if s, ok := row[3].(string); ok && !json.Valid([]byte(s)) {
					t.Fatalf("invalid JSON %q", s)
				}
				if len(row[4].([]byte)) == 0 {
					t.Fatal("row without bytes")
				}
			}
		}
	})
}

// TestInvalidBlocksAreDecodeErrors runs the invalid fixtures through
// DecodeBlock outside fuzzing: each is rows or a *DecodeError, never a panic.
func TestInvalidBlocksAreDecodeErrors(t *testing.T) {
	types, blocks := invalidSeeds(t)
	for i := range blocks {
		d, err := DecodeBlock(Mainnet, types[i], blocks[i])
		if err != nil {
			de, ok := err.(*DecodeError)
			if !ok || len(de.Hash) == 0 {
				t.Errorf("block %d: %T %v", i, err, err)
			}
			continue
		}
		if d == nil || len(d.Rows[Block]) != 1 {
			t.Errorf("block %d: no rows and no error", i)
		}
	}
}

// TestWithBodyHash: the fuzz helper's rewrite leaves real blocks decodable,
// so a fuzzed body that still parses reaches the row mapping.
func TestWithBodyHash(t *testing.T) {
	fixed := 0
	for _, fb := range loadIndex(t) {
		raw := fb.read(t)
		out, ok := withBodyHash(fb.BlockType, raw)
		if !ok {
			continue
		}
		fixed++
		d, err := DecodeBlock(fb.network(), fb.BlockType, out)
		if err != nil {
			t.Errorf("%s: %v", fb.File, err)
		} else if d.TxCount != fb.Counts["txs"] {
			t.Errorf("%s: %d txs, want %d", fb.File, d.TxCount, fb.Counts["txs"])
		}
	}
	if fixed < 100 {
		t.Errorf("rewrote %d blocks", fixed)
	}
}
