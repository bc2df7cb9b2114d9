package follower

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// fakeChain makes n linked events with block numbers 1..n at slots 10, 20, ...
func fakeChain(n int, fork byte) []Event {
	var out []Event
	var prev []byte
	for i := 1; i <= n; i++ {
		h := make([]byte, 32)
		h[0], h[1], h[31] = byte(i>>8), byte(i), fork
		out = append(out, Event{Forward: true, Block: batch.Block{Type: 6, CBOR: make([]byte, 1000)},
			Header: chain.Header{Point: chain.Point{Slot: uint64(i * 10), Hash: h}, PrevHash: prev, BlockNo: uint64(i)}})
		prev = h
	}
	return out
}

func opts() BatchOptions {
	return BatchOptions{MaxBytes: 10_000, MaxMessageBytes: 256 << 10, MaxBlocks: 5}
}

func TestBatcherRoutesByDepthAndKeepsResentBlocksOnTheTipRoute(t *testing.T) {
	net := chain.Preview // k = 432
	b := NewBatcher(net, opts(), chain.Point{})
	events := fakeChain(1000, 0)
	var msgs []Message
	add := func(e Event, tip uint64) {
		t.Helper()
		e.Tip, e.TipBlock, e.TipKnown = chain.Point{Slot: tip * 10}, tip, true
		m, err := b.Add(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m...)
	}
	for _, e := range events[:600] {
		add(e, 600)
	}
	f, _ := b.Flush()
	msgs = append(msgs, f...)
	tipBlocks := 0
	for _, m := range msgs {
		for no := m.Env.First.Slot / 10; no <= m.Env.Last.Slot/10; no++ {
			want := RouteTip
			if 600 > no+net.SecurityParam {
				want = RouteHistory
			}
			if m.Route != want {
				t.Fatalf("block %d routed %s at tip 600, want %s", no, m.Route, want)
			}
			if want == RouteTip {
				tipBlocks++
			}
		}
	}
	if tipBlocks != int(net.SecurityParam)+1 {
		t.Errorf("%d blocks on the tip route, want k+1 = %d", tipBlocks, net.SecurityParam+1)
	}
	// Roll back 10 blocks: a rollback message on the tip route.
	rb, err := b.Add(Event{Point: events[589].Header.Point})
	if err != nil || len(rb) != 1 || rb[0].Env.Kind != batch.KindRollback || rb[0].Route != RouteTip {
		t.Fatalf("rollback gave %v, %v", rb, err)
	}
	// The tip jumps far ahead: the re-sent blocks 591-600 are now deeper than
	// k, yet they must follow the rollback on the FIFO route.
	msgs = nil
	for _, e := range events[590:600] {
		add(e, 2000)
	}
	f, _ = b.Flush()
	msgs = append(msgs, f...)
	for _, m := range msgs {
		if m.Route != RouteTip {
			t.Errorf("re-sent batch %s-%s went to the %s route", m.Env.First, m.Env.Last, m.Route)
		}
		if string(m.Env.After) != string(rb[0].ID) {
			t.Errorf("re-sent batch does not name the rollback it follows")
		}
	}
	// New blocks beyond what the tip route ever carried are history again.
	m, err := b.Add(Event{Forward: true, Block: events[600].Block, Header: events[600].Header, Tip: chain.Point{Slot: 20000}, TipBlock: 2000, TipKnown: true})
	if err != nil {
		t.Fatal(err)
	}
	f, _ = b.Flush()
	m = append(m, f...)
	if len(m) != 1 || m[0].Route != RouteHistory {
		t.Errorf("a new deep block went to %v", m)
	}
}

func TestBatcherNeverExceedsTheMessageLimit(t *testing.T) {
	o := opts()
	o.MaxBytes, o.MaxBlocks, o.MaxMessageBytes = 1<<20, 1000, 8<<10
	b := NewBatcher(chain.Preview, o, chain.Point{})
	events := fakeChain(200, 1)
	for i := range events {
		// incompressible bodies
		for j := range events[i].Block.CBOR {
			events[i].Block.CBOR[j] = byte((i*7919 + j*104729) >> 3)
		}
	}
	var msgs []Message
	for _, e := range events {
		e.TipKnown, e.TipBlock = true, 5000
		m, err := b.Add(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m...)
	}
	f, err := b.Flush()
	if err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, f...)
	n := 0
	for _, m := range msgs {
		if size := base64.StdEncoding.EncodedLen(len(m.Encoded)) + AttributeReserve; size > o.MaxMessageBytes {
			t.Errorf("message %d is %d bytes, limit %d", m.Seq, size, o.MaxMessageBytes)
		}
		n += len(m.Env.Blocks)
	}
	if n != len(events) {
		t.Errorf("%d blocks in messages, want %d", n, len(events))
	}
	// A single block over the limit is an error that names it.
	big := fakeChain(1, 2)[0]
	big.Block.CBOR = make([]byte, 64<<10)
	for j := range big.Block.CBOR {
		big.Block.CBOR[j] = byte(j * 2654435761 >> 13)
	}
	b2 := NewBatcher(chain.Preview, o, chain.Point{})
	if _, err := b2.Add(big); err == nil {
		if _, err = b2.Flush(); err == nil {
			t.Fatal("a block larger than the message limit was accepted")
		}
	}
}

