// Package nodesim is a stand-in cardano-node for tests and demos: a real
// Node-to-Client chain-sync server, built on gouroboros's own server side,
// that replays real blocks (from ImmutableDB chunk files or given in memory)
// and can grow its tip and switch to a fork while clients are connected.
//
// It behaves like a node's local socket where the follower can tell:
//   - the handshake negotiates a node-to-client version with the configured
//     network magic (a client with another magic is refused);
//   - FindIntersect answers IntersectFound with the newest of the client's
//     points that is on the current chain (origin always is), or
//     IntersectNotFound, each with the current tip;
//   - the first RequestNext after an intersection (or on a fresh connection)
//     is answered with RollBackward to the intersection point;
//   - RequestNext is answered with RollForward carrying the NtC-wrapped full
//     block (tag 24 over [block type, block CBOR]) and the tip; at the tip
//     with AwaitReply, then RollForward or RollBackward when Extend or
//     Rollback changes the chain;
//   - replies on a connection go out in request order, however many
//     RequestNext messages the client pipelines.
//
// It listens only on a unix socket or a loopback TCP address.
package nodesim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"

	ouroboros "github.com/blinklabs-io/gouroboros"
	"github.com/blinklabs-io/gouroboros/protocol"
	"github.com/blinklabs-io/gouroboros/protocol/chainsync"
	pcommon "github.com/blinklabs-io/gouroboros/protocol/common"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/immutable"
)

// TipOrigin as Options.InitialTip starts the server with an empty chain: its
// tip is the origin until Extend makes blocks visible.
const TipOrigin = -1

// ErrClosed is returned when listening on a closed Server.
var ErrClosed = errors.New("nodesim: server closed")

// Block is one block the server can serve: its chain-sync block type (the
// era tag), raw CBOR, and the point and block number read from its header.
// The server never modifies CBOR; callers must not either once it is handed over.
type Block struct {
	Type    uint
	CBOR    []byte
	Point   chain.Point
	BlockNo uint64
}

// Options configures New.
type Options struct {
	// NetworkMagic is offered in the handshake (preview is 2, mainnet
	// 764824073). Required: gouroboros rejects 0.
	NetworkMagic uint32
	// Blocks are the prepared blocks in chain order. A block whose
	// Point.Hash is nil has its point and block number read from its header.
	Blocks []Block
	// ChunkDir is an ImmutableDB chunk directory to read Blocks from
	// instead. Exactly one of Blocks and ChunkDir is set.
	ChunkDir string
	// InitialTip is how many prepared blocks are visible at start: 0 means
	// all of them, TipOrigin none. The rest become visible through Extend.
	InitialTip int
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// Server serves chain-sync to any number of concurrent client connections.
type Server struct {
	magic  uint32
	logger *slog.Logger

	mu        sync.Mutex
	chain     []Block        // the visible chain, in order
	index     map[string]int // block hash -> position in chain
	pending   []Block        // prepared blocks Extend reveals, in order
	changed   chan struct{}  // closed and replaced whenever chain changes
	conns     map[*conn]struct{}
	listeners []net.Listener
	closed    bool
	done      chan struct{} // closed by Close

	acceptWG   sync.WaitGroup // accept loops
	connWG     sync.WaitGroup // per-connection goroutines
	callbackWG sync.WaitGroup // chain-sync callbacks in progress (Add only under mu while !closed)
	closeOnce  sync.Once
}

// conn is the server's view of one client connection.
type conn struct {
	raw net.Conn
	oc  *ouroboros.Connection // nil until the handshake completes

	// Guarded by Server.mu.
	pos      int  // the client holds chain[:pos]; its cursor is chain[pos-1], or the origin
	rollback bool // the next reply is RollBackward to the cursor
}

// New prepares a Server; it serves nothing until ListenUnix or ListenTCP.
func New(opts Options) (*Server, error) {
	if opts.NetworkMagic == 0 {
		return nil, errors.New("nodesim: NetworkMagic is required")
	}
	var blocks []Block
	switch {
	case opts.ChunkDir != "" && opts.Blocks != nil:
		return nil, errors.New("nodesim: set either Blocks or ChunkDir, not both")
	case opts.ChunkDir != "":
		var err error
		if blocks, err = LoadChunks(opts.ChunkDir); err != nil {
			return nil, err
		}
	default:
		blocks = slices.Clone(opts.Blocks)
		if err := fillPoints(blocks); err != nil {
			return nil, err
		}
	}
	visible := len(blocks)
	switch {
	case opts.InitialTip == TipOrigin:
		visible = 0
	case opts.InitialTip < TipOrigin || opts.InitialTip > len(blocks):
		return nil, fmt.Errorf("nodesim: InitialTip %d out of range (0..%d, or TipOrigin)", opts.InitialTip, len(blocks))
	case opts.InitialTip > 0:
		visible = opts.InitialTip
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		magic:   opts.NetworkMagic,
		logger:  logger,
		index:   make(map[string]int, len(blocks)),
		pending: blocks[visible:],
		changed: make(chan struct{}),
		conns:   make(map[*conn]struct{}),
		done:    make(chan struct{}),
	}
	s.appendLocked(blocks[:visible])
	return s, nil
}

// LoadChunks reads every block of an ImmutableDB chunk directory, in chunk
// order, with its point and block number.
func LoadChunks(dir string) ([]Block, error) {
	paths, err := immutable.Chunks(dir)
	if err != nil {
		return nil, err
	}
	var out []Block
	for _, p := range paths {
		bs, err := immutable.ReadFile(p)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			out = append(out, Block{Type: b.Type, CBOR: b.CBOR})
		}
	}
	if err := fillPoints(out); err != nil {
		return nil, err
	}
	return out, nil
}

