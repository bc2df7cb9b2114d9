// Package followertest holds helpers for testing the follower against the
// nodesim chain-sync server: a recording sink, an in-memory cursor store and
// a follower running in the background of a test.
package followertest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/ingest"
)

// Recorder is a Sink that keeps every message it accepts, optionally passing
// them on to another sink first.
type Recorder struct {
	Next follower.Sink
	mu   sync.Mutex
	msgs []follower.Message
}

// Publish implements follower.Sink.
func (r *Recorder) Publish(ctx context.Context, msgs []follower.Message) error {
	if r.Next != nil {
		if err := r.Next.Publish(ctx, msgs); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msgs...)
	return nil
}

// Messages returns the accepted messages in the order the follower cut them.
func (r *Recorder) Messages() []follower.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.msgs)
	slices.SortStableFunc(out, func(a, b follower.Message) int { return int(a.Seq) - int(b.Seq) })
	return out
}

// Replay applies the messages in order to a model of the chain (a list of
// points) and returns the final chain. It fails on a block that does not
// follow the chain's head, a rollback to a point not on it, and a block
// published twice (outside a re-sent whole batch after a rollback). A block
// whose header does not decode must be alone in its batch, which names it.
func Replay(msgs []follower.Message) ([]chain.Point, error) {
	var points []chain.Point
	var headHash []byte
	for _, m := range msgs {
		switch m.Env.Kind {
		case batch.KindRollback:
			i := slices.IndexFunc(points, func(p chain.Point) bool { return bytes.Equal(p.Hash, m.Env.Point.Hash) })
			if i < 0 && m.Env.Point.Hash != nil {
				return nil, fmt.Errorf("message %d: rollback to %s, not on the chain", m.Seq, m.Env.Point)
			}
			points = points[:i+1]
			headHash = m.Env.Point.Hash
		case batch.KindBlocks:
			if !bytes.Equal(m.Env.PrevHash, headHash) {
				return nil, fmt.Errorf("message %d: batch's previous hash %x is not the head %x", m.Seq, m.Env.PrevHash, headHash)
			}
			for _, b := range m.Env.Blocks {
				h, err := chain.ReadHeader(b.Type, b.CBOR)
				if err != nil {
					// A block whose header does not decode travels alone:
					// the batch's points and previous hash are its own.
					if len(m.Env.Blocks) != 1 {
						return nil, fmt.Errorf("message %d: an undecodable block shares a batch of %d: %w", m.Seq, len(m.Env.Blocks), err)
					}
					h = chain.Header{Point: m.Env.Last, PrevHash: m.Env.PrevHash}
				}
				if !bytes.Equal(h.PrevHash, headHash) {
					return nil, fmt.Errorf("message %d: block %s does not follow %x", m.Seq, h.Point, headHash)
				}
				points = append(points, h.Point)
				headHash = h.Point.Hash
			}
		}
	}
	return points, nil
}

// SameChain reports the first difference between a replayed chain and blocks.
func SameChain(got []chain.Point, want []nodesim.Block) error {
	if len(got) != len(want) {
		return fmt.Errorf("chain has %d blocks, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Hash, want[i].Point.Hash) {
			return fmt.Errorf("block %d is %s, want %s", i, got[i], want[i].Point)
		}
	}
	return nil
}

// MemCursor is an in-memory CursorStore and TipMarker.
type MemCursor struct {
	mu     sync.Mutex
	points map[string][]chain.Point
	marks  map[string]uint64
}

var _ follower.TipMarker = (*MemCursor)(nil)

// LoadTipMark implements follower.TipMarker.
func (c *MemCursor) LoadTipMark(_ context.Context, network string) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.marks[network], nil
}

// SaveTipMark implements follower.TipMarker.
func (c *MemCursor) SaveTipMark(_ context.Context, network string, slot uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.marks == nil {
		c.marks = map[string]uint64{}
	}
	c.marks[network] = max(c.marks[network], slot)
	return nil
}

// LoadCursor implements follower.CursorStore.
func (c *MemCursor) LoadCursor(_ context.Context, network string) ([]chain.Point, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.points[network]), nil
}

// SaveCursor implements follower.CursorStore.
func (c *MemCursor) SaveCursor(_ context.Context, network string, points []chain.Point) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.points == nil {
		c.points = map[string][]chain.Point{}
	}
	c.points[network] = slices.Clone(points)
	return nil
}

// Run is a follower running in the background of a test.
type Run struct {
	F        *follower.Follower
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
}

// BatchOptions are the tests' batches: SQS-sized, cut at the tip after 50 ms.
func BatchOptions() follower.BatchOptions {
	return follower.BatchOptions{MaxBytes: 180 << 10, MaxMessageBytes: 256 << 10, MaxBlocks: 500, MaxWait: 50 * time.Millisecond}
}

// Start runs a follower with opts until Stop or the end of the test. Unset
// options get test values: the preview network, BatchOptions, reconnects
// after 20-200 ms. With NECTAR_TEST_LOG set it logs at debug to stderr.
func Start(tb testing.TB, opts follower.Options) *Run {
	tb.Helper()
	if opts.Network.Name == "" {
		opts.Network = chain.Preview
	}
	if opts.Batch.MaxBytes == 0 {
		opts.Batch = BatchOptions()
	}
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin, opts.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond
	}
	if opts.Logger == nil && os.Getenv("NECTAR_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	f, err := follower.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{F: f, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f.Run(ctx) }()
	tb.Cleanup(func() { r.Stop(tb) })
	return r
}

