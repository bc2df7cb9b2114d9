package follower_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
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

// linkChunks makes a chunk directory of the preview chunks [from, to) as
// symbolic links into testdata.
func linkChunks(tb testing.TB, from, to int) string {
	tb.Helper()
	dir := tb.TempDir()
	for i := from; i < to; i++ {
		name := fmt.Sprintf("%05d.chunk", i)
		abs, err := filepath.Abs(filepath.Join(previewDir, name))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func kinds(msgs []follower.Message) map[batch.Kind]int {
	out := map[batch.Kind]int{}
	for _, m := range msgs {
		out[m.Env.Kind]++
	}
	return out
}

// Issue 11: a second `nectar follow` over unchanged chunk files publishes
// nothing. It used to intersect at the oldest cursor point and roll back from
// the newest, re-sending what lay between. A cursor whose newest point lies
// inside the chunk files resumes right after it.
func TestChunkRestartDoesNotRollBack(t *testing.T) {
	blocks := previewChain(t)[:216*10]
	dir := linkChunks(t, 0, 10)
	cur := &followertest.MemCursor{}
	run := func() []follower.Message {
		t.Helper()
		rec := &followertest.Recorder{}
		r := followertest.Start(t, follower.Options{Sources: []follower.Source{&follower.ChunkSource{Dir: dir}}, Sink: rec, Cursor: cur})
		r.Wait(t, time.Minute)
		r.Stop(t)
		return rec.Messages()
	}
	first := run()
	got, err := followertest.Replay(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		t.Fatal(err)
	}
	saved, _ := cur.LoadCursor(context.Background(), "preview")
	if len(saved) < 2 {
		t.Fatalf("cursor has %d points after the first run", len(saved))
	}
	if again := run(); len(again) != 0 {
		t.Fatalf("second run over the same chunk files published %d messages %v (first: %s to %s); want none",
			len(again), kinds(again), again[0].Env.Point, again[0].Env.From)
	}

	// The newest cursor point inside the chunk files wins over older ones.
	newest, older := blocks[1500].Point, blocks[100].Point
	if err := cur.SaveCursor(context.Background(), "preview", []chain.Point{newest, older}); err != nil {
		t.Fatal(err)
	}
	resumed := run()
	if k := kinds(resumed); k[batch.KindRollback] != 0 || len(resumed) == 0 {
		t.Fatalf("resumed with %v", k)
	}
	if !bytes.Equal(resumed[0].Env.PrevHash, newest.Hash) {
		t.Fatalf("resumed after %x, want after the newest cursor point %s", resumed[0].Env.PrevHash, newest)
	}
	n := 0
	for _, m := range resumed {
		n += len(m.Env.Blocks)
	}
	if n != len(blocks)-1501 {
		t.Errorf("resumed with %d blocks, want %d", n, len(blocks)-1501)
	}
}

// Issue 11: chunk files, then the node. Once the cursor is beyond the last
// chunk, a restart hands over to the node at once: the chunk source reads
// only the last chunk (the others are made unreadable here) instead of
// reading them all and failing with "intersect not found".
func TestChunksThenNodeRestartBeyondChunks(t *testing.T) {
	blocks := previewChain(t)[:216*20]
	dir := linkChunks(t, 0, 10)
	srv, path := followertest.StartNode(t, blocks, 216*15)
	cur := &followertest.MemCursor{}
	opts := func(rec *followertest.Recorder) follower.Options {
		return follower.Options{
			Sources: []follower.Source{&follower.ChunkSource{Dir: dir},
				&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
			Sink: rec, Cursor: cur,
		}
	}
	rec1 := &followertest.Recorder{}
	r := followertest.Start(t, opts(rec1))
	r.WaitHead(t, srv.Tip(), time.Minute)
	r.Stop(t)

	for i := range 9 {
		p := filepath.Join(dir, fmt.Sprintf("%05d.chunk", i))
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("not a chunk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec2 := &followertest.Recorder{}
	r = followertest.Start(t, opts(rec2))
	srv.Extend(len(blocks))
	r.WaitHead(t, srv.Tip(), 30*time.Second)
	got, err := followertest.Replay(append(rec1.Messages(), rec2.Messages()...))
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		t.Fatal(err)
	}
}

// freezableCursor stops saving while frozen: the follower publishes, its
// cursor stays behind, as when it is killed between a publish and the next
// save (about once a second).
type freezableCursor struct {
	follower.CursorStore
	frozen atomic.Bool
}

func (c *freezableCursor) SaveCursor(ctx context.Context, network string, points []chain.Point) error {
	if c.frozen.Load() {
		return nil
	}
	return c.CursorStore.SaveCursor(ctx, network, points)
}

// Issue 11: blocks published after the last saved cursor, then the follower
// dies, then the node abandons those blocks. On restart the intersection is
// the saved head, and the follower publishes a rollback to it anyway (it is
// within k of the tip), from a point at or above everything it may have
// published: the abandoned blocks and their rows go.
func TestForkWhileDownAfterUnsavedPublish(t *testing.T) {
	servers := dbtest.Servers(t)
	if len(servers) == 0 {
		return
	}
	s := servers[len(servers)-1] // MariaDB when configured: the quickest to migrate twice
	blocks := previewChain(t)[:1200]
	const visible, unsaved = 1000, 3
	cleanDB, _ := s.Open(t)
	want := followertest.CleanLoad(t, cleanDB, blocks)

	db, _ := s.Open(t)
	store := chaindb.New(db, chaindb.Options{})
	cur := &freezableCursor{CursorStore: store}
	srv, path := followertest.StartNode(t, blocks, visible)
	local := &follower.LocalSink{Applier: &ingest.Applier{Net: chain.Preview, Store: store}}
	opts := func(rec *followertest.Recorder) follower.Options {
		return follower.Options{
			Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
			Sink:    rec, Cursor: cur,
		}
	}
	r := followertest.Start(t, opts(&followertest.Recorder{Next: local}))
	saved := srv.Tip()
	r.WaitHead(t, saved, 2*time.Minute)
	waitSaved(t, store, saved)
	cur.frozen.Store(true)
	srv.Extend(unsaved)
	r.WaitHead(t, srv.Tip(), time.Minute)
	abandoned := srv.Tip()
	r.Stop(t)
	cur.frozen.Store(false)

	// While it is down the node abandons the unsaved blocks.
	if err := srv.Rollback(unsaved, nil); err != nil {
		t.Fatal(err)
	}
	rec := &followertest.Recorder{Next: local}
	r = followertest.Start(t, opts(rec))
	var rollbacks []follower.Message
	deadline := time.Now().Add(20 * time.Second)
	for len(rollbacks) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		for _, m := range rec.Messages() {
			if m.Env.Kind == batch.KindRollback {
				rollbacks = append(rollbacks, m)
			}
		}
	}
	var above int
	if err := db.QueryRow("SELECT COUNT(*) FROM block WHERE slot_no > ?", saved.Slot).Scan(&above); err != nil {
		t.Fatal(err)
	}
	if len(rollbacks) != 1 {
		t.Fatalf("%d rollbacks published after the restart, want 1; %d abandoned blocks above the saved head %s remain", len(rollbacks), above, saved)
	}
	rb := rollbacks[0].Env
	if !bytes.Equal(rb.Point.Hash, saved.Hash) || rollbacks[0].Route != follower.RouteTip {
		t.Errorf("rollback to %s on the %s route, want to the saved head %s on the tip route", rb.Point, rollbacks[0].Route, saved)
	}
	if rb.From.Slot < abandoned.Slot {
		t.Errorf("rollback from slot %d: below the abandoned head %s, so (point, from] misses it", rb.From.Slot, abandoned)
	}
	if above != 0 {
		t.Errorf("%d abandoned blocks above %s after the rollback", above, saved)
	}
	srv.Extend(len(blocks))
	r.WaitHead(t, srv.Tip(), time.Minute)
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
}

// waitSaved waits until the persisted cursor's newest point is p.
func waitSaved(tb testing.TB, c follower.CursorStore, p chain.Point) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		pts, err := c.LoadCursor(context.Background(), "preview")
		if err != nil {
			tb.Fatal(err)
		}
		if len(pts) > 0 && bytes.Equal(pts[0].Hash, p.Hash) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("cursor not saved at %s", p)
}

// Issue 11: a rollback deeper than the cursor's 20 newest points happens
// while the follower is down. At the tip every batch is a block, so 20 points
// reached 20 blocks back and the restart failed with "intersect not found";
// points spaced back past k let it intersect and roll back.
func TestRollbackWhileDownBeyondRecentPoints(t *testing.T) {
	blocks := previewChain(t)[:3000]
	const depth = 300 // within k = 432
	srv, path := followertest.StartNode(t, blocks, 0)
	cur := &followertest.MemCursor{}
	opts := func(rec *followertest.Recorder) follower.Options {
		return follower.Options{
			Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
			Sink:    rec, Cursor: cur,
			Batch: follower.BatchOptions{MaxBytes: 180 << 10, MaxMessageBytes: 256 << 10, MaxBlocks: 1, MaxWait: time.Millisecond},
		}
	}
	rec1 := &followertest.Recorder{}
	r := followertest.Start(t, opts(rec1))
	r.WaitHead(t, srv.Tip(), time.Minute)
	r.Stop(t)
	points, _ := cur.LoadCursor(context.Background(), "preview")
	if err := srv.Rollback(depth, nil); err != nil {
		t.Fatal(err)
	}
	rec2 := &followertest.Recorder{}
	r = followertest.Start(t, opts(rec2))
	r.WaitHead(t, srv.Tip(), 30*time.Second)
	var rbs []*batch.Envelope
	for _, m := range rec2.Messages() {
		if m.Env.Kind == batch.KindRollback {
			rbs = append(rbs, m.Env)
		}
	}
	if len(rbs) != 1 {
		t.Fatalf("%d rollbacks after the restart, want 1 (cursor of %d points)", len(rbs), len(points))
	}
	// The intersection is the newest cursor point at least depth blocks down,
	// and the spacing keeps it within twice the depth.
	var at int
	for i, b := range blocks {
		if bytes.Equal(b.Point.Hash, rbs[0].Point.Hash) {
			at = i
		}
	}
	if d := len(blocks) - 1 - at; d < depth || d > 2*depth+20 {
		t.Errorf("intersected %d blocks below the old head for a rollback of %d (cursor %d points)", d, depth, len(points))
	}
	srv.Extend(depth)
	r.WaitHead(t, srv.Tip(), 30*time.Second)
	got, err := followertest.Replay(append(rec1.Messages(), rec2.Messages()...))
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		t.Fatal(err)
	}
}

// The chunk source finds a cursor point by slot, also where two blocks share
// one (the genesis EBB and the first Byron block, both at slot 0).
func TestChunkSourceIntersectsAtSharedSlot(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs("../testdata/chains/mainnet-byron/00000.chunk")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "00000.chunk")); err != nil {
		t.Fatal(err)
	}
	blocks, err := nodesim.LoadChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if blocks[0].Point.Slot != 0 || blocks[1].Point.Slot != 0 {
		t.Fatalf("first blocks at slots %d and %d", blocks[0].Point.Slot, blocks[1].Point.Slot)
	}
	for i := range 3 {
		t.Run(fmt.Sprintf("after block %d", i), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := make(chan follower.Event, 16)
			errc := make(chan error, 1)
			go func() { errc <- (&follower.ChunkSource{Dir: dir}).Follow(ctx, []chain.Point{blocks[i].Point}, out) }()
			first, next := <-out, <-out
			if first.Forward || !bytes.Equal(first.Point.Hash, blocks[i].Point.Hash) {
				t.Fatalf("first event %+v, want the rollback to %s", first.Point, blocks[i].Point)
			}
			if !next.Forward || !bytes.Equal(next.Header.Point.Hash, blocks[i+1].Point.Hash) {
				t.Fatalf("then %s, want block %d %s", next.Header.Point, i+1, blocks[i+1].Point)
			}
			cancel()
			<-errc
		})
	}
}

