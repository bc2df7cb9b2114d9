package follower_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/ingest"
)

const previewDir = "../testdata/chains/preview"

var (
	previewOnce sync.Once
	preview     []nodesim.Block
	previewErr  error
)

func previewChain(tb testing.TB) []nodesim.Block {
	tb.Helper()
	previewOnce.Do(func() { preview, previewErr = nodesim.LoadChunks(previewDir) })
	if previewErr != nil {
		tb.Fatal(previewErr)
	}
	return preview
}

// Test 1: every block of the preview chain, published once in chain order.
func TestFollowNodeExactlyOnce(t *testing.T) {
	blocks := previewChain(t)
	srv, path := followertest.StartNode(t, blocks, 0)
	rec := &followertest.Recorder{}
	r := followertest.Start(t, follower.Options{
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink:    rec, Cursor: &followertest.MemCursor{},
	})
	r.WaitHead(t, srv.Tip(), 3*time.Minute)
	msgs := rec.Messages()
	got, err := followertest.Replay(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		t.Fatal(err)
	}
	routes := map[follower.Route]int{}
	for _, m := range msgs {
		routes[m.Route] += len(m.Env.Blocks)
		if m.Env.Kind != batch.KindBlocks {
			t.Errorf("message %d is a %s; no rollback was injected", m.Seq, m.Env.Kind)
		}
	}
	// Blocks within k=432 of the tip go to the FIFO queue, the rest to history.
	if routes[follower.RouteTip] != int(chain.Preview.SecurityParam)+1 || routes[follower.RouteHistory] != len(blocks)-routes[follower.RouteTip] {
		t.Errorf("routed %v blocks, want %d to the tip queue", routes, chain.Preview.SecurityParam+1)
	}
}

// Test 6: the node disconnects mid-stream; the follower reconnects and
// continues without a gap or a duplicate.
func TestFollowNodeDisconnect(t *testing.T) {
	blocks := previewChain(t)[:8000]
	srv, path := followertest.StartNode(t, blocks, 3000)
	rec := &followertest.Recorder{}
	r := followertest.Start(t, follower.Options{
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink:    rec, Cursor: &followertest.MemCursor{},
	})
	r.WaitHead(t, srv.Tip(), time.Minute)
	for range 3 {
		srv.Extend(1000)
		time.Sleep(20 * time.Millisecond)
		srv.DisconnectAll()
		time.Sleep(50 * time.Millisecond)
	}
	srv.Extend(len(blocks))
	r.WaitHead(t, srv.Tip(), time.Minute)
	got, err := followertest.Replay(rec.Messages())
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		t.Fatal(err)
	}
}

// Test 2: rollbacks of depth 1, 10 and k while the tip grows. The FIFO
// route carries them in order, and the database the local sink fills equals a
// clean load of the final chain.
func TestFollowRollbacksIntoDatabase(t *testing.T) {
	blocks := previewChain(t)[:6000]
	k := int(chain.Preview.SecurityParam)
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		cleanDB, _ := s.Open(t)
		want := followertest.CleanLoad(t, cleanDB, blocks)

		db, _ := s.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		srv, path := followertest.StartNode(t, blocks, 3000)
		rec := &followertest.Recorder{Next: &follower.LocalSink{Applier: &ingest.Applier{Net: chain.Preview, Store: store}}}
		r := followertest.Start(t, follower.Options{
			Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
			Sink:    rec, Cursor: store,
		})
		r.WaitHead(t, srv.Tip(), 3*time.Minute)
		for _, depth := range []int{1, 10, k} {
			if err := srv.Rollback(depth, nil); err != nil {
				t.Fatal(err)
			}
			r.WaitHead(t, srv.Tip(), time.Minute)
			srv.Extend(depth + 200)
			r.WaitHead(t, srv.Tip(), time.Minute)
		}
		srv.Extend(len(blocks))
		r.WaitHead(t, srv.Tip(), 3*time.Minute)

		msgs := rec.Messages()
		var rollbacks []follower.Message
		for _, m := range msgs {
			if m.Env.Kind == batch.KindRollback {
				rollbacks = append(rollbacks, m)
				if m.Route != follower.RouteTip {
					t.Errorf("rollback %d went to the %s queue", m.Seq, m.Route)
				}
			}
		}
		if len(rollbacks) != 3 {
			t.Fatalf("%d rollback messages, want 3", len(rollbacks))
		}
		got, err := followertest.Replay(msgs)
		if err != nil {
			t.Fatal(err)
		}
		if err := followertest.SameChain(got, blocks); err != nil {
			t.Fatal(err)
		}
		sums, err := chaindb.Checksums(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		for table, w := range want {
			if sums[table] != w {
				t.Errorf("%s: %s after rollbacks, clean load %s", table, sums[table], w)
			}
		}
	})
}

