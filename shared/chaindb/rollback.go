package chaindb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
)

// Rollback is one rollback message: the follower's head was From, and the
// chain now ends at Point. It deletes (Point, From]: what the follower had
// published above Point, and nothing it published after the rollback (history
// batches above From may already be applied when a late rollback arrives).
type Rollback struct {
	ID      []byte
	Network string
	Point   chain.Point
	From    chain.Point
	// At is when the follower saw the rollback (unix nanoseconds): the order
	// of rollbacks. One process, one clock: a later rollback has a larger At.
	At int64
}

// Unbounded is a From slot that deletes everything above Point, for a
// rollback whose upper end the follower cannot know (a re-intersection
// after a crash may follow blocks published after the last saved cursor).
const Unbounded = math.MaxUint64

// Outcome is what Rollback did.
type Outcome int

const (
	// Applied: the rows in (Point, From] were deleted.
	Applied Outcome = iota
	// Repeated: the rollback is in the ledger already (a redelivery); nothing changed.
	Repeated
	// Stale: a rollback the follower saw later is in the ledger; applied, this
	// one would delete what was written after it. Refused, recorded, nothing changed.
	Stale
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Repeated:
		return "repeated"
	}
	return "stale"
}

// Ledger outcomes (ingest_rollback.outcome) and kinds.
const (
	ledgerApplied  = "applied"
	ledgerStale    = "stale"
	ledgerFailed   = "failed"
	ledgerPending  = "pending"
	ledgerFollowed = "followed"
	kindBatch      = "batch"
	kindFollower   = "follower"
	kindOperator   = "operator"
	rollbackInsert = "INSERT INTO ingest_rollback (id, network, kind, slot_no, hash, from_slot, from_hash, seen_at, outcome) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

// Rollback applies a rollback message in one transaction with its row in
// the rollback ledger (ingest_rollback): it deletes every chain row,
// quarantined block and ingest_batch entry in (Point, From] (so that a batch
// re-sent after the rollback with the same id is applied again). Rollbacks
// are ordered operations: one already in the ledger is skipped (Repeated);
// one is refused (Stale) when a rollback the follower saw later is in the
// ledger, or when tip batches that follow it were applied without it (it
// failed, and comes back from a DLQ): applied, it would delete what was
// written after it. A rollback that fails is recorded as failed, so that
// the tip batches behind it wait (ErrRollbackNotApplied) instead of going
// ahead without it. It stays within k of the tip: one transaction holds it.
func (s *Store) Rollback(ctx context.Context, r *Rollback) (Outcome, error) {
	if r.From.Slot < r.Point.Slot {
		return 0, fmt.Errorf("%w: rollback %x to %s from %s, which is below it", ErrMalformedRollback, r.ID, r.Point, r.From)
	}
	var out Outcome
	err := s.retry(ctx, "rollback", func(ctx context.Context) error {
		var err error
		out, err = s.rollbackTx(ctx, r)
		return err
	})
	if err != nil {
		s.recordFailedRollback(r)
		return 0, err
	}
	switch out {
	case Repeated:
		s.log.Info("rollback already applied, skipping", "rollback", fmt.Sprintf("%x", r.ID), "to", r.Point.String(), "from", r.From.String())
	case Stale:
		s.log.Warn("stale rollback refused: a later rollback, or tip batches that follow it, are applied already", "rollback", fmt.Sprintf("%x", r.ID),
			"to", r.Point.String(), "from", r.From.String(), "seen_at", time.Unix(0, r.At).UTC())
	}
	return out, nil
}

// recordFailedRollback notes, as well as it can, that a rollback was tried
// and not applied. It has its own short deadline: the caller's may be spent.
func (s *Store) recordFailedRollback(r *Rollback) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, "INSERT IGNORE"+strings.TrimPrefix(rollbackInsert, "INSERT"), r.ID, r.Network, kindFollower, r.Point.Slot, r.Point.Hash,
		r.From.Slot, r.From.Hash, r.At, ledgerFailed); err != nil {
		s.log.Warn("could not record the failed rollback; the tip batches behind it are checked against the head only", "rollback", fmt.Sprintf("%x", r.ID), "err", err)
	}
}

