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
	cfg := chainsync.NewConfig(
		chainsync.WithRollForwardRawFunc(func(_ chainsync.CallbackContext, blockType uint, raw []byte, tip chainsync.Tip) error {
			raw = bytes.Clone(raw)
			h, err := chain.ReadHeader(blockType, raw)
			if err != nil {
				// The block still travels: ingest quarantines it with what can be read.
				de := chain.NewDecodeError(blockType, raw, err)
				h = chain.Header{Point: chain.Point{Slot: de.Slot, Hash: de.Hash}, PrevHash: de.PrevHash}
			}
			return deliver(Event{Forward: true, Block: batch.Block{Type: blockType, CBOR: raw}, Header: h,
				Tip: fromPoint(tip.Point), TipBlock: tip.BlockNumber, TipKnown: true})
		}),
		chainsync.WithRollBackwardFunc(func(_ chainsync.CallbackContext, p pcommon.Point, tip chainsync.Tip) error {
			return deliver(Event{Point: fromPoint(p), Tip: fromPoint(tip.Point), TipBlock: tip.BlockNumber, TipKnown: true})
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