// Issue 11: a tip batch re-cut after a restart must not reuse the id of one
// a rollback since deleted: the FIFO queue would drop it as a duplicate
// (deduplication window) and the ledger could skip it. Tip batch ids name the
// rollback they follow, and that id was in memory only.
func TestBatchIDsAfterRestartDoNotRepeat(t *testing.T) {
	events := fakeChain(12, 0)
	atTip := func(e Event) Event {
		e.Tip, e.TipBlock, e.TipKnown = events[len(events)-1].Header.Point, 12, true
		return e
	}
	seen := map[string]string{}
	record := func(ms []Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			seen[string(m.ID)] = fmt.Sprintf("%s %s-%s", m.Env.Kind, m.Env.First, m.Env.Last)
		}
	}
	b := NewBatcher(chain.Preview, opts(), chain.Point{})
	for _, e := range events[:10] {
		record(b.Add(atTip(e)))
	}
	// A rollback to block 5 deletes batch 6-10; it is re-sent after it.
	record(b.Add(Event{Point: events[4].Header.Point}))
	for _, e := range events[5:10] {
		record(b.Add(atTip(e)))
	}
	// The follower restarts from a cursor saved at block 5 and re-cuts 6-10.
	b2 := NewBatcher(chain.Preview, opts(), events[4].Header.Point)
	var again []Message
	for _, e := range events[5:10] {
		ms, err := b2.Add(atTip(e))
		if err != nil {
			t.Fatal(err)
		}
		again = append(again, ms...)
	}
	if len(again) != 1 || again[0].Route != RouteTip {
		t.Fatalf("re-cut %d messages", len(again))
	}
	if prev, ok := seen[string(again[0].ID)]; ok {
		t.Errorf("the re-cut batch %s-%s has the id of %s, sent before the restart", again[0].Env.First, again[0].Env.Last, prev)
	}
}

// Issue 11: the first intersection with the node after a start publishes a
// rollback to it when it is within k of the tip (blocks published after the
// saved cursor may have been abandoned while the follower was down), from a
// slot no block published before can be above; deeper, or later in the same
// run, an intersection at the head publishes nothing.
func TestBatcherReintersection(t *testing.T) {
	events := fakeChain(1000, 0)
	head := events[499].Header.Point
	intersect := func(p chain.Point, tip uint64) Event {
		return Event{Point: p, Tip: events[tip-1].Header.Point, TipBlock: tip, TipKnown: true}
	}
	next := func(i int, tip uint64) Event {
		e := events[i]
		e.Tip, e.TipBlock, e.TipKnown = events[tip-1].Header.Point, tip, true
		return e
	}
	now := time.Now()
	nowSlot, _ := slotAt(chain.Preview, now)
	cases := []struct {
		name     string
		tip      uint64 // the node's tip block number
		rollback bool
	}{
		{"at the tip", 500, true},
		// Depth as the batcher routes: of the first block after the intersection.
		{"within k", 501 + 432, true},
		{"deeper than k", 501 + 433, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBatcher(chain.Preview, opts(), head)
			msgs, err := b.Add(intersect(head, c.tip))
			if err != nil {
				t.Fatal(err)
			}
			tip := max(c.tip, 501) // at the tip, block 501 grows it
			m, err := b.Add(next(500, tip))
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, m...)
			var rb []Message
			for _, m := range msgs {
				if m.Env.Kind == batch.KindRollback {
					rb = append(rb, m)
				}
			}
			if !c.rollback {
				if len(rb) != 0 {
					t.Fatalf("%d rollbacks deeper than k", len(rb))
				}
				return
			}
			if len(rb) != 1 || !rb[0].Reintersect || rb[0].Route != RouteTip || !samePoint(rb[0].Env.Point, head) {
				t.Fatalf("rollbacks %v, want one to the head on the tip route", rb)
			}
			if rb[0].Env.From.Slot < nowSlot || rb[0].Env.From.Hash != nil {
				t.Errorf("rollback from %s, want the current slot %d or above and no hash", rb[0].Env.From, nowSlot)
			}
			// The blocks after it follow it on the tip route.
			if _, err := b.Add(next(501, tip)); err != nil {
				t.Fatal(err)
			}
			f, _ := b.Flush()
			for _, m := range f {
				if m.Route != RouteTip || string(m.Env.After) != string(rb[0].ID) {
					t.Errorf("batch after the rollback on the %s route after %x", m.Route, m.Env.After)
				}
			}
			// A reconnect at the head later in the run publishes nothing.
			if m, err := b.Add(intersect(b.Head(), tip)); err != nil || len(m) != 0 {
				t.Errorf("reconnect at the head: %v %v", m, err)
			}
		})
	}
}