// fillPoints reads the header of each block that has no point yet.
func fillPoints(blocks []Block) error {
	for i := range blocks {
		b := &blocks[i]
		if b.Point.Hash != nil {
			continue
		}
		h, err := chain.ReadHeader(b.Type, b.CBOR)
		if err != nil {
			return fmt.Errorf("nodesim: block %d: read header: %w", i, err)
		}
		b.Point, b.BlockNo = h.Point, h.BlockNo
	}
	return nil
}

// ListenUnix serves on a new unix socket at path until Close.
func (s *Server) ListenUnix(path string) error {
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("nodesim: listen: %w", err)
	}
	return s.serve(l)
}

// ListenTCP serves on a loopback TCP address such as "127.0.0.1:0" until
// Close, and returns the address it bound.
func (s *Server) ListenTCP(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("nodesim: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("nodesim: listen address %q: only loopback IP addresses are allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("nodesim: listen: %w", err)
	}
	if err := s.serve(l); err != nil {
		return "", err
	}
	return l.Addr().String(), nil
}

func (s *Server) serve(l net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = l.Close()
		return ErrClosed
	}
	s.listeners = append(s.listeners, l)
	s.acceptWG.Go(func() { s.acceptLoop(l) })
	return nil
}

func (s *Server) acceptLoop(l net.Listener) {
	for {
		raw, err := l.Accept()
		if err != nil {
			select {
			case <-s.done:
			default:
				s.logger.Error("nodesim: accept", "addr", l.Addr().String(), "error", err)
			}
			return
		}
		c := &conn{raw: raw, rollback: true}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = raw.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		go s.handle(c)
	}
}

// handle runs one connection: handshake, then chain-sync until either side
// closes it.
func (s *Server) handle(c *conn) {
	defer s.connWG.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	remote := c.raw.RemoteAddr().String()
	cfg := chainsync.NewConfig(
		chainsync.WithFindIntersectFunc(func(_ chainsync.CallbackContext, points []pcommon.Point) (pcommon.Point, chainsync.Tip, error) {
			return s.findIntersect(c, points)
		}),
		chainsync.WithRequestNextFunc(func(ctx chainsync.CallbackContext) error {
			return s.requestNext(c, ctx)
		}),
	)
	// NewConnection runs the handshake before it returns.
	oc, err := ouroboros.NewConnection(
		ouroboros.WithConnection(c.raw),
		ouroboros.WithNetworkMagic(s.magic),
		ouroboros.WithServer(true),
		ouroboros.WithNodeToNode(false),
		ouroboros.WithChainSyncConfig(cfg),
		ouroboros.WithLogger(s.logger),
		// A node does not time out an idle local client; without this the
		// muxer drops a client waiting at the tip after 120 s.
		ouroboros.WithMuxerSegmentReadTimeout(0),
	)
	if err != nil {
		_ = c.raw.Close()
		s.logger.Info("nodesim: handshake", "remote", remote, "error", err)
		return
	}
	s.mu.Lock()
	c.oc = oc
	closed := s.closed
	s.mu.Unlock()
	if closed {
		_ = oc.Close()
	}
	s.logger.Debug("nodesim: client connected", "remote", remote)
	// The connection owns this channel and closes it once shut down.
	for err := range oc.ErrorChan() {
		s.logger.Debug("nodesim: connection", "remote", remote, "error", err)
	}
	s.logger.Debug("nodesim: client gone", "remote", remote)
}

