package chaindb

import (
	"context"
	"database/sql"
	"errors"
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
	// Head is the indexed chain's head: the follower's newest cursor point
	// when the database holds it, else the highest block.
	Head *chain.Point
	// Forks are parents with more than one child: all but one of those
	// children, and what follows them, are not on the chain.
	Forks []Fork
	// AboveHead are blocks above the head's slot (when the head is the
	// cursor's): published, then abandoned (a fork while the follower was
	// down), or a rollback that never came.
	AboveHead []chain.Point
}

// Fork is a block with more than one child.
type Fork struct {
	Parent   []byte
	Children []chain.Point
}

// OK reports whether the database holds one chain: continuous (no gaps,
// every batch complete, the cursor's head present) and unforked (no parent
// with two children, nothing above the head). Together these prove every
// block an ancestor of the head: the blocks form one path from the start,
// and the head, with nothing after it, is its end.
func (r *VerifyReport) OK() bool {
	return len(r.Gaps) == 0 && len(r.IncompleteBatches) == 0 && r.CursorMissing == nil &&
		len(r.Forks) == 0 && len(r.AboveHead) == 0
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
	if r.Head != nil {
		fmt.Fprintf(&b, "head: %s\n", r.Head)
	}
	fmt.Fprintf(&b, "forks: %d\n", len(r.Forks))
	for _, f := range r.Forks {
		fmt.Fprintf(&b, "  block %x has %d children:", f.Parent, len(f.Children))
		for _, c := range f.Children {
			fmt.Fprintf(&b, " %s", c)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "blocks above the head: %d\n", len(r.AboveHead))
	for _, p := range r.AboveHead {
		fmt.Fprintf(&b, "  block %s\n", p)
	}
	if r.OK() {
		b.WriteString("OK: one continuous chain, every block an ancestor of the head\n")
	} else {
		b.WriteString("FAILED\n")
	}
	return b.String()
}

// Verify proves continuity: every block's previous block is present (blocks
// and quarantined blocks both count) except the first, every recorded batch's
// first and last block are present, and the follower's cursor is in the
// database. It proves the chain is one chain: no two blocks share a parent,
// and nothing lies above the head (the cursor's newest point). limit caps
// how many gaps, forks and blocks above the head are listed.
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
		if err := s.db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM block WHERE hash = ?) + (SELECT COUNT(*) FROM quarantine WHERE hash = ?)",
			cursor[0].Hash, cursor[0].Hash).Scan(&n); err != nil {
			return nil, fmt.Errorf("verify: cursor: %w", err)
		}
		p := cursor[0]
		if n == 0 {
			r.CursorMissing = &p
		} else {
			r.Head = &p
		}
	}
	if err := s.verifyOneChain(ctx, r, limit); err != nil {
		return nil, err
	}
	return r, nil
}

// verifyOneChain fills Forks, AboveHead and, without a cursor, Head.
func (s *Store) verifyOneChain(ctx context.Context, r *VerifyReport, limit int) error {
	const all = "(SELECT slot_no, hash, prev_hash FROM block UNION ALL SELECT slot_no, hash, prev_hash FROM quarantine)"
	rows, err := s.db.QueryContext(ctx, "SELECT c.prev_hash, c.slot_no, c.hash FROM "+all+" c JOIN "+
		"(SELECT prev_hash FROM "+all+" u WHERE prev_hash IS NOT NULL GROUP BY prev_hash HAVING COUNT(*) > 1 ORDER BY MIN(slot_no) LIMIT ?) f "+
		"ON c.prev_hash = f.prev_hash ORDER BY c.slot_no, c.hash", limit)
	if err != nil {
		return fmt.Errorf("verify: forks: %w", err)
	}
	byParent := map[string]int{}
	for rows.Next() {
		var parent []byte
		var p chain.Point
		if err := rows.Scan(&parent, &p.Slot, &p.Hash); err != nil {
			rows.Close()
			return fmt.Errorf("verify: forks: %w", err)
		}
		i, ok := byParent[string(parent)]
		if !ok {
			i = len(r.Forks)
			byParent[string(parent)] = i
			r.Forks = append(r.Forks, Fork{Parent: parent})
		}
		r.Forks[i].Children = append(r.Forks[i].Children, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: forks: %w", err)
	}
	if r.Head == nil {
		// No cursor here (or not its head): the highest block is the head,
		// and nothing can lie above it.
		var p chain.Point
		err := s.db.QueryRowContext(ctx, "SELECT slot_no, hash FROM "+all+" c ORDER BY slot_no DESC LIMIT 1").Scan(&p.Slot, &p.Hash)
		if err == nil {
			r.Head = &p
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("verify: head: %w", err)
		}
		return nil
	}
	rows, err = s.db.QueryContext(ctx, "SELECT slot_no, hash FROM "+all+" c WHERE slot_no > ? ORDER BY slot_no LIMIT ?", r.Head.Slot, limit)
	if err != nil {
		return fmt.Errorf("verify: above the head: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p chain.Point
		if err := rows.Scan(&p.Slot, &p.Hash); err != nil {
			return fmt.Errorf("verify: above the head: %w", err)
		}
		r.AboveHead = append(r.AboveHead, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: above the head: %w", err)
	}
	return nil
}
