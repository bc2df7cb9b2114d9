package follower

import (
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// cursorRing keeps acknowledged points, newest first: the newest max points,
// and further back points spaced exponentially by slot out past the
// stability window (3k/f slots, which hold at least k blocks: no rollback
// reaches further). After a rollback of d slots while the follower is down,
// the newest point still on the chain is at most about 2d (at worst 3d)
// slots deep, and there always is one: a restart intersects within k.
//
// The spacing is by aligned slot buckets, so that it never has to bring
// back a point it dropped: for each level j, the bucket of a slot s is
// s>>j, and the ring keeps the first (oldest) point of the head's bucket
// and of the two before it. The first point of a level-(j+1) bucket is the
// first of its first non-empty level-j half, kept at level j until it is
// kept at level j+1.
type cursorRing struct {
	max    int    // recent points
	window uint64 // slots
	points []chain.Point
}

// spacedBuckets is how many buckets per level keep their first point.
const spacedBuckets = 3

func (c *cursorRing) push(m Message) {
	if m.Env.Kind == batch.KindRollback { // forget points above the target
		keep := c.points[:0]
		for _, p := range c.points {
			if p.Slot <= m.Head.Slot {
				keep = append(keep, p)
			}
		}
		c.points = keep
		if len(c.points) > 0 && samePoint(c.points[0], m.Head) {
			return
		}
	}
	if m.Head.Hash == nil {
		return
	}
	c.points = append([]chain.Point{m.Head}, c.points...)
	c.thin()
}

// thin drops the points that are neither recent nor spaced.
func (c *cursorRing) thin() {
	if len(c.points) <= c.max {
		return
	}
	head := c.points[0].Slot
	keep := make([]bool, len(c.points))
	for i := range min(c.max, len(c.points)) {
		keep[i] = true
	}
	for j := uint(0); j < 64; j++ {
		// Newest first: the last point seen in a bucket is its first.
		first := map[uint64]int{}
		for i, p := range c.points {
			if b := p.Slot >> j; b+spacedBuckets > head>>j {
				first[b] = i
			}
		}
		for _, i := range first {
			keep[i] = true
		}
		if uint64(1)<<j >= c.window {
			break
		}
	}
	out := c.points[:0]
	for i, p := range c.points {
		if keep[i] {
			out = append(out, p)
		}
	}
	clear(c.points[len(out):])
	c.points = out
}