// beginCallback registers a running callback so Close can join it.
func (s *Server) beginCallback() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.callbackWG.Add(1)
	return true
}

func (s *Server) findIntersect(c *conn, points []pcommon.Point) (pcommon.Point, chainsync.Tip, error) {
	if !s.beginCallback() {
		return pcommon.Point{}, chainsync.Tip{}, protocol.ErrProtocolShuttingDown
	}
	defer s.callbackWG.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	best := -1 // position after the intersection: 0 is the origin
	for _, p := range points {
		if p.Slot == 0 && len(p.Hash) == 0 {
			best = max(best, 0)
			continue
		}
		if i, ok := s.index[string(p.Hash)]; ok && s.chain[i].Point.Slot == p.Slot {
			best = max(best, i+1)
		}
	}
	tip := s.tipLocked()
	if best < 0 {
		// A real node leaves the cursor where it was.
		return pcommon.Point{}, tip, chainsync.ErrIntersectNotFound
	}
	c.pos, c.rollback = best, true
	return s.pointLocked(best), tip, nil
}

// requestNext answers one RequestNext. It runs on the connection's receive
// loop, which handles the next (pipelined) request only after this reply is
// sent, so replies stay in request order. At the tip it sends AwaitReply and
// blocks until the chain changes or the connection ends: the protocol gives
// the client no agency until the server replies, so nothing else can arrive.
func (s *Server) requestNext(c *conn, ctx chainsync.CallbackContext) error {
	if !s.beginCallback() {
		return protocol.ErrProtocolShuttingDown
	}
	defer s.callbackWG.Done()
	awaiting := false
	for {
		s.mu.Lock()
		tip := s.tipLocked()
		switch {
		case c.rollback:
			c.rollback = false
			point := s.pointLocked(c.pos)
			s.mu.Unlock()
			if err := ctx.Server.RollBackward(point, tip); err != nil {
				return fmt.Errorf("roll backward: %w", err)
			}
			return nil
		case c.pos < len(s.chain):
			b := s.chain[c.pos]
			c.pos++
			s.mu.Unlock()
			if err := ctx.Server.RollForward(b.Type, b.CBOR, tip); err != nil {
				return fmt.Errorf("roll forward: %w", err)
			}
			return nil
		}
		changed := s.changed
		s.mu.Unlock()
		if !awaiting {
			if err := ctx.Server.AwaitReply(); err != nil {
				return fmt.Errorf("await reply: %w", err)
			}
			awaiting = true
		}
		select {
		case <-changed:
		case <-ctx.ConnectionDoneChan:
			return protocol.ErrProtocolShuttingDown
		case <-s.done:
			return protocol.ErrProtocolShuttingDown
		}
	}
}

// Extend makes the next n prepared blocks visible (fewer if fewer remain)
// and returns how many it added. Clients waiting at the tip get RollForward.
func (s *Server) Extend(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = max(0, min(n, len(s.pending)))
	if n == 0 {
		return 0
	}
	s.appendLocked(s.pending[:n])
	s.pending = s.pending[n:]
	s.notifyLocked()
	return n
}

