// Package ingest turns envelopes from the follower into database writes: it
// decodes each block, quarantines the ones that do not decode, and applies
// the batch or the rollback through a Store.
package ingest

import (
	"errors"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
)

// DecodeBlocks decodes a blocks envelope into a store batch. A block that
// does not decode is kept for quarantine, never dropped.
func DecodeBlocks(net chain.Network, env *batch.Envelope) *chaindb.Batch {
	b := &chaindb.Batch{ID: env.ID(), Network: env.Network, First: env.First, Last: env.Last, PrevHash: env.PrevHash, After: env.After, At: env.At}
	for _, rb := range env.Blocks {
		d, err := chain.DecodeBlock(net, rb.Type, rb.CBOR)
		if err != nil {
			var de *chain.DecodeError
			if !errors.As(err, &de) {
				de = &chain.DecodeError{BlockType: rb.Type, Err: err}
			}
			if !de.HeaderDecoded && len(env.Blocks) == 1 {
				// The follower sends a block whose header does not read
				// alone, under the point the node gave it: the quarantine
				// row keeps that point, so a rollback above its parent
				// deletes it (a hash of the raw bytes at slot 0 would stay).
				de.Hash, de.Slot, de.PrevHash = env.Last.Hash, env.Last.Slot, env.PrevHash
			}
			b.Quarantine = append(b.Quarantine, chain.Quarantined{Err: de, CBOR: rb.CBOR})
			continue
		}
		b.Blocks = append(b.Blocks, d)
	}
	return b
}
