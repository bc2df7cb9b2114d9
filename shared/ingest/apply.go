package ingest

import (
	"context"
	"fmt"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
)

// Store is what ingestion needs from the database. ApplyBatch must be atomic
// and idempotent per batch id; Rollback must delete every row above the point.
type Store interface {
	ApplyBatch(ctx context.Context, b *chaindb.Batch) (applied bool, err error)
	Rollback(ctx context.Context, p chain.Point) error
}

var _ Store = (*chaindb.Store)(nil)

// Result says what Apply did.
type Result struct {
	Kind        batch.Kind
	Applied     bool // false when the batch was already recorded
	Blocks      int
	Rows        int
	Quarantined int
}

// Applier applies envelopes of one network to a store.
type Applier struct {
	Net   chain.Network
	Store Store
}

// Apply decodes and applies one envelope: a batch of blocks (undecodable
// blocks quarantined) or a rollback.
func (a *Applier) Apply(ctx context.Context, env *batch.Envelope) (Result, error) {
	res := Result{Kind: env.Kind}
	if env.Network != a.Net.Name {
		return res, fmt.Errorf("envelope %x is for network %q, this ingest serves %q", env.ID(), env.Network, a.Net.Name)
	}
	switch env.Kind {
	case batch.KindRollback:
		if err := a.Store.Rollback(ctx, env.Point); err != nil {
			return res, fmt.Errorf("rollback to %s: %w", env.Point, err)
		}
		res.Applied = true
		return res, nil
	case batch.KindBlocks:
		b := DecodeBlocks(a.Net, env)
		applied, err := a.Store.ApplyBatch(ctx, b)
		if err != nil {
			return res, fmt.Errorf("apply batch %x (slots %d-%d): %w", b.ID, b.First.Slot, b.Last.Slot, err)
		}
		res.Applied, res.Blocks, res.Quarantined = applied, len(b.Blocks), len(b.Quarantine)
		for _, d := range b.Blocks {
			res.Rows += d.Rows.Count()
		}
		return res, nil
	}
	return res, fmt.Errorf("envelope %x: unknown kind %s", env.ID(), env.Kind)
}
