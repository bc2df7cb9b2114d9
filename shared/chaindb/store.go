// Package chaindb is Nectar's chain tables in any MySQL-protocol database
// (TiDB, MariaDB): batches applied atomically with their ingest_batch row,
// rollbacks, the follower's cursor, verify, content checksums, and error
// classification by error number.
package chaindb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nectar-indexer/nectar/shared/backoff"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// Defaults for Options.
const (
	DefaultStatementRows  = 1000
	DefaultStatementBytes = 2 << 20
	DefaultMaxAttempts    = 8
	DefaultBackoffBase    = 100 * time.Millisecond
	DefaultBackoffMax     = 5 * time.Second
)

// Options tune a Store. Zero values take the defaults.
type Options struct {
	// StatementRows is the starting number of rows in one multi-row INSERT;
	// it adapts between MinStatementRows and MaxStatementRows (equal values fix
	// it). StatementBytes caps a statement's size whatever the rows.
	StatementRows    int
	MinStatementRows int
	MaxStatementRows int
	StatementBytes   int
	// MaxAttempts bounds retries of one transaction on transient errors.
	MaxAttempts int
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// DeleteChunkRows bounds the rows one statement of RollbackTo deletes
	// (DefaultDeleteChunkRows).
	DeleteChunkRows int
	// TxnBytes is the estimated payload (PayloadBytes of the rows written in
	// the transaction: all but the shared ones) ApplyBatches
	// gathers history batches into before it starts another transaction
	// (DefaultTxnBytes); MaxTxnBytes caps one transaction
	// (DefaultMaxTxnBytes, and at least TxnBytes).
	TxnBytes    int
	MaxTxnBytes int
	Logger      *slog.Logger
}

// SharedStatementRows caps the upserts of shared rows, which concurrent
// writers contend for: short statements hold their row locks briefly.
const SharedStatementRows = 256

// Store applies batches and rollbacks. It is safe for concurrent use: many
// writers may apply history batches at once.
type Store struct {
	db    *sql.DB
	opts  Options
	log   *slog.Logger
	sizer *Sizer
	stats storeStats
	// groupRate is the payload bytes per second of the transactions of
	// several batches so far (float64 bits), for fits.
	groupRate atomic.Uint64
	// insertPrefix and insertSuffix hold each chain table's statement text.
	insertPrefix [chain.NumTables]string
	insertSuffix [chain.NumTables]string
}

// New returns a Store writing through db. The db must use a driver config with
// InterpolateParams (one round trip per statement) and a schema migrated by
// package schema.
func New(db *sql.DB, opts Options) *Store {
	if opts.StatementRows <= 0 {
		opts.StatementRows = DefaultStatementRows
	}
	if opts.MinStatementRows <= 0 {
		opts.MinStatementRows = DefaultMinStatementRows
	}
	if opts.MaxStatementRows <= 0 {
		opts.MaxStatementRows = DefaultMaxStatementRows
	}
	if opts.StatementBytes <= 0 {
		opts.StatementBytes = DefaultStatementBytes
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.DeleteChunkRows <= 0 {
		opts.DeleteChunkRows = DefaultDeleteChunkRows
	}
	if opts.TxnBytes <= 0 {
		opts.TxnBytes = DefaultTxnBytes
	}
	if opts.MaxTxnBytes <= 0 {
		opts.MaxTxnBytes = max(DefaultMaxTxnBytes, opts.TxnBytes)
	}
	opts.MaxTxnBytes = max(opts.MaxTxnBytes, opts.TxnBytes)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, opts: opts, log: log,
		sizer: NewSizer(opts.StatementRows, opts.MinStatementRows, opts.MaxStatementRows)}
	for t, tab := range chain.Tables {
		cols := make([]string, len(tab.Columns))
		for i, c := range columnOrder[t] {
			cols[i] = "`" + tab.Columns[c] + "`"
		}
		s.insertPrefix[t] = "INSERT INTO `" + tab.Name + "` (" + strings.Join(cols, ",") + ") VALUES "
		if tab.Shared {
			// Shared rows converge whatever order batches arrive in: keep the earliest slot.
			s.insertSuffix[t] = " ON DUPLICATE KEY UPDATE `slot_no` = LEAST(`slot_no`, VALUES(`slot_no`))"
		} else {
			// A block re-sent inside a differently cut batch carries identical rows.
			k := "`" + tab.Key[0] + "`"
			s.insertSuffix[t] = " ON DUPLICATE KEY UPDATE " + k + " = " + k
		}
	}
	return s
}

