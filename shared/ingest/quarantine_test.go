package ingest_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
)

// An undecodable block does not stop a batch: it is kept in quarantine with
// its header's identity and the error, the blocks around it are applied, and
// verify lists it while still proving continuity through it.
func TestUndecodableBlocksAreQuarantined(t *testing.T) {
	envs := ingesttest.ChunkEnvelopes(t, "preview", filepath.Join("..", "..", "testdata", "chains", "preview", "00000.chunk"), 216)
	env := envs[0]
	// Corrupt block 100's body: its last element, the empty list of invalid
	// transactions (0x80), becomes an empty map (0xa0). The header still
	// decodes; the body does not.
	bad := bytes.Clone(env.Blocks[100].CBOR)
	if bad[len(bad)-1] != 0x80 {
		t.Fatalf("block 100 does not end with an empty list: %x", bad[len(bad)-4:])
	}
	bad[len(bad)-1] = 0xa0
	env.Blocks[100].CBOR = bad
	want, err := chain.ReadHeader(env.Blocks[100].Type, bad)
	if err != nil {
		t.Fatal(err)
	}
	// And a real block gouroboros rejects (pallas conway8, a 56-byte hash).
	invalid, err := os.ReadFile(filepath.Join("..", "..", "testdata", "invalid", "pallas__conway8.block"))
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		db, _ := s.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		a := &ingest.Applier{Net: chain.Preview, Store: store}
		res, err := a.Apply(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		if res.Blocks != 215 || res.Quarantined != 1 {
			t.Fatalf("applied %d blocks, quarantined %d; want 215 and 1", res.Blocks, res.Quarantined)
		}
		var hash []byte
		var slot uint64
		var msg string
		if err := db.QueryRow("SELECT hash, slot_no, error FROM quarantine").Scan(&hash, &slot, &msg); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(hash, want.Point.Hash) || slot != want.Point.Slot || msg == "" {
			t.Errorf("quarantine row %x slot %d %q, want %s", hash, slot, msg, want.Point)
		}
		rep, err := store.Verify(context.Background(), "preview", 10)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || len(rep.Quarantined) != 1 || rep.Blocks != 215 {
			t.Errorf("verify: %s", rep)
		}

		// A batch holding only a block that does not decode at all is recorded, not lost.
		raw := invalidBlock(t, invalid)
		e2 := ingesttest.NewBlocks("preview", nil, nil, []batch.Block{raw})
		res, err = a.Apply(context.Background(), e2)
		if err != nil || res.Quarantined != 1 {
			t.Fatalf("invalid block: %+v %v", res, err)
		}

		// A block whose header does not read either (alone in its batch, as
		// the follower sends it) keeps the point the node served it under,
		// the envelope's, so that a rollback above its parent deletes it;
		// it used to get a hash of its bytes at slot 0.
		garbage := batch.Block{Type: 7, CBOR: []byte{0x82, 0x63, 'n', 'o', 't', 0x80}}
		e3 := ingesttest.NewBlocks("preview", env.Last.Hash, nil, []batch.Block{garbage})
		served := chain.Point{Slot: env.Last.Slot + 7, Hash: bytes.Repeat([]byte{0xab}, 32)}
		e3.First, e3.Last = served, served
		if res, err := a.Apply(context.Background(), e3); err != nil || res.Quarantined != 1 {
			t.Fatalf("unreadable block: %+v %v", res, err)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM quarantine").Scan(&n); err != nil || n != 3 {
			t.Errorf("%d quarantined blocks (%v), want 3", n, err)
		}
		var prev []byte
		if err := db.QueryRow("SELECT slot_no, prev_hash FROM quarantine WHERE hash = ?", served.Hash).Scan(&slot, &prev); err != nil {
			t.Fatalf("the unreadable block's quarantine row under its served point %s: %v", served, err)
		}
		if slot != served.Slot || !bytes.Equal(prev, env.Last.Hash) {
			t.Errorf("quarantine row at slot %d after %x, want slot %d after %x", slot, prev, served.Slot, env.Last.Hash)
		}
	})
}

// invalidBlock unwraps a pallas test block: hex text of [era, block].
func invalidBlock(tb testing.TB, hexText []byte) batch.Block {
	tb.Helper()
	raw := make([]byte, len(hexText)/2)
	n, err := decodeHex(raw, bytes.TrimSpace(hexText))
	if err != nil {
		tb.Fatal(err)
	}
	raw = raw[:n]
	// [era, block]: a 2-element array, era as a small unsigned int.
	if len(raw) < 3 || raw[0] != 0x82 || raw[1] > 0x17 {
		tb.Fatalf("not an [era, block] pair")
	}
	return batch.Block{Type: uint(raw[1]), CBOR: raw[2:]}
}

func decodeHex(dst, src []byte) (int, error) { return hex.Decode(dst, src) }
