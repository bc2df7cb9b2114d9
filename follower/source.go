// Package follower is Nectar's always-on half: it follows a chain source (a
// cardano-node over Node-to-Client chain-sync, or ImmutableDB chunk files),
// cuts the chain into batches, routes them to the history or the tip queue,
// publishes them through a Sink, and persists its cursor once they are acknowledged.
package follower

import (
	"context"
	"errors"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// Event is one step of a chain source: a block rolled forward, or a rollback to a point.
type Event struct {
	Forward bool
	Block   batch.Block
	Header  chain.Header // of the forwarded block
	Point   chain.Point  // rollback target
	// Tip is the source's tip when the event was sent; TipKnown is false for
	// sources without one. Immutable marks blocks known to be final (chunk files).
	Tip       chain.Point
	TipBlock  uint64
	TipKnown  bool
	Immutable bool
	// Undecodable marks a block whose header did not decode. Header holds
	// what the source could tell: its real point (from the block after it,
	// or the tip when it is the tip), and its slot where the header's body
	// still reads (else the slot after its parent's).
	Undecodable bool
}

// Source streams chain events.
type Source interface {
	// Follow finds the newest of points (newest first; none means origin) on
	// the source's chain and streams events from there into out, starting
	// with a rollback to the intersection. It returns when ctx ends, when the
	// source has nothing more to give (ErrSourceDone; at once, without
	// events, when the points are beyond what it holds), or on failure.
	Follow(ctx context.Context, points []chain.Point, out chan<- Event) error
}

// Errors sources return.
var (
	ErrSourceDone        = errors.New("source has no more blocks")
	ErrIntersectNotFound = errors.New("none of the cursor's points is on the source's chain")
)
