// Package ingest turns envelopes from the follower into database writes: it
// decodes each block, quarantines the ones that do not decode, and applies
// the batch or the rollback through a Store.
package ingest

import (
	"errors"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/tidb"
)

// DecodeBlocks decodes a blocks envelope into a store batch. A block that
// does not decode is kept for quarantine, never dropped.
func DecodeBlocks(net chain.Network, env *batch.Envelope) *tidb.Batch {
	b := &tidb.Batch{ID: env.ID(), Network: env.Network, First: env.First, Last: env.Last, PrevHash: env.PrevHash}
	for _, rb := range env.Blocks {
		d, err := chain.DecodeBlock(net, rb.Type, rb.CBOR)
		if err != nil {
			var de *chain.DecodeError
			if !errors.As(err, &de) {
				de = &chain.DecodeError{BlockType: rb.Type, Err: err}
			}
			b.Quarantine = append(b.Quarantine, chain.Quarantined{Err: de, CBOR: rb.CBOR})
			continue
		}
		b.Blocks = append(b.Blocks, d)
	}
	return b
}

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