// Stop cancels the follower and waits for Run to return, failing the test on
// an error or after a minute; it is idempotent.
func (r *Run) Stop(tb testing.TB) {
	tb.Helper()
	r.cancel()
	r.stopOnce.Do(func() {
		select {
		case err := <-r.done:
			if err != nil {
				tb.Errorf("follower: %v", err)
			}
		case <-time.After(time.Minute):
			tb.Error("follower did not stop within a minute")
		}
	})
}

// Stopped reports, without waiting, whether Run returned, and if it did
// leaves its result for Stop.
func (r *Run) Stopped() (bool, error) {
	select {
	case err := <-r.done:
		r.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Wait waits for Run to return by itself (its sources are done), failing
// the test on an error or after within.
func (r *Run) Wait(tb testing.TB, within time.Duration) {
	tb.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			tb.Fatalf("follower: %v", err)
		}
	case <-time.After(within):
		tb.Fatalf("follower did not finish within %s (cursor %v)", within, r.F.Cursor())
	}
}

// WaitHead waits until the follower's acknowledged head is p.
func (r *Run) WaitHead(tb testing.TB, p chain.Point, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c := r.F.Cursor(); len(c) > 0 && bytes.Equal(c[0].Hash, p.Hash) {
			return
		}
		select {
		case err := <-r.done:
			r.done <- err
			tb.Fatalf("follower stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	tb.Fatalf("follower did not reach %s within %s (cursor %v)", p, within, r.F.Cursor())
}

// StartNode serves blocks as a preview node over N2C on a unix socket in the
// test's temporary directory, until the test ends: the first visible of them
// (all when visible is 0), the rest through Extend. It returns the server
// and the socket path.
func StartNode(tb testing.TB, blocks []nodesim.Block, visible int) (*nodesim.Server, string) {
	tb.Helper()
	srv, err := nodesim.New(nodesim.Options{NetworkMagic: chain.Preview.Magic, Blocks: blocks, InitialTip: visible})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	path := filepath.Join(tb.TempDir(), "node.socket")
	if err := srv.ListenUnix(path); err != nil {
		tb.Fatal(err)
	}
	return srv, path
}

// CleanLoad is the reference the follower tests compare with: preview blocks served
// by a node of their own, followed once with the local sink into db (a fresh,
// migrated database) until the follower's head is the last block. It returns
// every table's checksum.
func CleanLoad(tb testing.TB, db *sql.DB, blocks []nodesim.Block) map[string]string {
	tb.Helper()
	store := chaindb.New(db, chaindb.Options{})
	srv, path := StartNode(tb, blocks, 0)
	r := Start(tb, follower.Options{
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink:    &follower.LocalSink{Applier: &ingest.Applier{Net: chain.Preview, Store: store}}, Cursor: store,
	})
	r.WaitHead(tb, srv.Tip(), 3*time.Minute)
	r.Stop(tb)
	sums, err := chaindb.Checksums(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	return sums
}

// RetypeHeaderField returns a copy of a Shelley-family block in which
// element i of the header body is replaced by a CBOR item of another type
// and the same length: the CBOR stays well-formed, gouroboros no longer
// decodes the header. The node still serves it under its real point, which
// its successor's previous hash names.
func RetypeHeaderField(tb testing.TB, b nodesim.Block, i int) nodesim.Block {
	tb.Helper()
	var parts []cbor.RawMessage
	if err := cbor.Unmarshal(b.CBOR, &parts); err != nil {
		tb.Fatal(err)
	}
	var hdr, body []cbor.RawMessage
	if err := cbor.Unmarshal(parts[0], &hdr); err != nil {
		tb.Fatal(err)
	}
	if err := cbor.Unmarshal(hdr[0], &body); err != nil {
		tb.Fatal(err)
	}
	if i < 0 {
		i += len(body)
	}
	// Offsets: the block's array head, then the header's, then the body's.
	off := bytes.Index(b.CBOR, parts[0]) + bytes.Index([]byte(parts[0]), hdr[0])
	bodyHead := len(hdr[0])
	for _, e := range body {
		bodyHead -= len(e)
	}
	off += bodyHead
	for _, e := range body[:i] {
		off += len(e)
	}
	elem := body[i]
	var repl []byte
	switch {
	case elem[0] <= 0x1b: // an unsigned integer: a text string as long
		repl = append([]byte{0x60 + byte(len(elem)-1)}, bytes.Repeat([]byte{'x'}, len(elem)-1)...)
	case elem[0] == 0x82 && len(elem) == 3: // [major, minor]: an unsigned integer
		repl = []byte{0x19, elem[1], elem[2]}
	default:
		tb.Fatalf("header body element %d is %x: no same-length retyping", i, elem)
	}
	out := bytes.Clone(b.CBOR)
	if !bytes.Equal(out[off:off+len(elem)], elem) {
		tb.Fatalf("header body element %d not found at %d", i, off)
	}
	copy(out[off:], repl)
	if _, err := chain.ReadHeader(b.Type, out); err == nil {
		tb.Fatalf("block %s still decodes after retyping header field %d", b.Point, i)
	}
	b.CBOR = out // Point and BlockNo stay the real ones
	return b
}
