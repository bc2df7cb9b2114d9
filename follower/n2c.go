package follower

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ouroboros "github.com/blinklabs-io/gouroboros"
	"github.com/blinklabs-io/gouroboros/protocol/chainsync"
	pcommon "github.com/blinklabs-io/gouroboros/protocol/common"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// NodeSource follows a cardano-node over Node-to-Client chain-sync on a unix
// socket or a TCP address. One Follow call is one connection: the follower
// reconnects by calling Follow again with its newest points.
type NodeSource struct {
	Network string // "unix" or "tcp"
	Address string
	Magic   uint32
	// DialTimeout bounds connecting and the handshake.
	DialTimeout time.Duration
	Logger      *slog.Logger
}

// Follow implements Source.
func (s *NodeSource) Follow(ctx context.Context, points []chain.Point, out chan<- Event) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deliver := func(e Event) error {
		select {
		case out <- e:
			return nil
		case <-ctx.Done():
			return chainsync.ErrStopSyncProcess
		}
	}
	// The callbacks run one at a time, in the order of the messages.
	n := &namer{deliver: deliver}
	cfg := chainsync.NewConfig(
		chainsync.WithRollForwardRawFunc(func(_ chainsync.CallbackContext, blockType uint, raw []byte, tip chainsync.Tip) error {
			return n.forward(Event{Forward: true, Block: batch.Block{Type: blockType, CBOR: bytes.Clone(raw)},
				Tip: fromPoint(tip.Point), TipBlock: tip.BlockNumber, TipKnown: true})
		}),
		chainsync.WithRollBackwardFunc(func(_ chainsync.CallbackContext, p pcommon.Point, tip chainsync.Tip) error {
			return n.backward(Event{Point: fromPoint(p), Tip: fromPoint(tip.Point), TipBlock: tip.BlockNumber, TipKnown: true})
		}),
		chainsync.WithPipelineLimit(50),
	)
	conn, err := ouroboros.NewConnection(
		ouroboros.WithNetworkMagic(s.Magic),
		ouroboros.WithNodeToNode(false),
		ouroboros.WithChainSyncConfig(cfg),
		// Without this an idle connection at the tip dies after 120 s.
		ouroboros.WithMuxerSegmentReadTimeout(0),
	)
	if err != nil {
		return fmt.Errorf("node connection: %w", err)
	}
	defer conn.Close()
	timeout := s.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	dialed := make(chan error, 1)
	go func() { dialed <- conn.DialTimeout(s.Network, s.Address, timeout) }()
	select {
	case err := <-dialed:
		if err != nil {
			return fmt.Errorf("dial node %s %s: %w", s.Network, s.Address, err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	var ps []pcommon.Point
	for _, p := range points {
		if p.Hash == nil {
			ps = append(ps, pcommon.NewPointOrigin())
		} else {
			ps = append(ps, pcommon.NewPoint(p.Slot, p.Hash))
		}
	}
	synced := make(chan error, 1)
	go func() { synced <- conn.ChainSync().Client.Sync(ps) }()
	select {
	case err := <-synced:
		if err != nil {
			if errors.Is(err, chainsync.ErrIntersectNotFound) {
				return fmt.Errorf("%w: %v", ErrIntersectNotFound, err)
			}
			return fmt.Errorf("chain-sync with %s: %w", s.Address, err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	// The connection owns its error channel and closes it when it shuts down,
	// also when the peer goes away without an error to report.
	select {
	case err, ok := <-conn.ErrorChan():
		if !ok || err == nil {
			return fmt.Errorf("node %s closed the connection", s.Address)
		}
		return fmt.Errorf("node %s: %w", s.Address, err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func fromPoint(p pcommon.Point) chain.Point {
	if len(p.Hash) == 0 {
		return chain.Point{Slot: p.Slot}
	}
	return chain.Point{Slot: p.Slot, Hash: bytes.Clone(p.Hash)}
}

// namer passes one connection's events on in order, and gives a block whose
// header does not decode its real point before it goes: the N2C message
// carries only the block and the tip, so the point is the tip's when the
// block is the tip, and otherwise the hash is the next block's previous hash
// and the slot the header body's where it reads (else the slot after the
// parent's). Such a block is held until the next event names it; a rollback
// above the parent names it too (it is the rollback's point), one to the
// parent or below drops it; a closed connection drops it (the next one
// sends it again).
type namer struct {
	deliver func(Event) error
	last    chain.Header // the newest block passed on, or the intersection
	lastNo  bool         // last.BlockNo is known
	held    *Event
}

func (n *namer) forward(e Event) error {
	h, herr := chain.ReadHeader(e.Block.Type, e.Block.CBOR)
	var lh looseHeader
	var lok bool
	if herr != nil {
		lh, lok = readLooseHeader(e.Block.Type, e.Block.CBOR)
	}
	if n.held != nil {
		var prev []byte
		next := uint64(0) // the next block's slot, 0 if unknown
		switch {
		case herr == nil:
			prev, next = h.PrevHash, h.Point.Slot
		case lok && lh.hasPrev && lh.prevHash != nil:
			prev = lh.prevHash
			if lh.hasSlot {
				next = lh.slot
			}
		default:
			return fmt.Errorf("two blocks in a row after %s whose headers do not decode: the first cannot be named (%v)", n.last.Point, herr)
		}
		held := n.held
		n.held = nil
		held.Header.Point.Hash = prev
		if s := held.Header.Point.Slot; (n.last.Point.Hash != nil && s <= n.last.Point.Slot) || (next > 0 && s >= next) {
			held.Header.Point.Slot = n.last.Point.Slot + 1
		}
		if err := n.pass(*held, held.Header.BlockNo > 0); err != nil {
			return err
		}
	}
	if herr == nil {
		e.Header = h
		return n.pass(e, true)
	}
	// The block still travels: ingest quarantines it. It follows the block
	// before it (the node sends its chain in order), whatever its header
	// says; its hash is set below or when it is named.
	e.Undecodable = true
	e.Header = chain.Header{PrevHash: n.last.Point.Hash}
	noKnown := n.lastNo
	if n.lastNo {
		e.Header.BlockNo = n.last.BlockNo + 1
	}
	if lok {
		if lh.hasSlot {
			e.Header.Point.Slot = lh.slot
		}
		if lh.hasBlockNo && !n.lastNo {
			e.Header.BlockNo, noKnown = lh.blockNo, true
		}
	}
	// At the tip, the message's tip is this block.
	if (noKnown && e.TipBlock == e.Header.BlockNo) || (lok && lh.hasSlot && e.Tip.Slot == lh.slot && e.Tip.Slot > n.last.Point.Slot) {
		e.Header.Point, e.Header.BlockNo = e.Tip, e.TipBlock
		return n.pass(e, true)
	}
	n.held = &e
	return nil
}

func (n *namer) backward(e Event) error {
	if held := n.held; held != nil {
		n.held = nil
		p := e.Point
		if p.Hash != nil && !samePoint(p, n.last.Point) && p.Slot >= n.last.Point.Slot {
			held.Header.Point = p
			if err := n.pass(*held, held.Header.BlockNo > 0); err != nil {
				return err
			}
		}
	}
	n.last, n.lastNo = chain.Header{Point: e.Point}, false
	return n.deliver(e)
}

func (n *namer) pass(e Event, noKnown bool) error {
	n.last, n.lastNo = e.Header, noKnown
	return n.deliver(e)
}
