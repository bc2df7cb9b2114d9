package follower

import (
	"math/rand/v2"
	"testing"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// Issue 11: the cursor reaches back past the stability window (at least k
// blocks), spaced so that the newest point below any depth is at most about
// twice as deep (right after a rollback, less dense below it), however long
// the follower has run and rolled back. It used to hold the 20 newest
// points: minutes at the tip.
func TestCursorRingReachesPastK(t *testing.T) {
	for _, net := range []chain.Network{chain.Preview, chain.Mainnet} {
		t.Run(net.Name, func(t *testing.T) {
			c := cursorRing{max: DefaultCursorPoints, window: stabilityWindow(net)}
			rng := rand.New(rand.NewPCG(1, 2))
			var slot, first uint64 = 1000, 0
			var hist []chain.Point
			lastRollback := -1000
			for i := 1; i <= 30000; i++ {
				if i%997 == 0 && len(hist) > 50 { // a rollback of up to 50 blocks
					p := hist[len(hist)-1-rng.IntN(50)]
					c.push(Message{Env: &batch.Envelope{Kind: batch.KindRollback}, Head: p})
					slot, lastRollback = p.Slot, i
					for len(hist) > 0 && hist[len(hist)-1].Slot > p.Slot {
						hist = hist[:len(hist)-1]
					}
				}
				slot += 1 + uint64(rng.IntN(40)) // blocks about 20 slots apart
				p := chain.Point{Slot: slot, Hash: []byte{byte(i), byte(i >> 8)}}
				hist = append(hist, p)
				if i == 1 {
					first = slot
				}
				c.push(Message{Env: &batch.Envelope{Kind: batch.KindBlocks}, Head: p})
				if len(c.points) > c.max+3*20 {
					t.Fatalf("push %d: %d points", i, len(c.points))
				}
				for d := uint64(1); d <= c.window; d *= 2 {
					if slot-first < 2*d {
						break
					}
					var got uint64
					for _, q := range c.points {
						if slot-q.Slot >= d {
							got = slot - q.Slot
							break
						}
					}
					if got == 0 {
						t.Fatalf("push %d: no point %d slots or more below the head (%d points)", i, d, len(c.points))
					}
					if d >= 64 && got > 3*d && i > lastRollback+100 {
						t.Fatalf("push %d: the newest point %d slots or more below the head is %d below", i, d, got)
					}
				}
			}
			if deepest := slot - c.points[len(c.points)-1].Slot; deepest < c.window {
				t.Errorf("deepest point %d slots below the head, window %d", deepest, c.window)
			}
		})
	}
}
