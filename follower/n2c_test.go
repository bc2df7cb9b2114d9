package follower

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/batch"
)

// The namer's other ways of naming a block whose header does not decode: a
// rollback to it, a rollback below it (dropped), a run of such blocks whose
// bodies still read (a future era: each names the one before), and two in a
// row that cannot be read at all (an error, not a made-up point).
func TestNamerUndecodableBlocks(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs("../testdata/chains/preview/00001.chunk")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "00001.chunk")); err != nil {
		t.Fatal(err)
	}
	blocks, err := nodesim.LoadChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	blocks = blocks[:10] // Alonzo
	garbage := batch.Block{Type: 5, CBOR: []byte{0x82, 0x01, 0x02}}
	tip := blocks[9]
	ev := func(b batch.Block) Event {
		return Event{Forward: true, Block: b, Tip: tip.Point, TipBlock: tip.BlockNo, TipKnown: true}
	}
	raw := func(i int) batch.Block { return batch.Block{Type: blocks[i].Type, CBOR: blocks[i].CBOR} }
	start := func() (*namer, *[]Event) {
		var got []Event
		n := &namer{deliver: func(e Event) error { got = append(got, e); return nil }}
		if err := n.backward(Event{Point: blocks[0].Point, Tip: tip.Point, TipBlock: tip.BlockNo, TipKnown: true}); err != nil {
			t.Fatal(err)
		}
		if err := n.forward(ev(raw(1))); err != nil {
			t.Fatal(err)
		}
		return n, &got
	}

	t.Run("rollback to it", func(t *testing.T) {
		n, got := start()
		if err := n.forward(ev(garbage)); err != nil || len(*got) != 2 {
			t.Fatalf("held: %v, %d events", err, len(*got))
		}
		if err := n.backward(Event{Point: blocks[2].Point, TipKnown: true}); err != nil {
			t.Fatal(err)
		}
		e := (*got)[2]
		if !e.Undecodable || !samePoint(e.Header.Point, blocks[2].Point) || !bytes.Equal(e.Header.PrevHash, blocks[1].Point.Hash) {
			t.Errorf("named %+v, want %s after %s", e.Header, blocks[2].Point, blocks[1].Point)
		}
	})
	t.Run("rollback below it", func(t *testing.T) {
		n, got := start()
		_ = n.forward(ev(garbage))
		if err := n.backward(Event{Point: blocks[1].Point, TipKnown: true}); err != nil {
			t.Fatal(err)
		}
		if len(*got) != 3 || (*got)[2].Forward {
			t.Errorf("got %d events; want the held block dropped and the rollback passed", len(*got))
		}
	})
	t.Run("a run of unknown-era blocks", func(t *testing.T) {
		n, got := start()
		for i := 2; i <= 9; i++ {
			b := raw(i)
			b.Type = 9
			if err := n.forward(ev(b)); err != nil {
				t.Fatal(err)
			}
		}
		// Blocks 2-8 are named by their successors; 9 is the tip.
		if len(*got) != 10 {
			t.Fatalf("%d events, want 10", len(*got))
		}
		for i := 2; i <= 9; i++ {
			if e := (*got)[i]; !e.Undecodable || !samePoint(e.Header.Point, blocks[i].Point) {
				t.Errorf("block %d passed as %s, want %s", i, e.Header.Point, blocks[i].Point)
			}
		}
	})
	t.Run("two unreadable in a row", func(t *testing.T) {
		n, _ := start()
		_ = n.forward(ev(garbage))
		if err := n.forward(ev(garbage)); err == nil {
			t.Error("two unreadable blocks in a row were passed on")
		}
	})
}
