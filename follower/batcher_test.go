package follower

import (
	"encoding/base64"
	"testing"

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
