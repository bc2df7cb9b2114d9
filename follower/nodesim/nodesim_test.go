package nodesim_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	ouroboros "github.com/blinklabs-io/gouroboros"
	"github.com/blinklabs-io/gouroboros/protocol/chainsync"
	pcommon "github.com/blinklabs-io/gouroboros/protocol/common"
	"go.uber.org/goleak"

	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/chain"
)

const (
	previewMagic  = 2
	previewDir    = "../../testdata/chains/preview"
	previewBlocks = 59315 // all 300 preview chunks (testdata/chains/SUMMARY.tsv)
	waitTimeout   = 20 * time.Second
)

var (
	previewOnce sync.Once
	preview     []nodesim.Block
	previewErr  error
)

// previewChain loads the repository's preview chunks once per test binary.
func previewChain(tb testing.TB) []nodesim.Block {
	tb.Helper()
	previewOnce.Do(func() { preview, previewErr = nodesim.LoadChunks(previewDir) })
	if previewErr != nil {
		tb.Fatalf("load preview chunks: %v", previewErr)
	}
	return preview
}

// checkLeaks fails the test if it leaves goroutines behind. Register it first:
// cleanups run last-in first-out, so it runs after the others.
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// startServer serves opts on a unix socket in a temporary directory.
func startServer(t *testing.T, opts nodesim.Options) (*nodesim.Server, string) {
	t.Helper()
	if opts.NetworkMagic == 0 {
		opts.NetworkMagic = previewMagic
	}
	srv, err := nodesim.New(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	path := filepath.Join(t.TempDir(), "node.socket")
	if err := srv.ListenUnix(path); err != nil {
		t.Fatalf("listen: %v", err)
	}
	return srv, path
}

type eventKind int

const (
	rollForward eventKind = iota
	rollBackward
	awaitReply
)

func (k eventKind) String() string {
	return [...]string{"RollForward", "RollBackward", "AwaitReply"}[k]
}

// event is one chain-sync reply as the gouroboros client delivered it.
type event struct {
	kind      eventKind
	blockType uint
	cbor      []byte
	point     pcommon.Point // RollBackward only
	tip       chainsync.Tip
}

// client is a real gouroboros Node-to-Client chain-sync client.
type client struct {
	oc     *ouroboros.Connection
	events chan event
	errs   chan error
	stop   chan struct{}
}

func dial(t *testing.T, network, addr string, magic uint32) (*client, error) {
	t.Helper()
	c := &client{
		events: make(chan event, 2*previewBlocks),
		errs:   make(chan error, 10),
		stop:   make(chan struct{}),
	}
	deliver := func(e event) error {
		select {
		case c.events <- e:
			return nil
		case <-c.stop:
			return chainsync.ErrStopSyncProcess
		}
	}
	cfg := chainsync.NewConfig(
		chainsync.WithRollForwardRawFunc(func(_ chainsync.CallbackContext, blockType uint, cbor []byte, tip chainsync.Tip) error {
			return deliver(event{kind: rollForward, blockType: blockType, cbor: bytes.Clone(cbor), tip: tip})
		}),
		chainsync.WithRollBackwardFunc(func(_ chainsync.CallbackContext, p pcommon.Point, tip chainsync.Tip) error {
			return deliver(event{kind: rollBackward, point: p, tip: tip})
		}),
		chainsync.WithAwaitReplyFunc(func(chainsync.CallbackContext) error {
			return deliver(event{kind: awaitReply})
		}),
	)
	oc, err := ouroboros.NewConnection(
		ouroboros.WithNetworkMagic(magic),
		ouroboros.WithNodeToNode(false),
		ouroboros.WithChainSyncConfig(cfg),
		ouroboros.WithErrorChan(c.errs),
		ouroboros.WithMuxerSegmentReadTimeout(0),
	)
	if err != nil {
		return nil, fmt.Errorf("new connection: %w", err)
	}
	c.oc = oc
	dialed := make(chan error, 1)
	go func() { dialed <- oc.DialTimeout(network, addr, waitTimeout) }()
	select {
	case err := <-dialed:
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("dial %s: no handshake within %s", addr, waitTimeout)
	}
	t.Cleanup(c.close)
	return c, nil
}

func mustDial(t *testing.T, path string) *client {
	t.Helper()
	c, err := dial(t, "unix", path, previewMagic)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *client) close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	_ = c.oc.Close()
}

