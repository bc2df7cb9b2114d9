package chaindb

import (
	"context"
	"fmt"

	"github.com/nectar-indexer/nectar/shared/chain"
)

// LoadCursor returns the follower's saved points for a network, newest first.
func (s *Store) LoadCursor(ctx context.Context, network string) ([]chain.Point, error) {
	var out []chain.Point
	err := s.retry(ctx, "load cursor", func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.db.QueryContext(ctx, "SELECT slot_no, hash FROM ingest_cursor WHERE network = ? ORDER BY slot_no DESC", network)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p chain.Point
			if err := rows.Scan(&p.Slot, &p.Hash); err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("load cursor: %w", err)
	}
	return out, nil
}

// SaveCursor replaces the network's saved points in one transaction.
func (s *Store) SaveCursor(ctx context.Context, network string, points []chain.Point) error {
	return s.retry(ctx, "save cursor", func(ctx context.Context) error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "DELETE FROM ingest_cursor WHERE network = ?", network); err != nil {
			return fmt.Errorf("clear cursor: %w", err)
		}
		for _, p := range points {
			if _, err := tx.ExecContext(ctx, "INSERT IGNORE INTO ingest_cursor (network, slot_no, hash) VALUES (?, ?, ?)", network, p.Slot, p.Hash); err != nil {
				return fmt.Errorf("insert cursor point: %w", err)
			}
		}
		return tx.Commit()
	})
}

// RollbackTo is the operator's rollback (`nectar rollback`): it refuses a
// point that is not a block on the indexed chain, deletes every row above it
// (Rollback) and moves the network's cursor back to it, keeping the saved
// points below, so that the follower resumes from there.
func (s *Store) RollbackTo(ctx context.Context, network string, p chain.Point) error {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM block WHERE hash = ? AND slot_no = ?", p.Hash, p.Slot).Scan(&n); err != nil {
		return fmt.Errorf("look up the target block: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("no block %x at slot %d in the database: refusing to roll back to a point that is not on the indexed chain", p.Hash, p.Slot)
	}
	if err := s.Rollback(ctx, p); err != nil {
		return err
	}
	points, err := s.LoadCursor(ctx, network)
	if err != nil {
		return err
	}
	keep := []chain.Point{p}
	for _, c := range points {
		if c.Slot < p.Slot {
			keep = append(keep, c)
		}
	}
	return s.SaveCursor(ctx, network, keep)
}
