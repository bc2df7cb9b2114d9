package chaindb

import (
	"context"
	"fmt"
	"strings"

	"github.com/nectar-indexer/nectar/shared/chain"
)

// DefaultVerifyLimit caps the gaps and quarantined blocks one verify run
// lists (and so the ChainGaps metric).
const DefaultVerifyLimit = 100

// Gap is a block whose previous block is missing.
type Gap struct {
	Block    chain.Point
	PrevHash []byte
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Blocks      int64
	Quarantined []chain.Point
	// Start is the oldest block whose parent is not in the database: the
	// beginning of the indexed chain. Gaps are every other such block.
	Start *chain.Point
	Gaps  []Gap
	// IncompleteBatches are recorded batches whose first or last block is missing.
	IncompleteBatches []string
	// CursorMissing is set when the follower's newest point is not in the database.
	CursorMissing *chain.Point
}

// OK reports whether the database holds one continuous chain.
func (r *VerifyReport) OK() bool {
	return len(r.Gaps) == 0 && len(r.IncompleteBatches) == 0 && r.CursorMissing == nil
}

func (r *VerifyReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "blocks: %d\n", r.Blocks)
	if r.Start != nil {
		fmt.Fprintf(&b, "chain starts at: %s\n", r.Start)
	}
	fmt.Fprintf(&b, "quarantined blocks: %d\n", len(r.Quarantined))
	for _, q := range r.Quarantined {
		fmt.Fprintf(&b, "  quarantined %s\n", q)
	}
	fmt.Fprintf(&b, "gaps: %d\n", len(r.Gaps))
	for _, g := range r.Gaps {
		fmt.Fprintf(&b, "  block %s: previous block %x is missing\n", g.Block, g.PrevHash)
	}
	fmt.Fprintf(&b, "incomplete batches: %d\n", len(r.IncompleteBatches))
	for _, id := range r.IncompleteBatches {
		fmt.Fprintf(&b, "  batch %s\n", id)
	}
	if r.CursorMissing != nil {
		fmt.Fprintf(&b, "cursor point %s is not in the database\n", r.CursorMissing)
	}
	if r.OK() {
		b.WriteString("OK: one continuous chain\n")
	} else {
		b.WriteString("FAILED\n")
	}
	return b.String()
}

// Verify proves continuity: every block's previous block is present (blocks
// and quarantined blocks both count) except the first, every recorded batch's
// first and last block are present, and the follower's cursor is in the
// database. limit caps how many gaps are listed.
func (s *Store) Verify(ctx context.Context, network string, limit int) (*VerifyReport, error) {
	r := &VerifyReport{}
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM block").Scan(&r.Blocks); err != nil {
		return nil, fmt.Errorf("verify: count blocks: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT slot_no, hash FROM quarantine ORDER BY slot_no")
	if err != nil {
		return nil, fmt.Errorf("verify: quarantine: %w", err)
	}
	for rows.Next() {
		var p chain.Point
		if err := rows.Scan(&p.Slot, &p.Hash); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: quarantine: %w", err)
		}
		r.Quarantined = append(r.Quarantined, p)
	}
	rows.Close()
	// Blocks and quarantined blocks whose parent is in neither table.
	q := `SELECT c.slot_no, c.hash, c.prev_hash FROM (
		SELECT slot_no, hash, prev_hash FROM block UNION ALL SELECT slot_no, hash, prev_hash FROM quarantine) c
	  WHERE NOT EXISTS (SELECT 1 FROM block p WHERE p.hash = c.prev_hash)
	    AND NOT EXISTS (SELECT 1 FROM quarantine p WHERE p.hash = c.prev_hash)
	  ORDER BY c.slot_no LIMIT ?`
	rows, err = s.db.QueryContext(ctx, q, limit+1)
	if err != nil {
		return nil, fmt.Errorf("verify: continuity: %w", err)
	}
	for rows.Next() {
		var g Gap
		if err := rows.Scan(&g.Block.Slot, &g.Block.Hash, &g.PrevHash); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: continuity: %w", err)
		}
		if r.Start == nil {
			p := g.Block
			r.Start = &p
			continue
		}
		r.Gaps = append(r.Gaps, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: continuity: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT HEX(b.id) FROM ingest_batch b
	  WHERE NOT EXISTS (SELECT 1 FROM block x WHERE x.hash = b.first_hash) AND NOT EXISTS (SELECT 1 FROM quarantine x WHERE x.hash = b.first_hash)
	     OR NOT EXISTS (SELECT 1 FROM block x WHERE x.hash = b.last_hash) AND NOT EXISTS (SELECT 1 FROM quarantine x WHERE x.hash = b.last_hash)
	  LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("verify: batches: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: batches: %w", err)
		}
		r.IncompleteBatches = append(r.IncompleteBatches, strings.ToLower(id))
	}
	rows.Close()
	cursor, err := s.LoadCursor(ctx, network)
	if err != nil {
		return nil, err
	}
	if len(cursor) > 0 {
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM block WHERE hash = ?", cursor[0].Hash).Scan(&n); err != nil {
			return nil, fmt.Errorf("verify: cursor: %w", err)
		}
		if n == 0 {
			p := cursor[0]
			r.CursorMissing = &p
		}
	}
	return r, nil
}