// Rollback switches the chain: it drops the last depth visible blocks and
// appends fork (blocks not on the chain, e.g. read from elsewhere; a block
// whose Point.Hash is nil has its header read). Every connected client that
// holds a dropped block receives RollBackward to the newest point it shares
// with the new chain before anything else, then the fork blocks.
//
// Without fork, the dropped blocks go back to the front of the prepared
// blocks, so Extend brings the same blocks back (a node that switched away
// and back). With fork, the dropped blocks are discarded and the prepared
// blocks are left as they were: they follow the old chain, so their previous
// hashes will not link to the fork.
func (s *Server) Rollback(depth int, fork []Block) error {
	fork = slices.Clone(fork)
	if err := fillPoints(fork); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if depth < 0 || depth > len(s.chain) {
		return fmt.Errorf("nodesim: rollback depth %d out of range (0..%d)", depth, len(s.chain))
	}
	keep := len(s.chain) - depth
	seen := make(map[string]bool, len(fork))
	for i, b := range fork {
		h := string(b.Point.Hash)
		if j, ok := s.index[h]; (ok && j < keep) || seen[h] {
			return fmt.Errorf("nodesim: fork block %d (%s) is already on the chain", i, b.Point)
		}
		seen[h] = true
	}
	if depth == 0 && len(fork) == 0 {
		return nil
	}
	dropped := slices.Clone(s.chain[keep:])
	for _, b := range dropped {
		delete(s.index, string(b.Point.Hash))
	}
	s.chain = s.chain[:keep]
	if len(fork) == 0 {
		s.pending = append(dropped, s.pending...)
	}
	for c := range s.conns {
		if c.pos > keep {
			c.pos, c.rollback = keep, true
		}
	}
	s.appendLocked(fork)
	s.notifyLocked()
	return nil
}

// SetPending replaces the prepared blocks Extend reveals next: the
// continuation of a fork given to Rollback, for instance. A block whose
// Point.Hash is nil has its header read.
func (s *Server) SetPending(blocks []Block) error {
	blocks = slices.Clone(blocks)
	if err := fillPoints(blocks); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = blocks
	return nil
}

// Tip returns the point of the newest visible block, or the zero Point
// (origin) when none is visible.
func (s *Server) Tip() chain.Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.chain) == 0 {
		return chain.Point{}
	}
	return s.chain[len(s.chain)-1].Point
}

// Pending returns how many prepared blocks Extend can still reveal.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// DisconnectAll drops every client connection, as a node going away would.
// The server keeps listening; clients may reconnect.
func (s *Server) DisconnectAll() {
	s.mu.Lock()
	var open []*ouroboros.Connection
	for c := range s.conns {
		if c.oc != nil {
			open = append(open, c.oc)
		} else {
			// Still in the handshake: closing the socket fails it.
			_ = c.raw.Close()
		}
	}
	s.mu.Unlock()
	for _, oc := range open {
		_ = oc.Close()
	}
}

// Close stops the listeners, drops every connection and waits for the
// server's goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		listeners := s.listeners
		s.listeners = nil
		s.mu.Unlock()
		for _, l := range listeners {
			if err := l.Close(); err != nil {
				errs = append(errs, fmt.Errorf("nodesim: close listener: %w", err))
			}
		}
		s.acceptWG.Wait()
		s.DisconnectAll()
		s.callbackWG.Wait()
		s.connWG.Wait()
	})
	return errors.Join(errs...)
}

// appendLocked appends blocks to the visible chain.
func (s *Server) appendLocked(blocks []Block) {
	for _, b := range blocks {
		s.index[string(b.Point.Hash)] = len(s.chain)
		s.chain = append(s.chain, b)
	}
}

// notifyLocked wakes every client waiting at the tip.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// pointLocked is the chain-sync point after which a client holding
// chain[:pos] continues.
func (s *Server) pointLocked(pos int) pcommon.Point {
	if pos == 0 {
		return pcommon.NewPointOrigin() // Hash must stay nil to encode as []
	}
	p := s.chain[pos-1].Point
	return pcommon.NewPoint(p.Slot, p.Hash)
}

func (s *Server) tipLocked() chainsync.Tip {
	if len(s.chain) == 0 {
		return chainsync.Tip{Point: pcommon.NewPointOrigin()}
	}
	b := s.chain[len(s.chain)-1]
	return chainsync.Tip{Point: pcommon.NewPoint(b.Point.Slot, b.Point.Hash), BlockNumber: b.BlockNo}
}