// frozenMem is a MemCursor whose saves are lost while frozen (its tip mark
// is not: the follower raises it before it publishes).
type frozenMem struct {
	*followertest.MemCursor
	frozen atomic.Bool
}

func (c *frozenMem) SaveCursor(ctx context.Context, network string, points []chain.Point) error {
	if c.frozen.Load() {
		return nil
	}
	return c.MemCursor.SaveCursor(ctx, network, points)
}

// Issue 11, found by the simulation: blocks published after the last saved
// cursor, then the follower dies and stays down while the chain moves more
// than k on. The restart is deep, so it used to publish no rollback, and
// blocks of the dead run that a fork abandoned stayed. The follower raises a
// tip mark before publishing on the tip route; a deep restart below the mark
// rolls back to its intersection from the mark, and sends what follows up to
// the mark on the tip route, after the rollback.
func TestDeepRestartRollsBackFromTheTipMark(t *testing.T) {
	blocks := previewChain(t)[:1500]
	srv, path := followertest.StartNode(t, blocks, 1000)
	cur := &frozenMem{MemCursor: &followertest.MemCursor{}}
	opts := func(rec *followertest.Recorder) follower.Options {
		return follower.Options{Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
			Sink: rec, Cursor: cur}
	}
	rec1 := &followertest.Recorder{}
	r := followertest.Start(t, opts(rec1))
	saved := srv.Tip()
	r.WaitHead(t, saved, time.Minute)
	waitSaved(t, cur, saved)
	cur.frozen.Store(true)
	srv.Extend(3)
	r.WaitHead(t, srv.Tip(), time.Minute)
	unsaved := srv.Tip()
	r.Stop(t)
	cur.frozen.Store(false)
	if mark, _ := cur.LoadTipMark(context.Background(), "preview"); mark < unsaved.Slot {
		t.Fatalf("tip mark %d below the last published tip block %s", mark, unsaved)
	}

	// While it is down the node switches away from the unsaved blocks and
	// back, and moves more than k on.
	if err := srv.Rollback(3, nil); err != nil {
		t.Fatal(err)
	}
	srv.Extend(500)
	rec2 := &followertest.Recorder{}
	r = followertest.Start(t, opts(rec2))
	r.WaitHead(t, srv.Tip(), time.Minute)
	r.Stop(t)
	msgs := rec2.Messages()
	var rollbacks []follower.Message
	for _, m := range msgs {
		if m.Env.Kind == batch.KindRollback {
			rollbacks = append(rollbacks, m)
		}
	}
	if len(rollbacks) != 1 || rollbacks[0].Seq != msgs[0].Seq {
		t.Fatalf("%d rollbacks after the deep restart (%v), want one, first", len(rollbacks), kinds(msgs))
	}
	rb := rollbacks[0]
	if !bytes.Equal(rb.Env.Point.Hash, saved.Hash) || rb.Env.From.Slot < unsaved.Slot || rb.Route != follower.RouteTip {
		t.Errorf("rollback to %s from slot %d on the %s route; want to %s from at least %d on the tip route",
			rb.Env.Point, rb.Env.From.Slot, rb.Route, saved, unsaved.Slot)
	}
	for _, m := range msgs {
		if m.Env.Kind == batch.KindBlocks && m.Env.First.Slot <= rb.Env.From.Slot && m.Route != follower.RouteTip {
			t.Errorf("blocks %s-%s below the rollback's From went on the %s route: they could land before it", m.Env.First, m.Env.Last, m.Route)
		}
	}
	got, err := followertest.Replay(append(rec1.Messages(), msgs...))
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		t.Fatal(err)
	}
}