// A source that cannot find the cursor stops the follower with a clear error.
func TestFollowIntersectNotFound(t *testing.T) {
	blocks := previewChain(t)[:100]
	_, path := followertest.StartNode(t, blocks, 0)
	cur := &followertest.MemCursor{}
	_ = cur.SaveCursor(context.Background(), "preview", []chain.Point{{Slot: 999999, Hash: bytes.Repeat([]byte{7}, 32)}})
	f, err := follower.New(follower.Options{Network: chain.Preview, Batch: followertest.BatchOptions(),
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink:    &followertest.Recorder{}, Cursor: cur})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Run(ctx); !errors.Is(err, follower.ErrIntersectNotFound) {
		t.Fatalf("Run: %v, want ErrIntersectNotFound", err)
	}
}

// Issue 6: a rollback happens while the follower is down. On restart its
// newest cursor point is no longer on the node's chain; it intersects at an
// older one, publishes the rollback, and the database ends equal to a clean
// load of the final chain.
func TestRollbackWhileDown(t *testing.T) {
	blocks := previewChain(t)[:3000]
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		cleanDB, _ := s.Open(t)
		want := followertest.CleanLoad(t, cleanDB, blocks)

		db, _ := s.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		srv, path := followertest.StartNode(t, blocks, 2500)
		opts := func(rec *followertest.Recorder) follower.Options {
			return follower.Options{
				Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
				Sink:    rec, Cursor: store, Batch: follower.BatchOptions{MaxBytes: 180 << 10, MaxMessageBytes: 256 << 10, MaxBlocks: 1, MaxWait: 10 * time.Millisecond},
			}
		}
		local := &follower.LocalSink{Applier: &ingest.Applier{Net: chain.Preview, Store: store}}
		r := followertest.Start(t, opts(&followertest.Recorder{Next: local}))
		r.WaitHead(t, srv.Tip(), 3*time.Minute)
		r.Stop(t)

		// While it is down the node drops its last 5 blocks.
		if err := srv.Rollback(5, nil); err != nil {
			t.Fatal(err)
		}
		rec := &followertest.Recorder{Next: local}
		r = followertest.Start(t, opts(rec))
		r.WaitHead(t, srv.Tip(), time.Minute)
		var rollbacks int
		for _, m := range rec.Messages() {
			if m.Env.Kind == batch.KindRollback {
				rollbacks++
				if !bytes.Equal(m.Env.Point.Hash, srv.Tip().Hash) {
					t.Errorf("rollback to %s, want the node's tip %s", m.Env.Point, srv.Tip())
				}
			}
		}
		if rollbacks != 1 {
			t.Fatalf("%d rollbacks published after restart, want 1", rollbacks)
		}
		var above int
		if err := db.QueryRow("SELECT COUNT(*) FROM block WHERE slot_no > ?", srv.Tip().Slot).Scan(&above); err != nil || above != 0 {
			t.Fatalf("%d blocks above the node's tip after the rollback (%v)", above, err)
		}
		srv.Extend(len(blocks))
		r.WaitHead(t, srv.Tip(), 3*time.Minute)
		got, err := chaindb.Checksums(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		for table, w := range want {
			if got[table] != w {
				t.Errorf("%s: %s, clean load %s", table, got[table], w)
			}
		}
		r.Stop(t) // saves the cursor, whose head verify checks
		rep, err := store.Verify(context.Background(), "preview", 10)
		if err != nil || !rep.OK() {
			t.Errorf("verify: %v %v", rep, err)
		}
	})
}

// Chunk files first, then the node from where they end (a Mithril snapshot
// or a node's db/immutable, then chain-sync).
func TestChunksThenNode(t *testing.T) {
	blocks := previewChain(t)[:216*20]
	dir := t.TempDir()
	for i := range 10 {
		name := fmt.Sprintf("%05d.chunk", i)
		abs, err := filepath.Abs(filepath.Join(previewDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	srv, path := followertest.StartNode(t, blocks, 0)
	rec := &followertest.Recorder{}
	r := followertest.Start(t, follower.Options{
		Sources: []follower.Source{&follower.ChunkSource{Dir: dir},
			&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink: rec, Cursor: &followertest.MemCursor{},
	})
	r.WaitHead(t, srv.Tip(), time.Minute)
	msgs := rec.Messages()
	got, err := followertest.Replay(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		t.Fatal(err)
	}
	// The chunk files' blocks are final: they all went to the history route.
	fromChunks := 0
	for _, m := range msgs {
		if m.Env.Last.Slot <= blocks[216*10-1].Point.Slot {
			if m.Route != follower.RouteHistory {
				t.Errorf("chunk batch %s went to the %s route", m.Env.Last, m.Route)
			}
			fromChunks += len(m.Env.Blocks)
		}
	}
	if fromChunks != 216*10 {
		t.Errorf("%d blocks from the chunk files, want %d", fromChunks, 216*10)
	}
}