func (s *Store) rollbackTx(ctx context.Context, r *Rollback) (Outcome, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var outcome string
	err = tx.QueryRowContext(ctx, "SELECT outcome FROM ingest_rollback WHERE id = ? FOR UPDATE", r.ID).Scan(&outcome)
	switch {
	case err == nil && outcome != ledgerFailed && outcome != ledgerFollowed:
		return Repeated, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("read ingest_rollback: %w", err)
	}
	followed := err == nil && outcome == ledgerFollowed // its tip batches went ahead without it
	var later int
	err = tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM ingest_rollback WHERE network = ? AND seen_at > ? AND outcome IN (?, ?)",
		r.Network, r.At, ledgerApplied, ledgerPending).Scan(&later)
	if err != nil {
		return 0, fmt.Errorf("read ingest_rollback: %w", err)
	}
	out, outcome := Applied, ledgerApplied
	if later > 0 || followed {
		out, outcome = Stale, ledgerStale
	} else if err := deleteRange(ctx, tx, r.Point.Slot, r.From.Slot); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, rollbackInsert+" ON DUPLICATE KEY UPDATE kind = VALUES(kind), slot_no = VALUES(slot_no), hash = VALUES(hash), "+
		"from_slot = VALUES(from_slot), from_hash = VALUES(from_hash), seen_at = VALUES(seen_at), outcome = VALUES(outcome)", r.ID, r.Network, kindFollower,
		r.Point.Slot, r.Point.Hash, r.From.Slot, r.From.Hash, r.At, outcome); err != nil {
		return 0, fmt.Errorf("record ingest_rollback: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return out, nil
}

// deleteRange deletes every chain row and quarantined block in (lo, hi] and
// forgets the batches that reach into it.
func deleteRange(ctx context.Context, ex execer, lo, hi uint64) error {
	for _, tab := range chain.Tables {
		if _, err := ex.ExecContext(ctx, "DELETE FROM `"+tab.Name+"` WHERE slot_no > ? AND slot_no <= ?", lo, hi); err != nil {
			return fmt.Errorf("delete from %s: %w", tab.Name, err)
		}
	}
	if _, err := ex.ExecContext(ctx, "DELETE FROM quarantine WHERE slot_no > ? AND slot_no <= ?", lo, hi); err != nil {
		return fmt.Errorf("delete from quarantine: %w", err)
	}
	if _, err := ex.ExecContext(ctx, "DELETE FROM ingest_batch WHERE last_slot > ? AND first_slot <= ?", lo, hi); err != nil {
		return fmt.Errorf("delete from ingest_batch: %w", err)
	}
	return nil
}

// checkTip decides whether a tip batch may be written now (see ApplyBatch);
// followsStart is true when no rollback of b.After was ever seen here (the
// batch follows its run's start, or a rollback that never reached the
// database). The tip route is one FIFO message group: nothing else writes tip
// batches or rollbacks meanwhile, so reading outside the batch's transaction
// is safe.
func (s *Store) checkTip(ctx context.Context, b *Batch) (followsStart bool, err error) {
	var verdict error
	err = s.retry(ctx, "check tip batch", func(ctx context.Context) error {
		var err error
		verdict, followsStart, err = s.tipVerdict(ctx, b)
		return err
	})
	if err != nil {
		return false, err
	}
	return followsStart, verdict
}

func (s *Store) tipVerdict(ctx context.Context, b *Batch) (verdict error, followsStart bool, err error) {
	id := fmt.Sprintf("%x", b.ID)
	var seen int64
	var outcome string
	err = s.db.QueryRowContext(ctx, "SELECT seen_at, outcome FROM ingest_rollback WHERE id = ?", b.After).Scan(&seen, &outcome)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && outcome == ledgerFollowed:
		// No rollback of that id was ever tried here: the batch follows its
		// run's start (a follower's tip batches carry a start id until its
		// first rollback), or a rollback that never reached the database.
		// The head decides, and rollbacks seen since the batch's At (when
		// its run started or saw that rollback; unknown from an old
		// follower). Writing the batch records that it went ahead, so that
		// such a rollback arriving later is stale.
		followsStart, seen = true, b.At
	case err != nil:
		return nil, false, fmt.Errorf("read ingest_rollback: %w", err)
	case outcome == ledgerFailed:
		return fmt.Errorf("%w: batch %s (slots %d-%d) follows rollback %x, which failed", ErrRollbackNotApplied, id, b.First.Slot, b.Last.Slot, b.After), false, nil
	}
	if seen > 0 {
		// A rollback seen after the one this batch follows (or after its
		// run started) that went below its last block abandoned its blocks
		// above that point: a batch delayed, dead-lettered and redriven
		// after the chain moved on.
		var cut uint64
		var cutHash []byte
		err = s.db.QueryRowContext(ctx, "SELECT slot_no, hash FROM ingest_rollback WHERE network = ? AND seen_at > ? AND outcome IN (?, ?) AND slot_no < ? "+
			"ORDER BY slot_no LIMIT 1", b.Network, seen, ledgerApplied, ledgerPending, b.Last.Slot).Scan(&cut, &cutHash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, false, fmt.Errorf("read ingest_rollback: %w", err)
		case cut < b.First.Slot:
			return fmt.Errorf("%w: batch %s (slots %d-%d), rolled back to slot %d since", ErrAbandoned, id, b.First.Slot, b.Last.Slot, cut), false, nil
		case !b.trim(chain.Point{Slot: cut, Hash: cutHash}):
			// The rollback went into the batch's slots to a block not its
			// own: where its blocks leave the chain is unknown. Not written;
			// it stays refused and reaches the DLQ (docs/runbook.md).
			return fmt.Errorf("%w: batch %s (slots %d-%d) straddles slot %d, rolled back to since, and does not hold that block", ErrNotHead, id, b.First.Slot, b.Last.Slot, cut), false, nil
		}
		// Otherwise the rollback went to one of the batch's blocks: the
		// blocks up to it are on the chain (the follower re-sent only what
		// followed it), the rest were abandoned; b now holds the former.
	}
	// The batch must extend the head: between its parent (or, when the parent
	// is not here yet, its first slot) and its last block, nothing but its
	// own blocks.
	lo := b.First.Slot
	var ps uint64
	err = s.db.QueryRowContext(ctx, "SELECT slot_no FROM block WHERE hash = ? UNION ALL SELECT slot_no FROM quarantine WHERE hash = ?", b.PrevHash, b.PrevHash).Scan(&ps)
	switch {
	case err == nil:
		lo = ps + 1
	case !errors.Is(err, sql.ErrNoRows):
		return nil, false, fmt.Errorf("read the parent block: %w", err)
	}
	own := make(map[string]bool, len(b.Blocks)+len(b.Quarantine))
	for _, d := range b.Blocks {
		own[string(d.Hash)] = true
	}
	for _, q := range b.Quarantine {
		own[string(q.Err.Hash)] = true
	}
	rows, err := s.db.QueryContext(ctx, "SELECT slot_no, hash FROM block WHERE slot_no >= ? AND slot_no <= ? "+
		"UNION ALL SELECT slot_no, hash FROM quarantine WHERE slot_no >= ? AND slot_no <= ?", lo, b.Last.Slot, lo, b.Last.Slot)
	if err != nil {
		return nil, false, fmt.Errorf("read blocks above the parent: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p chain.Point
		if err := rows.Scan(&p.Slot, &p.Hash); err != nil {
			return nil, false, fmt.Errorf("read blocks above the parent: %w", err)
		}
		if !own[string(p.Hash)] {
			return fmt.Errorf("%w: batch %s (slots %d-%d, parent %x) would follow block %s of another fork", ErrNotHead, id, b.First.Slot, b.Last.Slot, b.PrevHash, p), false, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read blocks above the parent: %w", err)
	}
	return nil, followsStart, nil
}

// trim keeps the batch's blocks up to p when p is one of them, and reports
// whether it is.
func (b *Batch) trim(p chain.Point) bool {
	at := -1
	for i, d := range b.Blocks {
		if d.Slot == p.Slot && bytes.Equal(d.Hash, p.Hash) {
			at = i
		}
	}
	atQ := slices.IndexFunc(b.Quarantine, func(q chain.Quarantined) bool { return q.Err.Slot == p.Slot && bytes.Equal(q.Err.Hash, p.Hash) })
	if at < 0 && atQ < 0 {
		return false
	}
	b.Blocks = slices.DeleteFunc(b.Blocks, func(d *chain.Decoded) bool { return d.Slot > p.Slot })
	b.Quarantine = slices.DeleteFunc(b.Quarantine, func(q chain.Quarantined) bool { return q.Err.Slot > p.Slot })
	b.Last = p
	return true
}

// DefaultDeleteChunkRows bounds the rows one statement of the operator's
// rollback deletes (Options.DeleteChunkRows): each is its own transaction,
// well inside TiDB Cloud Starter's transaction limits however deep it goes.
const DefaultDeleteChunkRows = 5000

// RollbackTo is the operator's rollback (`nectar rollback`) to p, a block on
// the indexed chain: it deletes every row above p and moves the network's
// cursor back to p, keeping the saved points below, so that the follower
// resumes from there. It is as deep as asked, so it does not run in one
// transaction: it records itself in the rollback ledger first (pending),
// deletes in statements of at most DeleteChunkRows rows, then moves the
// cursor and marks itself applied in one transaction. Interrupted, it is
// finished by running it again with the same point; another point is refused
// until then. Every rollback message the follower saw before it is stale from
// then on. Stop the follower and pause ingestion first (docs/runbook.md).
func (s *Store) RollbackTo(ctx context.Context, network string, p chain.Point) error {
	op, err := s.pendingOperatorRollback(ctx, network)
	if err != nil {
		return err
	}
	switch {
	case op != nil && (op.Point.Slot != p.Slot || string(op.Point.Hash) != string(p.Hash)):
		return fmt.Errorf("%w: the rollback to %s: run it again with that point to finish it first", ErrRollbackUnfinished, op.Point)
	case op != nil:
		s.log.Warn("finishing an interrupted operator rollback", "to", p.String(), "started", time.Unix(0, op.At).UTC())
	default:
		var n int
		err := s.db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM block WHERE hash = ? AND slot_no = ?) + (SELECT COUNT(*) FROM quarantine WHERE hash = ? AND slot_no = ?)",
			p.Hash, p.Slot, p.Hash, p.Slot).Scan(&n)
		if err != nil {
			return fmt.Errorf("look up the target block: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: no block %x at slot %d in the database: refusing to roll back to it", ErrUnknownPoint, p.Hash, p.Slot)
		}
		op = &Rollback{Network: network, Point: p, From: chain.Point{Slot: Unbounded}, At: time.Now().UnixNano()}
		op.ID = operatorID(op)
		err = s.retry(ctx, "record operator rollback", func(ctx context.Context) error {
			_, err := s.db.ExecContext(ctx, rollbackInsert, op.ID, network, kindOperator, p.Slot, p.Hash, op.From.Slot, nil, op.At, ledgerPending)
			return err
		})
		if err != nil {
			return err
		}
	}
	// Blocks first: until the rollback is finished, the cursor's head is
	// missing from the database and verify says so.
	tables := []string{"block"}
	for _, tab := range chain.Tables {
		if tab.Name != "block" {
			tables = append(tables, tab.Name)
		}
	}
	for _, t := range append(tables, "quarantine") {
		if err := s.deleteChunks(ctx, "DELETE FROM `"+t+"` WHERE slot_no > ? LIMIT ?", t, p.Slot); err != nil {
			return err
		}
	}
	if err := s.deleteChunks(ctx, "DELETE FROM ingest_batch WHERE last_slot > ? LIMIT ?", "ingest_batch", p.Slot); err != nil {
		return err
	}
	return s.retry(ctx, "finish operator rollback", func(ctx context.Context) error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "DELETE FROM ingest_cursor WHERE network = ? AND slot_no >= ?", network, p.Slot); err != nil {
			return fmt.Errorf("move cursor: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO ingest_cursor (network, slot_no, hash) VALUES (?, ?, ?)", network, p.Slot, p.Hash); err != nil {
			return fmt.Errorf("move cursor: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE ingest_rollback SET outcome = ? WHERE id = ?", ledgerApplied, op.ID); err != nil {
			return fmt.Errorf("update ingest_rollback: %w", err)
		}
		return tx.Commit()
	})
}

