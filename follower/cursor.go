package follower

import (
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// cursorRing keeps the newest acknowledged points, newest first.
type cursorRing struct {
	max    int
	points []chain.Point
}

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
	if len(c.points) > c.max {
		c.points = c.points[:c.max]
	}
}
