package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
)

// Store is what ingestion needs from the database. ApplyBatch must be atomic
// and idempotent per batch id, and refuse a tip batch that does not follow
// its rollback and the head (chaindb.ErrRollbackNotApplied, ErrNotHead,
// ErrAbandoned); Rollback must delete every row in (Point, From], skip a
// rollback it has applied and refuse a stale one.
type Store interface {
	ApplyBatch(ctx context.Context, b *chaindb.Batch) (applied bool, err error)
	Rollback(ctx context.Context, r *chaindb.Rollback) (chaindb.Outcome, error)
}

var _ Store = (*chaindb.Store)(nil)

// Result says what Apply did.
type Result struct {
	Kind batch.Kind
	// Applied is false when the batch or rollback was already recorded, or
	// is Stale.
	Applied bool
	// Stale marks an envelope refused for good, with nothing changed: a
	// rollback the follower saw before one already applied, or a tip batch a
	// later rollback abandoned. It is acknowledged, not retried.
	Stale       bool
	Blocks      int
	Rows        int
	Quarantined int
}

// ErrWrongNetwork marks an envelope of another network than the Applier's.
var ErrWrongNetwork = errors.New("envelope is for another network")

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
		return res, fmt.Errorf("%w: envelope %x is for network %q, this ingest serves %q", ErrWrongNetwork, env.ID(), env.Network, a.Net.Name)
	}
	switch env.Kind {
	case batch.KindRollback:
		out, err := a.Store.Rollback(ctx, &chaindb.Rollback{ID: env.ID(), Network: env.Network, Point: env.Point, From: env.From, At: env.At})
		if err != nil {
			return res, fmt.Errorf("rollback to %s: %w", env.Point, err)
		}
		res.Applied, res.Stale = out == chaindb.Applied, out == chaindb.Stale
		return res, nil
	case batch.KindBlocks:
		b := DecodeBlocks(a.Net, env)
		applied, err := a.Store.ApplyBatch(ctx, b)
		if errors.Is(err, chaindb.ErrAbandoned) {
			res.Stale = true
			return res, nil
		}
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
