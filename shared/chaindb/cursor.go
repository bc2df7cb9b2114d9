package chaindb

import (
	"context"
	"database/sql"
	"errors"
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

// LoadTipMark returns the follower's tip mark for a network: the highest
// slot it may have published on the tip route (0 when it never did).
func (s *Store) LoadTipMark(ctx context.Context, network string) (uint64, error) {
	var slot uint64
	err := s.retry(ctx, "load tip mark", func(ctx context.Context) error {
		err := s.db.QueryRowContext(ctx, "SELECT slot_no FROM ingest_tip_mark WHERE network = ?", network).Scan(&slot)
		if errors.Is(err, sql.ErrNoRows) {
			slot = 0
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("load tip mark: %w", err)
	}
	return slot, nil
}

// SaveTipMark raises the network's tip mark to slot; it never lowers it.
func (s *Store) SaveTipMark(ctx context.Context, network string, slot uint64) error {
	err := s.retry(ctx, "save tip mark", func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, "INSERT INTO ingest_tip_mark (network, slot_no) VALUES (?, ?) "+
			"ON DUPLICATE KEY UPDATE slot_no = GREATEST(slot_no, VALUES(slot_no))", network, slot)
		return err
	})
	if err != nil {
		return fmt.Errorf("save tip mark: %w", err)
	}
	return nil
}