// sync runs FindIntersect with points and starts pipelined RequestNext.
func (c *client) sync(t *testing.T, points ...chain.Point) error {
	t.Helper()
	var ps []pcommon.Point
	for _, p := range points {
		if p.Hash == nil {
			ps = append(ps, pcommon.NewPointOrigin())
		} else {
			ps = append(ps, pcommon.NewPoint(p.Slot, p.Hash))
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.oc.ChainSync().Client.Sync(ps) }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("sync: no intersection reply within %s", waitTimeout)
		return nil
	}
}

// next returns the next reply the client received.
func (c *client) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-c.events:
		return e
	case err := <-c.errs:
		t.Fatalf("client error while waiting for a reply: %v", err)
	case <-time.After(waitTimeout):
		t.Fatalf("no chain-sync reply within %s", waitTimeout)
	}
	return event{}
}

func (c *client) expectBackward(t *testing.T, want chain.Point, tip chain.Point) {
	t.Helper()
	e := c.next(t)
	if e.kind != rollBackward {
		t.Fatalf("got %v, want RollBackward to %s", e.kind, want)
	}
	if got := toPoint(e.point); !samePoint(got, want) {
		t.Fatalf("RollBackward to %s, want %s", got, want)
	}
	if got := toPoint(e.tip.Point); !samePoint(got, tip) {
		t.Fatalf("RollBackward tip %s, want %s", got, tip)
	}
}

// expectForward checks that the next replies are RollForward with exactly
// blocks, in order, carrying the block type and CBOR unchanged.
func (c *client) expectForward(t *testing.T, blocks []nodesim.Block, tip chain.Point) {
	t.Helper()
	for i, want := range blocks {
		e := c.next(t)
		if e.kind != rollForward {
			t.Fatalf("block %d of %d: got %v, want RollForward", i, len(blocks), e.kind)
		}
		if e.blockType != want.Type || !bytes.Equal(e.cbor, want.CBOR) {
			t.Fatalf("block %d of %d: got type %d (%d bytes), want %s type %d (%d bytes)",
				i, len(blocks), e.blockType, len(e.cbor), want.Point, want.Type, len(want.CBOR))
		}
		if got := toPoint(e.tip.Point); !samePoint(got, tip) {
			t.Fatalf("block %d: tip %s, want %s", i, got, tip)
		}
	}
}

func (c *client) expectAwait(t *testing.T) {
	t.Helper()
	if e := c.next(t); e.kind != awaitReply {
		t.Fatalf("got %v, want AwaitReply", e.kind)
	}
}

// expectError waits for the connection to report an error.
func (c *client) expectError(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.errs:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("no client error within %s", waitTimeout)
		return nil
	}
}

func toPoint(p pcommon.Point) chain.Point {
	if p.Slot == 0 && len(p.Hash) == 0 {
		return chain.Point{}
	}
	return chain.Point{Slot: p.Slot, Hash: p.Hash}
}

func samePoint(a, b chain.Point) bool {
	return a.Slot == b.Slot && bytes.Equal(a.Hash, b.Hash)
}

