// Package followertest holds helpers for testing the follower against the
// nodesim chain-sync server: a recording sink and an in-memory cursor store.
package followertest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
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
// published twice (outside a re-sent whole batch after a rollback).
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
					return nil, fmt.Errorf("message %d: %w", m.Seq, err)
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

// MemCursor is an in-memory CursorStore.
type MemCursor struct {
	mu     sync.Mutex
	points map[string][]chain.Point
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
