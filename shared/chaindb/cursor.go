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