func TestSyncAllFromOrigin(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	if len(blocks) != previewBlocks {
		t.Fatalf("preview chunks hold %d blocks, want %d", len(blocks), previewBlocks)
	}
	_, path := startServer(t, nodesim.Options{ChunkDir: previewDir})
	c := mustDial(t, path)
	if err := c.sync(t, chain.Point{}); err != nil {
		t.Fatalf("sync from origin: %v", err)
	}
	tip := blocks[len(blocks)-1].Point
	c.expectBackward(t, chain.Point{}, tip)
	var prev chain.Header
	for i := range blocks {
		e := c.next(t)
		if e.kind != rollForward {
			t.Fatalf("reply %d: got %v, want RollForward", i, e.kind)
		}
		h, err := chain.ReadHeader(e.blockType, e.cbor)
		if err != nil {
			t.Fatalf("block %d: read header: %v", i, err)
		}
		if !samePoint(h.Point, blocks[i].Point) || e.blockType != blocks[i].Type {
			t.Fatalf("block %d: got %s type %d, want %s type %d", i, h.Point, e.blockType, blocks[i].Point, blocks[i].Type)
		}
		if i > 0 && (!bytes.Equal(h.PrevHash, prev.Point.Hash) || h.BlockNo != prev.BlockNo+1) {
			t.Fatalf("block %d (%s): prev hash %x / block no %d does not follow %s / %d",
				i, h.Point, h.PrevHash, h.BlockNo, prev.Point, prev.BlockNo)
		}
		if got := toPoint(e.tip.Point); !samePoint(got, tip) || e.tip.BlockNumber != blocks[len(blocks)-1].BlockNo {
			t.Fatalf("block %d: tip %s #%d, want %s", i, got, e.tip.BlockNumber, tip)
		}
		prev = h
	}
	c.expectAwait(t)
}

func TestIntersect(t *testing.T) {
	blocks := previewChain(t)
	unknown := chain.Point{Slot: blocks[2000].Point.Slot, Hash: bytes.Repeat([]byte{0xab}, 32)}
	tests := []struct {
		name   string
		points []chain.Point
		want   int // index of the intersection block; -1 is the origin
	}{
		{"middle", []chain.Point{blocks[2000].Point}, 2000},
		{"newest of several", []chain.Point{unknown, blocks[1000].Point, blocks[2000].Point, {}}, 2000},
		{"origin", []chain.Point{{}}, -1},
		{"tip", []chain.Point{blocks[len(blocks)-1].Point}, len(blocks) - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			_, path := startServer(t, nodesim.Options{Blocks: blocks})
			c := mustDial(t, path)
			if err := c.sync(t, tt.points...); err != nil {
				t.Fatalf("sync: %v", err)
			}
			tip := blocks[len(blocks)-1].Point
			var at chain.Point
			if tt.want >= 0 {
				at = blocks[tt.want].Point
			}
			c.expectBackward(t, at, tip)
			rest := blocks[tt.want+1:]
			c.expectForward(t, rest[:min(len(rest), 5)], tip)
		})
	}
}

func TestIntersectNotFound(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	_, path := startServer(t, nodesim.Options{Blocks: blocks[:100]})
	c := mustDial(t, path)
	points := []chain.Point{
		blocks[200].Point, // a real block the server has not revealed
		{Slot: blocks[50].Point.Slot, Hash: bytes.Repeat([]byte{1}, 32)}, // right slot, wrong hash
		{Slot: blocks[50].Point.Slot + 1, Hash: blocks[50].Point.Hash},   // right hash, wrong slot
	}
	if err := c.sync(t, points...); !errors.Is(err, chainsync.ErrIntersectNotFound) {
		t.Fatalf("sync: got %v, want %v", err, chainsync.ErrIntersectNotFound)
	}
}

func TestExtendAtTip(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	srv, path := startServer(t, nodesim.Options{Blocks: blocks[:20], InitialTip: nodesim.TipOrigin})
	if tip := srv.Tip(); tip.Hash != nil {
		t.Fatalf("initial tip %s, want origin", tip)
	}
	c := mustDial(t, path)
	if err := c.sync(t); err != nil {
		t.Fatalf("sync: %v", err)
	}
	c.expectBackward(t, chain.Point{}, chain.Point{})
	c.expectAwait(t)

	if n := srv.Extend(3); n != 3 {
		t.Fatalf("Extend(3) added %d", n)
	}
	c.expectForward(t, blocks[:3], blocks[2].Point)
	c.expectAwait(t)
	if n := srv.Extend(100); n != 17 {
		t.Fatalf("Extend(100) with 17 prepared blocks left added %d", n)
	}
	c.expectForward(t, blocks[3:20], blocks[19].Point)
	c.expectAwait(t)
	if n := srv.Extend(1); n != 0 {
		t.Fatalf("Extend past the prepared blocks added %d", n)
	}
	if tip := srv.Tip(); !samePoint(tip, blocks[19].Point) {
		t.Fatalf("tip %s, want %s", tip, blocks[19].Point)
	}
}

