package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"

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

// BatchesStore is a Store that also writes batches received together,
// history batches in large transactions (chaindb.Store.ApplyBatches: each
// batch atomic and idempotent as with ApplyBatch, a result per batch).
type BatchesStore interface {
	Store
	ApplyBatches(ctx context.Context, bs []*chaindb.Batch, parallel int) []chaindb.BatchResult
}

var _ BatchesStore = (*chaindb.Store)(nil)

// ApplyAll applies envelopes received together whose order does not matter
// among them (the history queue's messages of one invocation) and returns a
// result and an error per envelope, in order. Blocks envelopes are decoded
// parallel at a time and, when the store is a BatchesStore, written together
// through ApplyBatches; every other envelope is applied alone, as Apply does.
func (a *Applier) ApplyAll(ctx context.Context, envs []*batch.Envelope, parallel int) ([]Result, []error) {
	res := make([]Result, len(envs))
	errs := make([]error, len(envs))
	bs, ok := a.Store.(BatchesStore)
	var idx []int
	for i, env := range envs {
		if ok && env.Kind == batch.KindBlocks && env.Network == a.Net.Name {
			idx = append(idx, i)
			continue
		}
		res[i], errs[i] = a.Apply(ctx, env)
	}
	if len(idx) == 0 {
		return res, errs
	}
	decoded := make([]*chaindb.Batch, len(idx))
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(parallel, len(idx))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				decoded[k] = DecodeBlocks(a.Net, envs[idx[k]])
			}
		}()
	}
	for k := range idx {
		work <- k
	}
	close(work)
	wg.Wait()
	for k, r := range bs.ApplyBatches(ctx, decoded, parallel) {
		i, b := idx[k], decoded[k]
		res[i] = Result{Kind: batch.KindBlocks}
		switch {
		case errors.Is(r.Err, chaindb.ErrAbandoned):
			res[i].Stale = true
		case r.Err != nil:
			errs[i] = fmt.Errorf("apply batch %x (slots %d-%d): %w", b.ID, b.First.Slot, b.Last.Slot, r.Err)
		default:
			res[i].Applied, res[i].Blocks, res[i].Quarantined = r.Applied, len(b.Blocks), len(b.Quarantine)
			for _, d := range b.Blocks {
				res[i].Rows += d.Rows.Count()
			}
		}
	}
	return res, errs
}