// DB returns the underlying pool.
func (s *Store) DB() *sql.DB { return s.db }

// Batch is a contiguous run of decoded blocks, applied all or nothing.
type Batch struct {
	// ID is derived from the batch's content; a recorded ID is never applied twice.
	ID       []byte
	Network  string
	First    chain.Point
	Last     chain.Point
	PrevHash []byte
	// After is the id of the rollback a tip batch follows (nil for history
	// batches, and for tip batches before a follower's first rollback). A
	// batch with After is checked against the rollback ledger and the head
	// before it is written (see ApplyBatch).
	After []byte
	// At is when the follower saw that rollback, or started (0: unknown):
	// a rollback seen after it abandoned the batch's blocks above its point.
	At         int64
	Blocks     []*chain.Decoded
	Quarantine []chain.Quarantined
}

// ErrEmptyBatch is returned for a batch with no blocks.
var ErrEmptyBatch = errors.New("batch has no blocks")

// ApplyBatch writes a batch in one transaction together with its ingest_batch
// row. It returns applied=false when the batch was already recorded. Rows
// shared between batches are written first in short autocommit statements
// that converge whatever the order. A batch too large for one transaction is
// split in halves, each recorded under a derived id, the whole recorded last.
//
// A tip batch (After set) is ordered after its rollback and must extend the
// head; before anything is written it is refused with ErrRollbackNotApplied
// while that rollback is not in the rollback ledger, with ErrNotHead while
// blocks that are not its own lie between its parent and its last block,
// and with ErrAbandoned when a rollback the follower saw after sending it
// rolled the chain back below its blocks (such a batch never applies: the
// caller acknowledges it). The first two clear once the operations that must
// come first are applied: retry them.
func (s *Store) ApplyBatch(ctx context.Context, b *Batch) (applied bool, err error) {
	if len(b.Blocks)+len(b.Quarantine) == 0 {
		return false, ErrEmptyBatch
	}
	if done, err := s.recorded(ctx, b.ID); err != nil || done {
		return false, err
	}
	var followsStart bool
	if len(b.After) > 0 {
		if followsStart, err = s.checkTip(ctx, b); err != nil {
			return false, err
		}
	}
	var rows chain.Rows
	for _, d := range b.Blocks {
		rows.Append(&d.Rows)
	}
	rows.Dedup()
	err = s.retry(ctx, "write shared rows", func(ctx context.Context) error { return s.writeShared(ctx, &rows) })
	if err != nil {
		return false, err
	}
	err = s.retry(ctx, "apply batch", func(ctx context.Context) error {
		var e error
		applied, e = s.applyTx(ctx, b, &rows, followsStart)
		return e
	})
	if err != nil && Classify(err) == Split && len(b.Blocks) > 1 {
		s.log.Warn("batch too large for one transaction, splitting", "batch", fmt.Sprintf("%x", b.ID), "blocks", len(b.Blocks))
		return s.applySplit(ctx, b)
	}
	return applied, err
}

func (s *Store) applySplit(ctx context.Context, b *Batch) (bool, error) {
	mid := len(b.Blocks) / 2
	for i, part := range [][]*chain.Decoded{b.Blocks[:mid], b.Blocks[mid:]} {
		sub := &Batch{ID: subID(b.ID, i), Network: b.Network, Blocks: part,
			First: chain.Point{Slot: part[0].Slot, Hash: part[0].Hash},
			Last:  chain.Point{Slot: part[len(part)-1].Slot, Hash: part[len(part)-1].Hash}}
		if i == 0 {
			sub.PrevHash, sub.Quarantine = b.PrevHash, b.Quarantine
		} else {
			sub.PrevHash = b.Blocks[mid-1].Hash
		}
		if _, err := s.ApplyBatch(ctx, sub); err != nil {
			return false, fmt.Errorf("apply part %d of split batch: %w", i, err)
		}
	}
	err := s.retry(ctx, "record split batch", func(ctx context.Context) error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := s.recordBatch(ctx, tx, b); err != nil {
			return err
		}
		return tx.Commit()
	})
	return err == nil, err
}

func subID(id []byte, part int) []byte {
	h := sha256.Sum256(append(append([]byte{}, id...), '/', byte('0'+part)))
	return h[:]
}

func (s *Store) recorded(ctx context.Context, id []byte) (bool, error) {
	var n int
	err := s.retry(ctx, "check ingest_batch", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ingest_batch WHERE id = ?", id).Scan(&n)
	})
	return n > 0, err
}