func TestRollbackAtTip(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	srv, path := startServer(t, nodesim.Options{Blocks: blocks[:300], InitialTip: 200})
	c := mustDial(t, path)
	if err := c.sync(t, blocks[150].Point); err != nil {
		t.Fatalf("sync: %v", err)
	}
	c.expectBackward(t, blocks[150].Point, blocks[199].Point)
	c.expectForward(t, blocks[151:200], blocks[199].Point)
	c.expectAwait(t)

	if err := srv.Rollback(10, nil); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if tip := srv.Tip(); !samePoint(tip, blocks[189].Point) {
		t.Fatalf("tip after rollback %s, want %s", tip, blocks[189].Point)
	}
	c.expectBackward(t, blocks[189].Point, blocks[189].Point)
	c.expectAwait(t)

	// Without a fork the dropped blocks come back first.
	if n := srv.Extend(12); n != 12 {
		t.Fatalf("Extend(12) added %d", n)
	}
	c.expectForward(t, blocks[190:202], blocks[201].Point)
	c.expectAwait(t)
}

func TestRollbackToFork(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	srv, path := startServer(t, nodesim.Options{Blocks: blocks[:100]})
	c := mustDial(t, path)
	if err := c.sync(t, blocks[89].Point); err != nil {
		t.Fatalf("sync: %v", err)
	}
	c.expectBackward(t, blocks[89].Point, blocks[99].Point)
	c.expectForward(t, blocks[90:100], blocks[99].Point)
	c.expectAwait(t)

	// Blocks from elsewhere, with only type and CBOR: the server reads their points.
	var fork []nodesim.Block
	for _, b := range blocks[3000:3003] {
		fork = append(fork, nodesim.Block{Type: b.Type, CBOR: b.CBOR})
	}
	if err := srv.Rollback(5, fork); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	tip := blocks[3002].Point
	c.expectBackward(t, blocks[94].Point, tip)
	c.expectForward(t, blocks[3000:3003], tip)
	c.expectAwait(t)

	// A second client sees only the new chain.
	c2 := mustDial(t, path)
	if err := c2.sync(t, blocks[93].Point); err != nil {
		t.Fatalf("sync: %v", err)
	}
	c2.expectBackward(t, blocks[93].Point, tip)
	c2.expectForward(t, blocks[94:95], tip)
	c2.expectForward(t, blocks[3000:3003], tip)
	c2.expectAwait(t)
	// A point the rollback dropped no longer intersects.
	c3 := mustDial(t, path)
	if err := c3.sync(t, blocks[97].Point); !errors.Is(err, chainsync.ErrIntersectNotFound) {
		t.Fatalf("sync at a dropped point: got %v, want %v", err, chainsync.ErrIntersectNotFound)
	}
}

// TestRollbackMidStream rolls back below a client that is still catching up,
// with replies to its pipelined requests in flight: whatever it has received
// by then, applying the replies in order must leave it on the server's chain.
func TestRollbackMidStream(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	srv, path := startServer(t, nodesim.Options{Blocks: blocks[:2000]})
	c := mustDial(t, path)
	if err := c.sync(t); err != nil {
		t.Fatalf("sync: %v", err)
	}
	var held []nodesim.Block // the client's chain, built from the replies
	index := make(map[string]int, len(blocks))
	for i, b := range blocks {
		index[string(b.Point.Hash)] = i
	}
	apply := func(e event) {
		t.Helper()
		switch e.kind {
		case rollForward:
			h, err := chain.ReadHeader(e.blockType, e.cbor)
			if err != nil {
				t.Fatalf("read header: %v", err)
			}
			if n := len(held); n > 0 && !bytes.Equal(h.PrevHash, held[n-1].Point.Hash) {
				t.Fatalf("block %s does not follow %s", h.Point, held[n-1].Point)
			}
			held = append(held, blocks[index[string(h.Point.Hash)]])
		case rollBackward:
			n := 0
			if e.point.Hash != nil {
				n = index[string(e.point.Hash)] + 1
			}
			if n > len(held) || (n > 0 && !samePoint(held[n-1].Point, toPoint(e.point))) {
				t.Fatalf("RollBackward to %s, which the client does not hold", toPoint(e.point))
			}
			held = held[:n]
		}
	}
	for len(held) < 500 {
		apply(c.next(t))
	}
	if err := srv.Rollback(1600, nil); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	// The replies already sent arrive first, then the rollback to block 399.
	for {
		e := c.next(t)
		if e.kind == awaitReply {
			t.Fatal("client reached the tip without rolling back")
		}
		apply(e)
		if e.kind == rollBackward {
			if !samePoint(toPoint(e.point), blocks[399].Point) {
				t.Fatalf("RollBackward to %s, want %s", toPoint(e.point), blocks[399].Point)
			}
			break
		}
	}
	if n := srv.Extend(1600); n != 1600 {
		t.Fatalf("Extend(1600) added %d", n)
	}
	for {
		e := c.next(t)
		if e.kind == awaitReply && len(held) == 2000 {
			break
		}
		apply(e)
	}
	for i := range held {
		if !samePoint(held[i].Point, blocks[i].Point) {
			t.Fatalf("client block %d is %s, want %s", i, held[i].Point, blocks[i].Point)
		}
	}
}

