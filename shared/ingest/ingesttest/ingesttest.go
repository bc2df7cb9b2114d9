// Package ingesttest builds envelopes for tests, as the follower's batcher
// would from raw blocks.
package ingesttest

import (
	"testing"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/immutable"
)

// NewBlocks builds a blocks envelope from raw blocks, reading each header for
// the batch's points. A block whose header does not decode still travels: its
// point is the Blake2b-256 of its bytes, the same identity quarantine gives it.
func NewBlocks(network string, prevHash, after []byte, blocks []batch.Block) *batch.Envelope {
	e := &batch.Envelope{Kind: batch.KindBlocks, Network: network, PrevHash: prevHash, After: after, Blocks: blocks}
	for i, b := range blocks {
		var p chain.Point
		if h, err := chain.ReadHeader(b.Type, b.CBOR); err == nil {
			p = h.Point
		} else {
			de := chain.NewDecodeError(b.Type, b.CBOR, err)
			p = chain.Point{Slot: de.Slot, Hash: de.Hash}
		}
		if i == 0 {
			e.First = p
		}
		e.Last = p
	}
	return e
}

// ChunkEnvelopes cuts the blocks of one chunk file into envelopes of n
// blocks, linked by previous hash, as the follower would for history.
func ChunkEnvelopes(tb testing.TB, network, chunk string, n int) []*batch.Envelope {
	tb.Helper()
	blocks, err := immutable.ReadFile(chunk)
	if err != nil {
		tb.Fatal(err)
	}
	var out []*batch.Envelope
	var prev []byte
	for i := 0; i < len(blocks); i += n {
		var raw []batch.Block
		for _, b := range blocks[i:min(i+n, len(blocks))] {
			raw = append(raw, batch.Block{Type: b.Type, CBOR: b.CBOR})
		}
		e := NewBlocks(network, prev, nil, raw)
		prev = e.Last.Hash
		out = append(out, e)
	}
	return out
}
