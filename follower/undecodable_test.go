package follower_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/ingest"
)

// Issue 11: a block whose header does not decode (a corrupted header, or the
// first block of an era gouroboros does not know) is forwarded under its real
// point, alone in its batch, and the follower carries on: it used to publish
// a made-up point and then stop on the next block's previous hash.
func TestUndecodableHeaderFromNode(t *testing.T) {
	all := previewChain(t)
	cases := []struct {
		name    string
		n       int // blocks served
		at      int // the undecodable block
		visible int // the node's tip at start (0: all)
		bad     func(nodesim.Block) nodesim.Block
	}{
		// The body's fields before the protocol version still read: slot and
		// previous hash from the header, the hash from the next block.
		{"protocol version retyped", 1000, 500, 0, func(b nodesim.Block) nodesim.Block { return followertest.RetypeHeaderField(t, b, -1) }},
		// Nothing of the header reads: the next block names it.
		{"block number retyped", 1000, 500, 0, func(b nodesim.Block) nodesim.Block { return followertest.RetypeHeaderField(t, b, 0) }},
		// At the tip the chain-sync message's tip is the block.
		{"unreadable at the tip", 1000, 500, 501, func(b nodesim.Block) nodesim.Block { return followertest.RetypeHeaderField(t, b, 0) }},
		// A Babbage block under an era tag gouroboros does not know: its
		// header is intact, its point exact.
		{"unknown era", 13100, 13050, 0, func(b nodesim.Block) nodesim.Block { b.Type = 9; return b }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			blocks := append([]nodesim.Block(nil), all[:c.n]...)
			blocks[c.at] = c.bad(blocks[c.at])
			srv, path := followertest.StartNode(t, blocks, c.visible)
			rec := &followertest.Recorder{}
			r := followertest.Start(t, follower.Options{
				Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
				Sink:    rec, Cursor: &followertest.MemCursor{},
			})
			r.WaitHead(t, srv.Tip(), time.Minute)
			if c.visible > 0 {
				srv.Extend(len(blocks))
				r.WaitHead(t, srv.Tip(), time.Minute)
			}
			checkUndecodable(t, rec.Messages(), blocks, c.at)
		})
	}
}

// checkUndecodable checks that msgs carry blocks exactly, the one at bad
// alone in its batch under its real point and after its parent.
func checkUndecodable(tb testing.TB, msgs []follower.Message, blocks []nodesim.Block, bad int) {
	tb.Helper()
	got, err := followertest.Replay(msgs)
	if err != nil {
		tb.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		tb.Fatal(err)
	}
	want := blocks[bad].Point
	found := false
	for _, m := range msgs {
		for _, b := range m.Env.Blocks {
			if !bytes.Equal(b.CBOR, blocks[bad].CBOR) {
				continue
			}
			found = true
			if len(m.Env.Blocks) != 1 || !bytes.Equal(m.Env.First.Hash, want.Hash) || !bytes.Equal(m.Env.Last.Hash, want.Hash) {
				tb.Errorf("undecodable block in a batch of %d, %s to %s; want alone as %s", len(m.Env.Blocks), m.Env.First, m.Env.Last, want)
			}
			if s := m.Env.Last.Slot; s <= blocks[bad-1].Point.Slot || s > want.Slot {
				tb.Errorf("undecodable block at slot %d, want %d (at least within (%d, %d])", s, want.Slot, blocks[bad-1].Point.Slot, want.Slot)
			}
			if !bytes.Equal(m.Env.PrevHash, blocks[bad-1].Point.Hash) {
				tb.Errorf("undecodable block's batch follows %x, want its parent %s", m.Env.PrevHash, blocks[bad-1].Point)
			}
		}
	}
	if !found {
		tb.Fatal("the undecodable block was not published")
	}
}

// Downstream, the undecodable block is quarantined and the chain around it
// is applied.
func TestUndecodableHeaderQuarantined(t *testing.T) {
	servers := dbtest.Servers(t)
	if len(servers) == 0 {
		return
	}
	blocks := append([]nodesim.Block(nil), previewChain(t)[:600]...)
	const bad = 300
	blocks[bad] = followertest.RetypeHeaderField(t, blocks[bad], 0)
	db, _ := servers[len(servers)-1].Open(t) // MariaDB when configured: the quickest to migrate
	store := chaindb.New(db, chaindb.Options{})
	srv, path := followertest.StartNode(t, blocks, 0)
	rec := &followertest.Recorder{Next: &follower.LocalSink{Applier: &ingest.Applier{Net: chain.Preview, Store: store}}}
	r := followertest.Start(t, follower.Options{
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink:    rec, Cursor: store,
	})
	r.WaitHead(t, srv.Tip(), time.Minute)
	checkUndecodable(t, rec.Messages(), blocks, bad)
	var nBlocks, nQuarantined int
	if err := db.QueryRow("SELECT (SELECT COUNT(*) FROM block), (SELECT COUNT(*) FROM quarantine)").Scan(&nBlocks, &nQuarantined); err != nil {
		t.Fatal(err)
	}
	if nBlocks != len(blocks)-1 || nQuarantined != 1 {
		t.Errorf("%d blocks and %d quarantined, want %d and 1", nBlocks, nQuarantined, len(blocks)-1)
	}
}