// deleteChunks runs a DELETE ... LIMIT until it deletes fewer rows than the
// limit; each statement commits on its own.
func (s *Store) deleteChunks(ctx context.Context, query, table string, slot uint64) error {
	limit := s.opts.DeleteChunkRows
	for {
		var n int64
		err := s.retry(ctx, "delete from "+table, func(ctx context.Context) error {
			res, err := s.db.ExecContext(ctx, query, slot, limit)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return err
		}
		s.stats.statements.Add(1)
		if n < int64(limit) {
			return nil
		}
	}
}

func (s *Store) pendingOperatorRollback(ctx context.Context, network string) (*Rollback, error) {
	r := &Rollback{Network: network}
	err := s.retry(ctx, "read ingest_rollback", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, "SELECT id, slot_no, hash, from_slot, seen_at FROM ingest_rollback WHERE network = ? AND kind = ? AND outcome = ? ORDER BY seen_at LIMIT 1",
			network, kindOperator, ledgerPending).Scan(&r.ID, &r.Point.Slot, &r.Point.Hash, &r.From.Slot, &r.At)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// operatorID is the ledger id of an operator rollback: its point and start.
func operatorID(r *Rollback) []byte {
	h := sha256.New()
	h.Write([]byte("nectar operator rollback\x00" + r.Network + "\x00"))
	h.Write(binary.BigEndian.AppendUint64(nil, r.Point.Slot))
	h.Write(r.Point.Hash)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(r.At)))
	return h.Sum(nil)
}