func (s *Store) writeShared(ctx context.Context, rows *chain.Rows) error {
	for t, tab := range chain.Tables {
		if !tab.Shared || len(rows[t]) == 0 {
			continue
		}
		// Concurrent writers upsert overlapping keys: taking the row locks in
		// key order everywhere turns would-be deadlocks into short waits, and
		// small statements hold them briefly.
		sortByKey(chain.TableID(t), rows[t])
		for part := range slices.Chunk(rows[t], SharedStatementRows) {
			if err := s.insertRows(ctx, s.db, chain.TableID(t), part); err != nil {
				return err
			}
		}
	}
	return nil
}

// execer is what insertRows needs from a pool or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// applyTx writes the batch. followed records, with it, that a tip batch
// followed b.After before any rollback of that id was seen (see Rollback).
func (s *Store) applyTx(ctx context.Context, b *Batch, rows *chain.Rows, followed bool) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	// Record the batch first: a concurrent writer of the same batch then waits
	// on this row's lock and finds it taken instead of writing everything twice.
	fresh, err := s.recordBatch(ctx, tx, b)
	if err != nil || !fresh {
		return false, err
	}
	if followed {
		if _, err := tx.ExecContext(ctx, "INSERT IGNORE"+strings.TrimPrefix(rollbackInsert, "INSERT"), b.After, b.Network, kindBatch,
			b.First.Slot, nil, b.First.Slot, nil, 0, ledgerFollowed); err != nil {
			return false, fmt.Errorf("insert ingest_rollback: %w", err)
		}
	}
	for t, tab := range chain.Tables {
		if tab.Shared || len(rows[t]) == 0 {
			continue
		}
		if err := s.insertRows(ctx, tx, chain.TableID(t), rows[t]); err != nil {
			return false, err
		}
	}
	if err := insertQuarantine(ctx, tx, b); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// insertQuarantine writes the batch's undecodable blocks.
func insertQuarantine(ctx context.Context, ex execer, b *Batch) error {
	for _, q := range b.Quarantine {
		e := q.Err
		_, err := ex.ExecContext(ctx, "INSERT INTO quarantine (hash, slot_no, block_type, prev_hash, network, error, cbor) "+
			"VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE hash = hash",
			e.Hash, e.Slot, uint64(e.BlockType), e.PrevHash, b.Network, e.Err.Error(), q.CBOR)
		if err != nil {
			return fmt.Errorf("insert quarantine: %w", err)
		}
	}
	return nil
}

// recordBatch inserts the batch's ingest_batch row; fresh is false when
// another writer recorded it first.
func (s *Store) recordBatch(ctx context.Context, tx execer, b *Batch) (fresh bool, err error) {
	res, err := tx.ExecContext(ctx, "INSERT IGNORE INTO ingest_batch (id, network, first_slot, first_hash, last_slot, last_hash, prev_hash, block_count) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		b.ID, b.Network, b.First.Slot, b.First.Hash, b.Last.Slot, b.Last.Hash, b.PrevHash, uint64(len(b.Blocks)+len(b.Quarantine)))
	if err != nil {
		return false, fmt.Errorf("insert ingest_batch: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert ingest_batch: %w", err)
	}
	return n == 1, nil
}

// insertRows writes rows of one table as multi-row statements capped by rows and bytes.
func (s *Store) insertRows(ctx context.Context, ex execer, t chain.TableID, rows [][]any) error {
	prefix, suffix, order := s.insertPrefix[t], s.insertSuffix[t], columnOrder[t]
	ncol := len(chain.Tables[t].Columns)
	tuple := "(" + strings.Repeat("?,", ncol-1) + "?)"
	var sb strings.Builder
	args := make([]any, 0, ncol*min(len(rows), s.opts.MaxStatementRows))
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		sb.WriteString(suffix)
		start := time.Now()
		if _, err := ex.ExecContext(ctx, sb.String(), args...); err != nil {
			if c := Classify(err); c == Throttle || c == Retry || c == Split {
				s.sizer.Backoff()
			}
			return fmt.Errorf("insert %s: %w", chain.Tables[t].Name, err)
		}
		d := time.Since(start)
		s.sizer.Observe(len(args)/ncol, d)
		s.stats.statements.Add(1)
		s.stats.dbTime.Add(int64(d))
		sb.Reset()
		args = args[:0]
		return nil
	}
	n, size := 0, 0
	limit := s.sizer.Rows()
	for _, row := range rows {
		rs := rowSize(row)
		if n > 0 && (n >= limit || size+rs > s.opts.StatementBytes) {
			if err := flush(); err != nil {
				return err
			}
			n, size = 0, 0
			limit = s.sizer.Rows()
		}
		if n == 0 {
			sb.WriteString(prefix)
		} else {
			sb.WriteByte(',')
		}
		sb.WriteString(tuple)
		for _, c := range order {
			args = append(args, row[c])
		}
		n++
		size += rs
	}
	return flush()
}

