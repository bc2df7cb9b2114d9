package lambdafn

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/emf"
)

// VerifyHandler is the scheduled verify function: `nectar verify` on a
// timer. It proves the indexed chain continuous and one chain, and emits
// what it found as metrics (ChainBlocks, ChainGaps, IncompleteBatches,
// CursorMissing, ChainForks, BlocksAboveHead), so that an alarm can tell a
// gap nothing in flight will fill (a lost batch) from one a queued history
// batch is about to fill, and blocks of an abandoned fork (a rollback that
// failed or never came) from a tip batch about to be applied.
type VerifyHandler struct {
	// Open returns the database (Function.Open: from the secret).
	Open    func(context.Context) (*sql.DB, error)
	Network string
	Limit   int // 0: chaindb.DefaultVerifyLimit
	Logger  *slog.Logger
	Metrics *emf.Writer
}

// VerifyResult is the function's answer: the report's counts and its text.
type VerifyResult struct {
	OK                bool   `json:"ok"`
	Blocks            int64  `json:"blocks"`
	Gaps              int    `json:"gaps"`
	IncompleteBatches int    `json:"incomplete_batches"`
	Quarantined       int    `json:"quarantined"`
	CursorMissing     bool   `json:"cursor_missing"`
	Forks             int    `json:"forks"`
	AboveHead         int    `json:"above_head"`
	Report            string `json:"report"`
}

// Handle runs one verification; the event (a scheduled event, or anything
// on a direct invoke) is not read. A chain with gaps is an answer, not an
// error: errors are for a verification that could not run.
func (h *VerifyHandler) Handle(ctx context.Context, _ json.RawMessage) (*VerifyResult, error) {
	db, err := h.Open(ctx)
	if err != nil {
		return nil, err
	}
	limit := h.Limit
	if limit <= 0 {
		limit = chaindb.DefaultVerifyLimit
	}
	rep, err := chaindb.New(db, chaindb.Options{Logger: h.Logger}).Verify(ctx, h.Network, limit)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{OK: rep.OK(), Blocks: rep.Blocks, Gaps: len(rep.Gaps), IncompleteBatches: len(rep.IncompleteBatches),
		Quarantined: len(rep.Quarantined), CursorMissing: rep.CursorMissing != nil, Forks: len(rep.Forks), AboveHead: len(rep.AboveHead),
		Report: rep.String()}
	missing := 0.0
	if res.CursorMissing {
		missing = 1
	}
	if err := h.Metrics.Emit(
		emf.Metric{Name: "ChainBlocks", Unit: emf.Count, Value: float64(res.Blocks)},
		emf.Metric{Name: "ChainGaps", Unit: emf.Count, Value: float64(res.Gaps)},
		emf.Metric{Name: "IncompleteBatches", Unit: emf.Count, Value: float64(res.IncompleteBatches)},
		emf.Metric{Name: "CursorMissing", Unit: emf.Count, Value: missing},
		emf.Metric{Name: "ChainForks", Unit: emf.Count, Value: float64(res.Forks)},
		emf.Metric{Name: "BlocksAboveHead", Unit: emf.Count, Value: float64(res.AboveHead)},
	); err != nil {
		return nil, fmt.Errorf("verify: metrics: %w", err)
	}
	log := h.Logger.Info
	if !res.OK {
		log = h.Logger.Warn
	}
	log("verified", "ok", res.OK, "blocks", res.Blocks, "gaps", res.Gaps, "incomplete_batches", res.IncompleteBatches,
		"quarantined", res.Quarantined, "cursor_missing", res.CursorMissing, "forks", res.Forks, "above_head", res.AboveHead)
	return res, nil
}