func TestRollbackInvalid(t *testing.T) {
	blocks := previewChain(t)
	srv, err := nodesim.New(nodesim.Options{NetworkMagic: previewMagic, Blocks: blocks[:10]})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tests := []struct {
		name  string
		depth int
		fork  []nodesim.Block
	}{
		{"negative depth", -1, nil},
		{"deeper than the chain", 11, nil},
		{"fork block already on the chain", 2, blocks[5:6]},
		{"fork block twice", 2, []nodesim.Block{blocks[20], blocks[20]}},
		{"undecodable fork block", 2, []nodesim.Block{{Type: 6, CBOR: []byte{0x80}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := srv.Rollback(tt.depth, tt.fork); err == nil {
				t.Fatal("rollback succeeded, want an error")
			}
			if tip := srv.Tip(); !samePoint(tip, blocks[9].Point) {
				t.Fatalf("a failed rollback moved the tip to %s", tip)
			}
		})
	}
}

func TestDisconnectAll(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	srv, path := startServer(t, nodesim.Options{Blocks: blocks[:50]})
	c := mustDial(t, path)
	if err := c.sync(t, blocks[40].Point); err != nil {
		t.Fatalf("sync: %v", err)
	}
	c.expectBackward(t, blocks[40].Point, blocks[49].Point)
	c.expectForward(t, blocks[41:50], blocks[49].Point)
	c.expectAwait(t)

	srv.DisconnectAll()
	if err := c.expectError(t); err == nil {
		t.Fatal("client error channel delivered nil")
	}

	// The server keeps listening: a new connection starts over.
	c2 := mustDial(t, path)
	if err := c2.sync(t, blocks[48].Point); err != nil {
		t.Fatalf("sync after reconnect: %v", err)
	}
	c2.expectBackward(t, blocks[48].Point, blocks[49].Point)
	c2.expectForward(t, blocks[49:50], blocks[49].Point)
	c2.expectAwait(t)
}

func TestCloseWithWaitingClient(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	srv, path := startServer(t, nodesim.Options{Blocks: blocks[:5]})
	c := mustDial(t, path)
	if err := c.sync(t); err != nil {
		t.Fatalf("sync: %v", err)
	}
	c.expectBackward(t, chain.Point{}, blocks[4].Point)
	c.expectForward(t, blocks[:5], blocks[4].Point)
	c.expectAwait(t)

	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("close did not return within %s", waitTimeout)
	}
	c.expectError(t)
	if err := srv.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := srv.ListenUnix(filepath.Join(t.TempDir(), "again.socket")); !errors.Is(err, nodesim.ErrClosed) {
		t.Fatalf("listen after close: got %v, want %v", err, nodesim.ErrClosed)
	}
}