// columnOrder is the order of each chain table's columns in its INSERTs:
// slot_no first. TiDB's statement digest folds a multi-row VALUES list into
// one "( ... )" only when each row starts with a plain literal, not with a
// character set introducer (the driver sends bytes as _binary'...', and most
// rows start with a hash): otherwise every row count is a digest of its own,
// thousands per table, which flood the statement summary (3,000 entries)
// and push out everyone's statistics.
var columnOrder = func() (order [chain.NumTables][]int) {
	for t, tab := range chain.Tables {
		slot := slices.Index(tab.Columns, "slot_no")
		order[t] = append(order[t], slot)
		for i := range tab.Columns {
			if i != slot {
				order[t] = append(order[t], i)
			}
		}
	}
	return order
}()

// rowSize estimates the bytes a row takes in an interpolated statement.
func rowSize(row []any) int {
	n := 2
	for _, v := range row {
		switch x := v.(type) {
		case []byte:
			n += 2*len(x) + 10
		case string:
			n += len(x) + 3
		default:
			n += 21
		}
	}
	return n
}

// retry runs op until it succeeds, fails with an error that is not
// transient, runs out of attempts, or ctx ends. Backoff is exponential,
// capped and jittered.
func (s *Store) retry(ctx context.Context, what string, op func(context.Context) error) error {
	return s.retryWhen(ctx, what, op, nil)
}

// retryWhen is retry that also gives up on a transient error when also is
// set and returns false for it.
func (s *Store) retryWhen(ctx context.Context, what string, op func(context.Context) error, also func(error) bool) error {
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		class := Classify(err)
		if (class != Retry && class != Throttle) || (also != nil && !also(err)) || attempt >= s.opts.MaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("%s (attempt %d, %s): %w", what, attempt, class, err)
		}
		s.stats.retries.Add(1)
		if class == Throttle {
			s.stats.throttles.Add(1)
		}
		wait := backoff.Wait(s.opts.BackoffBase, s.opts.BackoffMax, attempt)
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return fmt.Errorf("%s (attempt %d, %s, no time left to retry): %w", what, attempt, class, err)
		}
		s.log.Warn("transient database error, retrying", "op", what, "attempt", attempt, "class", class.String(), "wait", wait, "err", err)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// Stats counts what the store did since it was created.
type Stats struct {
	Statements    int64
	Retries       int64
	Throttles     int64
	DBTime        time.Duration
	StatementRows int // the adaptive statement size now
	// GroupTxns counts the committed transactions of several batches
	// (ApplyBatches), GroupBatches the batches in them and GroupBytes their
	// estimated payload (as TxnBytes counts it). GroupSplits counts groups cut in
	// halves (too large, or no time for them whole), GroupFallbacks groups
	// applied batch by batch after a failure.
	GroupTxns, GroupBatches, GroupBytes int64
	GroupSplits, GroupFallbacks         int64
}

type storeStats struct {
	statements, retries, throttles, dbTime atomic.Int64
	groupTxns, groupBatches, groupBytes    atomic.Int64
	groupSplits, groupFallbacks            atomic.Int64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Statements: s.stats.statements.Load(), Retries: s.stats.retries.Load(),
		Throttles: s.stats.throttles.Load(), DBTime: time.Duration(s.stats.dbTime.Load()), StatementRows: s.sizer.Rows(),
		GroupTxns: s.stats.groupTxns.Load(), GroupBatches: s.stats.groupBatches.Load(), GroupBytes: s.stats.groupBytes.Load(),
		GroupSplits: s.stats.groupSplits.Load(), GroupFallbacks: s.stats.groupFallbacks.Load()}
}

func sortByKey(t chain.TableID, rows [][]any) {
	keys := make(map[*any]string, len(rows))
	for _, r := range rows {
		keys[&r[0]] = chain.Key(t, r)
	}
	slices.SortFunc(rows, func(a, b []any) int { return strings.Compare(keys[&a[0]], keys[&b[0]]) })
}