func TestConcurrentClients(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	srv, path := startServer(t, nodesim.Options{Blocks: blocks, InitialTip: 1000})
	const clients = 3
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = mustDial(t, path)
		if err := cs[i].sync(t); err != nil {
			t.Fatalf("client %d: sync: %v", i, err)
		}
	}
	// Grow the tip while they sync: each must still see every block once, in order.
	for i, c := range cs {
		wg.Go(func() {
			got := 0
			for got < 1500 {
				var e event
				select {
				case e = <-c.events:
				case err := <-c.errs:
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				case <-time.After(waitTimeout):
					errs <- fmt.Errorf("client %d: stalled after %d blocks", i, got)
					return
				}
				switch e.kind {
				case rollForward:
					if !bytes.Equal(e.cbor, blocks[got].CBOR) {
						errs <- fmt.Errorf("client %d: reply %d is not block %s", i, got, blocks[got].Point)
						return
					}
					got++
				case rollBackward:
					if got != 0 || e.point.Hash != nil {
						errs <- fmt.Errorf("client %d: unexpected RollBackward after %d blocks", i, got)
						return
					}
				}
			}
		})
	}
	for range 5 {
		srv.Extend(100)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestWrongNetworkMagic(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	_, path := startServer(t, nodesim.Options{Blocks: blocks[:5]})
	if c, err := dial(t, "unix", path, 764824073); err == nil {
		c.close()
		t.Fatal("handshake with mainnet magic against a preview server succeeded")
	}
}

func TestListenTCP(t *testing.T) {
	checkLeaks(t)
	blocks := previewChain(t)
	srv, err := nodesim.New(nodesim.Options{NetworkMagic: previewMagic, Blocks: blocks[:3]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "localhost:0"} {
		if _, err := srv.ListenTCP(addr); err == nil {
			t.Errorf("ListenTCP(%q) succeeded, want loopback IPs only", addr)
		}
	}
	addr, err := srv.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	c, err := dial(t, "tcp", addr, previewMagic)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.sync(t); err != nil {
		t.Fatalf("sync: %v", err)
	}
	c.expectBackward(t, chain.Point{}, blocks[2].Point)
	c.expectForward(t, blocks[:3], blocks[2].Point)
	c.expectAwait(t)
}

func TestNewOptions(t *testing.T) {
	blocks := previewChain(t)
	tests := []struct {
		name    string
		opts    nodesim.Options
		wantErr bool
		tip     int // visible blocks
	}{
		{"all blocks by default", nodesim.Options{NetworkMagic: 2, Blocks: blocks[:10]}, false, 10},
		{"initial tip", nodesim.Options{NetworkMagic: 2, Blocks: blocks[:10], InitialTip: 4}, false, 4},
		{"empty chain", nodesim.Options{NetworkMagic: 2, Blocks: blocks[:10], InitialTip: nodesim.TipOrigin}, false, 0},
		{"no magic", nodesim.Options{Blocks: blocks[:10]}, true, 0},
		{"tip past the blocks", nodesim.Options{NetworkMagic: 2, Blocks: blocks[:10], InitialTip: 11}, true, 0},
		{"negative tip", nodesim.Options{NetworkMagic: 2, Blocks: blocks[:10], InitialTip: -2}, true, 0},
		{"blocks and chunks", nodesim.Options{NetworkMagic: 2, Blocks: blocks[:10], ChunkDir: previewDir}, true, 0},
		{"missing chunk dir", nodesim.Options{NetworkMagic: 2, ChunkDir: filepath.Join(t.TempDir(), "nope")}, true, 0},
		{"undecodable block", nodesim.Options{NetworkMagic: 2, Blocks: []nodesim.Block{{Type: 7, CBOR: []byte{0x01}}}}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := nodesim.New(tt.opts)
			if tt.wantErr {
				if err == nil {
					_ = srv.Close()
					t.Fatal("New succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer srv.Close()
			var want chain.Point
			if tt.tip > 0 {
				want = blocks[tt.tip-1].Point
			}
			if got := srv.Tip(); !samePoint(got, want) {
				t.Fatalf("tip %s, want %s", got, want)
			}
			if got := srv.Pending(); got != len(tt.opts.Blocks)-tt.tip {
				t.Fatalf("pending %d, want %d", got, len(tt.opts.Blocks)-tt.tip)
			}
		})
	}
}
